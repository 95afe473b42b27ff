-- 12 categories with fixed ids 1..12.
INSERT INTO categories (id, name)
SELECT i, (ARRAY['Books', 'Music', 'Movies', 'Games', 'Electronics', 'Computers',
                 'Home', 'Garden', 'Toys', 'Sports', 'Clothing', 'Food'])[i]
FROM generate_series(1, 12) AS i;
