-- Patron schema, SQLite flavour. The PostgreSQL flavour (../postgres) holds the same tables and
-- columns; there every table hanging off a customer is keyed by (customer_id, ...) so that it can
-- be distributed by customer (Citus). Money is integer cents; dates are ISO text here.

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    username     TEXT NOT NULL UNIQUE,
    display_name TEXT,
    created_at   TEXT NOT NULL
);

CREATE TABLE customers (
    id                       INTEGER PRIMARY KEY,
    number                   TEXT NOT NULL UNIQUE,
    name                     TEXT NOT NULL,
    company                  TEXT,
    industry                 TEXT,
    region                   TEXT,
    address                  TEXT,
    phone                    TEXT,
    fax                      TEXT,
    email                    TEXT,
    employees                INTEGER,
    registered_capital_cents INTEGER,
    awards                   TEXT,
    source                   TEXT,
    tags                     TEXT NOT NULL DEFAULT '[]',
    custom_fields            TEXT NOT NULL DEFAULT '{}',
    status                   TEXT NOT NULL DEFAULT 'lead'
                             CHECK (status IN ('lead', 'tracking', 'intent', 'won')),
    loyalty                  TEXT NOT NULL DEFAULT 'none'
                             CHECK (loyalty IN ('loyal', 'switcher', 'none')),
    owner_id                 INTEGER REFERENCES users (id),
    credit_rating            TEXT,
    credit_limit_cents       INTEGER,
    marketing_opt_out        INTEGER NOT NULL DEFAULT 0,
    referred_by              INTEGER,
    phone_key                TEXT,
    email_key                TEXT,
    name_key                 TEXT,
    merged_into              INTEGER,
    version                  INTEGER NOT NULL DEFAULT 1,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);
CREATE INDEX customers_by_name ON customers (name, id);
CREATE INDEX customers_by_phone ON customers (phone_key) WHERE phone_key IS NOT NULL;
CREATE INDEX customers_by_email ON customers (email_key) WHERE email_key IS NOT NULL;
CREATE INDEX customers_by_name_key ON customers (name_key) WHERE name_key IS NOT NULL;
CREATE INDEX customers_by_owner ON customers (owner_id, id);

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    name        TEXT NOT NULL,
    title       TEXT,
    phone       TEXT,
    email       TEXT,
    is_primary  INTEGER NOT NULL DEFAULT 0,
    notes       TEXT
);
CREATE INDEX contacts_by_customer ON contacts (customer_id, id);

-- One row per order line; an order is the lines sharing (customer_id, order_ref). The natural key
-- makes repeated imports idempotent, and is the only b-tree written by a bulk import.
CREATE TABLE order_lines (
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    order_ref    TEXT NOT NULL,
    line_no      INTEGER NOT NULL,
    ordered_on   TEXT NOT NULL,
    category     TEXT,
    quantity     INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    cost_cents   INTEGER NOT NULL,
    PRIMARY KEY (customer_id, order_ref, line_no)
) WITHOUT ROWID;
CREATE INDEX order_lines_by_date ON order_lines (ordered_on);

CREATE TABLE interactions (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    kind        TEXT NOT NULL CHECK (kind IN ('visit', 'call', 'email', 'meeting', 'quote',
                                              'promise', 'complaint', 'suggestion', 'request')),
    occurred_at TEXT NOT NULL,
    by_name     TEXT,
    contact_id  INTEGER,
    body        TEXT NOT NULL,
    external_id TEXT
);
CREATE INDEX interactions_by_customer ON interactions (customer_id, occurred_at);
CREATE UNIQUE INDEX interactions_external ON interactions (customer_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE customer_history (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT
);
CREATE INDEX customer_history_by_customer ON customer_history (customer_id, id);
