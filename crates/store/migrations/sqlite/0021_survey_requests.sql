-- Surveys by mail (SQLite flavour; ../postgres holds the same table): one row per survey mail
-- (a CSAT or NPS question sent after a ticket was resolved, or on demand). Its signed links
-- (`/s/{token}`, one per score) name the row; the first answer sets `answered_at` and
-- `survey_id` (the answer in `surveys`, which feeds the value score) and a second one is
-- refused. One request per resolved ticket (`ticket_id`), so a resolution mails one survey.

CREATE TABLE survey_requests (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL,
    ticket_id    INTEGER,
    kind         TEXT NOT NULL CHECK (kind IN ('csat', 'nps')),
    lang         TEXT NOT NULL CHECK (lang IN ('en', 'zh')),
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    answered_at  TEXT,
    survey_id    INTEGER
);
CREATE UNIQUE INDEX survey_requests_one_per_ticket ON survey_requests (customer_id, ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX survey_requests_by_customer ON survey_requests (customer_id);
