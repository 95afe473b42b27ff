-- 100,000 order items: order o has 1 + (7 o) % 4 lines (1..4, 2.5 on average).
-- Line k of order o is product 1 + (7919 o + 104729 k) % 1000; for k = 1..4
-- these are always distinct, so (order_id, product_id) stays unique.
-- The line's unit price is the product's current price.
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
SELECT o, p.id, 1 + (3 * o + 5 * k) % 4, p.price_cents
FROM generate_series(1, 40000) AS o
CROSS JOIN LATERAL generate_series(1, 1 + (7 * o) % 4) AS k
JOIN products p ON p.id = 1 + (7919 * o + 104729 * k) % 1000;
