-- The shop example's schema, in MariaDB's dialect, for the MariaDB rows of the
-- benchmark. The data files generate rows from the SEQUENCE engine (seq_1_to_N).

CREATE TABLE categories (
    id    int AUTO_INCREMENT PRIMARY KEY,
    name  varchar(100) NOT NULL UNIQUE
);

CREATE TABLE customers (
    id          bigint AUTO_INCREMENT PRIMARY KEY,
    email       varchar(200) NOT NULL UNIQUE,
    name        varchar(200) NOT NULL,
    country     char(2) NOT NULL,
    created_at  datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    KEY customers_country_idx (country)
);

CREATE TABLE products (
    id          int AUTO_INCREMENT PRIMARY KEY,
    sku         varchar(40) NOT NULL UNIQUE,
    name        varchar(200) NOT NULL,
    category_id int NOT NULL REFERENCES categories (id),
    price_cents int NOT NULL CHECK (price_cents >= 0),
    stock       int NOT NULL CHECK (stock >= 0),
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE orders (
    id           bigint AUTO_INCREMENT PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers (id),
    status       varchar(20) NOT NULL,
    placed_at    datetime NOT NULL,
    KEY orders_customer_idx (customer_id)
);

CREATE TABLE order_items (
    order_id     bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id   int NOT NULL REFERENCES products (id),
    quantity     int NOT NULL CHECK (quantity > 0),
    price_cents  int NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
