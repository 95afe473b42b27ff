-- 1,000 products with ids 1..1000. Everything is arithmetic on the id, so the
-- data is the same on every run.
--   category: 1 + (id * 7) % 12
--   price:    199 + (id * 7919) % 20000 cents
--   stock:    (id * 37) % 250            (0 for ids 250, 500, 750, 1000)
--   active:   false for every 50th product
INSERT INTO products (id, sku, name, category_id, price_cents, stock, active)
SELECT p,
       'SKU-' || lpad(p::text, 5, '0'),
       (ARRAY['Red', 'Blue', 'Green', 'Black', 'White', 'Silver', 'Golden', 'Tiny',
              'Giant', 'Classic', 'Deluxe'])[1 + (p * 3) % 11]
         || ' '
         || (ARRAY['Widget', 'Gadget', 'Lamp', 'Chair', 'Kettle', 'Clock', 'Drone',
                   'Puzzle', 'Jacket', 'Racket', 'Speaker', 'Notebook', 'Mug'])[1 + (p * 5) % 13]
         || ' ' || p,
       1 + (p * 7) % 12,
       199 + (p * 7919) % 20000,
       (p * 37) % 250,
       p % 50 <> 0
FROM generate_series(1, 1000) AS p;
