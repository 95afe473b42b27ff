-- Move every identity sequence past the seeded ids, so that rows inserted by
-- the application (and the tests) get fresh ids, then refresh planner
-- statistics so the snapshot starts with a well-analyzed database.
SELECT setval(pg_get_serial_sequence('categories', 'id'), (SELECT max(id) FROM categories));
SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products));
SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers));
SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders));

ANALYZE;
