-- Indexes a bulk import has set aside (dropped) while it loads, with their definitions, so
-- that they are built again once it ends, or when the database is next opened after an import
-- was killed (see `Store::set_aside_customer_indexes`). PostgreSQL's bulk customer creation
-- uses it; the SQLite flavour holds the same table, empty (one schema for both).

CREATE TABLE set_aside_indexes (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);
