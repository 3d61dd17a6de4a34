-- Saved weighted value-score models (patron_value::score TOML), SQLite flavour; the same table
-- as ../postgres. Each save adds a row; the newest row (highest id) is the model in force, so
-- the table is also the model's history.
CREATE TABLE score_models (
    id       INTEGER PRIMARY KEY,
    toml     TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    note     TEXT
);
