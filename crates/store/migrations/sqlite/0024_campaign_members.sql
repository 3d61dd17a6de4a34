-- A campaign's chosen audience: the customers picked on the list ("start a campaign" on a
-- selection). A campaign with members mails them (still never the opted-out, archived or
-- those without an e-mail); one without members keeps mailing the filter it is sent with.
-- Keyed by customer, like every customer table. ../postgres holds the same table.

CREATE TABLE campaign_members (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    added_at    TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (customer_id, campaign_id)
);
CREATE INDEX campaign_members_campaign ON campaign_members (campaign_id);
