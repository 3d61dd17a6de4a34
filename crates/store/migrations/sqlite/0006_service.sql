-- Service (SQLite flavour; ../postgres holds the same tables): tickets with an SLA due time and
-- escalation level, their history, and satisfaction surveys (CSAT 1-5, NPS 0-10). SLA hours per
-- priority are settings (sla.hours.<priority>).

CREATE TABLE tickets (
    id               INTEGER PRIMARY KEY,
    customer_id      INTEGER NOT NULL REFERENCES customers (id),
    kind             TEXT NOT NULL CHECK (kind IN ('complaint', 'repair', 'question')),
    priority         TEXT NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
    subject          TEXT NOT NULL,
    body             TEXT,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    opened_at        TEXT NOT NULL,
    opened_by        TEXT,
    assignee_id      INTEGER REFERENCES users (id),
    due_at           TEXT NOT NULL,
    resolved_at      TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    escalated_at     TEXT
);
CREATE INDEX tickets_by_customer ON tickets (customer_id, id);
CREATE INDEX tickets_open_by_due ON tickets (due_at) WHERE status = 'open';

CREATE TABLE ticket_events (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    by_name     TEXT,
    body        TEXT
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (customer_id, ticket_id, id);

CREATE TABLE surveys (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    kind        TEXT NOT NULL CHECK (kind IN ('csat', 'nps')),
    score       INTEGER NOT NULL,
    comment     TEXT,
    ticket_id   INTEGER,
    answered_at TEXT NOT NULL
);
CREATE INDEX surveys_by_customer ON surveys (customer_id, answered_at);

INSERT INTO settings (key, value) VALUES
    ('sla.hours.urgent', '4'),
    ('sla.hours.high', '24'),
    ('sla.hours.normal', '72'),
    ('sla.hours.low', '168');
