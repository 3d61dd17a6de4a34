-- Leads (SQLite flavour; ../postgres holds the same table): people captured before they are
-- customers (a trade show's business cards, web forms), qualified, and converted into a customer
-- (`converted_customer_id`) or disqualified with a reason. `campaign_id` attributes a lead to the
-- campaign that brought it; `import_key` (source + normalised e-mail, phone or name) makes bulk
-- imports idempotent.

CREATE TABLE leads (
    id                    INTEGER PRIMARY KEY,
    name                  TEXT NOT NULL,
    company               TEXT,
    title                 TEXT,
    phone                 TEXT,
    email                 TEXT,
    region                TEXT,
    industry              TEXT,
    source                TEXT,
    campaign_id           INTEGER REFERENCES campaigns (id),
    owner_id              INTEGER REFERENCES users (id),
    status                TEXT NOT NULL DEFAULT 'new'
                          CHECK (status IN ('new', 'contacted', 'qualified', 'converted', 'disqualified')),
    disqualified_reason   TEXT,
    notes                 TEXT,
    phone_key             TEXT,
    email_key             TEXT,
    import_key            TEXT UNIQUE,
    converted_customer_id INTEGER,
    converted_at          TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CHECK ((status = 'disqualified') = (disqualified_reason IS NOT NULL)),
    CHECK ((status = 'converted') = (converted_customer_id IS NOT NULL))
);
CREATE INDEX leads_by_status ON leads (status, id);
CREATE INDEX leads_by_owner ON leads (owner_id, id);
CREATE INDEX leads_by_campaign ON leads (campaign_id, status);
CREATE INDEX leads_by_customer ON leads (converted_customer_id) WHERE converted_customer_id IS NOT NULL;
