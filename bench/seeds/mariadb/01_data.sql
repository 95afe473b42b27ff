-- 151,012 rows, as many as the shop example's PostgreSQL seed.
INSERT INTO categories (name) SELECT concat('Category ', seq) FROM seq_1_to_12;
INSERT INTO products (sku, name, category_id, price_cents, stock)
    SELECT concat('SKU-', seq), concat('Product ', seq), 1 + seq % 12, 100 + seq * 7 % 9900, seq % 50
    FROM seq_1_to_5000;
INSERT INTO customers (email, name, country, created_at)
    SELECT concat('customer', seq, '@example.com'), concat('Customer ', seq),
           elt(1 + seq % 5, 'DE', 'FR', 'US', 'JP', 'BR'),
           '2024-01-01' + INTERVAL (seq % 365) DAY
    FROM seq_1_to_20000;
INSERT INTO orders (customer_id, status, placed_at)
    SELECT 1 + seq % 20000, elt(1 + seq % 3, 'placed', 'paid', 'shipped'),
           '2024-06-01' + INTERVAL (seq % 180) DAY
    FROM seq_1_to_40000;
INSERT INTO order_items (order_id, product_id, quantity, price_cents)
    SELECT o.seq, 1 + (o.seq * 7 + i.seq) % 5000, 1 + (o.seq + i.seq) % 4, 500
    FROM seq_1_to_40000 AS o JOIN seq_0_to_1 AS i
    UNION ALL
    SELECT o.seq, 1 + (o.seq * 7 + 2) % 5000, 1, 700
    FROM seq_1_to_6000 AS o;
