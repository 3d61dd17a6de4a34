-- Relationship-marketing costs recorded per customer (SQLite flavour; ../postgres holds the same
-- table): a visit, a gift, an event, or a campaign's cost allocated evenly over the customers
-- it reached (`campaign_id` set: a new allocation of the campaign replaces its rows). A value
-- refresh charges a customer with records those records instead of the flat marketing rate.
-- Money in integer cents; keyed by customer, like every customer table.

CREATE TABLE marketing_costs (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    spent_on     TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('visit', 'gift', 'event', 'campaign', 'other')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    note         TEXT,
    campaign_id  INTEGER REFERENCES campaigns (id),
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX marketing_costs_by_customer ON marketing_costs (customer_id, spent_on);
CREATE INDEX marketing_costs_by_campaign ON marketing_costs (campaign_id) WHERE campaign_id IS NOT NULL;
