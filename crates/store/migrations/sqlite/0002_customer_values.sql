-- Stored customer-value figures (patron-value), SQLite flavour; the same tables as ../postgres.
-- `customer_values` holds one row per customer with orders, replaced as a whole by each refresh;
-- `value_snapshots` keeps each refresh's options and population figures (model parameters, RFM
-- grid, ABC classes, whale curve, loyalty counts, churn list) as JSON, newest = highest id.
-- customer_id is no foreign key: a customer deleted while a refresh runs must not fail the
-- refresh (reads join customers; deleting a customer deletes its row).
-- Money figures of the ledger (revenue, cost, margin) are integer cents; model outputs (CLV,
-- expected spend, value at risk) are floating point in currency units.

CREATE TABLE customer_values (
    customer_id        INTEGER PRIMARY KEY,
    computed_at        TEXT NOT NULL,
    unit               TEXT NOT NULL CHECK (unit IN ('day', 'week')),
    calibration_end    TEXT NOT NULL,
    frequency          REAL,
    recency            REAL,
    t                  REAL,
    monetary_value     REAL,
    orders             INTEGER NOT NULL,
    revenue_cents      INTEGER NOT NULL,
    cost_cents         INTEGER NOT NULL,
    margin_cents       INTEGER NOT NULL,
    rfm_r              INTEGER,
    rfm_f              INTEGER,
    rfm_m              INTEGER,
    rfm_segment        TEXT,
    abc_class          TEXT NOT NULL CHECK (abc_class IN ('A', 'B', 'C')),
    p_alive            REAL,
    expected_purchases REAL,
    expected_spend     REAL,
    clv                REAL,
    loyalty_stage      TEXT,
    lifecycle_phase    TEXT,
    churn_kinds        TEXT,
    churn_reasons      TEXT NOT NULL DEFAULT '[]',
    churn_risk         INTEGER NOT NULL DEFAULT 0,
    value_at_risk      REAL NOT NULL DEFAULT 0,
    score              REAL,
    grade              TEXT CHECK (grade IN ('A', 'B', 'C', 'D', 'E'))
);
CREATE INDEX customer_values_by_abc ON customer_values (abc_class, customer_id);
CREATE INDEX customer_values_by_segment ON customer_values (rfm_segment, customer_id);
CREATE INDEX customer_values_by_grade ON customer_values (grade, customer_id);
CREATE INDEX customer_values_by_stage ON customer_values (loyalty_stage, customer_id);
CREATE INDEX customer_values_by_churn ON customer_values (churn_risk, customer_id);
CREATE INDEX customer_values_by_risk ON customer_values (value_at_risk DESC, customer_id DESC);
CREATE INDEX customer_values_by_clv ON customer_values (clv DESC, customer_id DESC) WHERE clv IS NOT NULL;

CREATE TABLE value_snapshots (
    id          INTEGER PRIMARY KEY,
    computed_at TEXT NOT NULL,
    options     TEXT NOT NULL DEFAULT '{}',
    report      TEXT NOT NULL DEFAULT '{}'
);
