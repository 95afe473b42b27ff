-- 50,000 users with ids 1..50000, spread over the teams.
INSERT INTO users (id, team_id, email, name, active, created_at)
SELECT u,
       1 + (u * 7) % 200,
       'user' || u || '@example.org',
       (ARRAY['Ada', 'Alan', 'Grace', 'Linus', 'Barbara', 'Dennis', 'Edsger', 'Margaret',
              'Ken', 'Frances', 'Donald', 'Radia', 'John'])[1 + (u * 5) % 13]
         || ' '
         || (ARRAY['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Liskov', 'Ritchie',
                   'Dijkstra', 'Hamilton', 'Thompson', 'Allen', 'Knuth'])[1 + (u * 3) % 11],
       u % 23 <> 0,
       timestamptz '2022-01-01 00:00:00+00' + make_interval(mins => (u * 7919) % 1051200)
FROM generate_series(1, 50000) AS u;
