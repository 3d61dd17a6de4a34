-- Per-customer value history (SPEC R18: judge a customer by its course), PostgreSQL flavour; the
-- same table as ../sqlite. One compact row per customer per value snapshot: the figures the
-- card's trajectory and the dashboard's transition table need (grade, loyalty stage, CLV,
-- P(alive), CRM margin in cents), copied from `customer_values` in the refresh's own
-- transaction by one INSERT ... SELECT (see `Store::replace_customer_values`). The rows keep
-- what each refresh found: a one-customer recompute between two refreshes leaves them alone
-- (the transitions between two snapshots stay the refreshes' figures; the card draws the
-- recomputed figures as a "now" point); a new score model (regrade) rewrites the newest
-- snapshot's grades, as it rewrites that snapshot's grade counts. Kept for every snapshot (no
-- retention limit: about 40 bytes per customer and refresh). Keyed by customer (the card reads one
-- customer's rows, a purge deletes them; distributed by customer_id under Citus), with a second
-- index by snapshot for the transition table and the list filters.
-- customer_id and snapshot_id are no foreign keys, like customer_values' customer_id.

CREATE TABLE value_history (
    customer_id  BIGINT NOT NULL,
    snapshot_id  BIGINT NOT NULL,
    grade        TEXT,
    stage        TEXT,
    clv          DOUBLE PRECISION,
    p_alive      DOUBLE PRECISION,
    margin_cents BIGINT NOT NULL,
    PRIMARY KEY (customer_id, snapshot_id)
);
CREATE INDEX value_history_by_snapshot ON value_history (snapshot_id, customer_id);

-- A database refreshed before this migration: its current figures are the newest snapshot's.
INSERT INTO value_history (customer_id, snapshot_id, grade, stage, clv, p_alive, margin_cents)
SELECT customer_id, (SELECT MAX(id) FROM value_snapshots), grade, loyalty_stage, clv, p_alive, margin_cents
FROM customer_values
WHERE EXISTS (SELECT 1 FROM value_snapshots);
