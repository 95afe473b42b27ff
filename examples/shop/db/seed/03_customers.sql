-- 10,000 customers with ids 1..10000 and e-mails customerN@example.com.
INSERT INTO customers (id, email, name, country, created_at)
SELECT c,
       'customer' || c || '@example.com',
       (ARRAY['Ada', 'Alan', 'Grace', 'Linus', 'Barbara', 'Dennis', 'Edsger', 'Margaret',
              'Ken', 'Frances', 'Donald', 'Radia', 'John', 'Sophie', 'Guido', 'Anita',
              'Bjarne'])[1 + (c * 7) % 17]
         || ' '
         || (ARRAY['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Liskov', 'Ritchie',
                   'Dijkstra', 'Hamilton', 'Thompson', 'Allen', 'Knuth', 'Perlman',
                   'McCarthy', 'Wilson', 'van Rossum', 'Borg', 'Stroustrup', 'Goldberg',
                   'Kay'])[1 + (c * 11) % 19],
       (ARRAY['US', 'US', 'US', 'DE', 'DE', 'GB', 'GB', 'FR', 'NL', 'SE', 'JP', 'BR', 'CA'])[1 + (c * 7) % 13],
       timestamptz '2023-01-01 00:00:00+00'
         + make_interval(days => (c * 47) % 730, mins => (c * 13) % 1440)
FROM generate_series(1, 10000) AS c;
