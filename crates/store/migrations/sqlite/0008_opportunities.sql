-- Opportunities (SQLite flavour; ../postgres holds the same table): a possible sale to a
-- customer with its stage, amount, probability and expected close, for the pipeline and forecast.

CREATE TABLE opportunities (
    id             INTEGER PRIMARY KEY,
    customer_id    INTEGER NOT NULL REFERENCES customers (id),
    name           TEXT NOT NULL,
    stage          TEXT NOT NULL CHECK (stage IN ('prospecting', 'qualification', 'proposal', 'negotiation', 'won', 'lost')),
    amount_cents   INTEGER NOT NULL CHECK (amount_cents >= 0),
    probability    INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
    expected_close TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    closed_at      TEXT
);
CREATE INDEX opportunities_by_customer ON opportunities (customer_id, id);
CREATE INDEX opportunities_open ON opportunities (expected_close) WHERE stage NOT IN ('won', 'lost');
