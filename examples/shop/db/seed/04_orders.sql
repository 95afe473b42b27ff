-- 40,000 orders with ids 1..40000 placed during 2024 (UTC).
--   customer: every 4th order comes from one of the 500 "regulars" (ids
--             1..500); the others are spread over all customers, unevenly, so
--             a few hundred customers never ordered anything.
--   status:   cancelled if o % 17 = 0, else pending if o % 5 = 0, else shipped
--             if o % 3 = 0, else paid.
INSERT INTO orders (id, customer_id, status, created_at)
SELECT o,
       CASE WHEN o % 4 = 0 THEN 1 + ((o / 4)::bigint * (o / 4) % 7919) % 500
            ELSE 1 + (7919 * o::bigint + o::bigint * o / 1000) % 10000 END,
       CASE WHEN o % 17 = 0 THEN 'cancelled'
            WHEN o % 5 = 0 THEN 'pending'
            WHEN o % 3 = 0 THEN 'shipped'
            ELSE 'paid' END,
       timestamptz '2024-01-01 00:00:00+00'
         + make_interval(mins => (o * 7919) % 527040)
FROM generate_series(1, 40000) AS o;
