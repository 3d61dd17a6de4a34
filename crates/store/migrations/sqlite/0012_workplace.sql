-- The rep's workplace: contact persons' purchase role, preferences and birthday; referrals as an
-- interaction kind; tasks (with the rules' keys, so a second run of the rules adds nothing);
-- in-app notifications. ../postgres holds the same tables.

ALTER TABLE contacts ADD COLUMN purchase_role TEXT;
ALTER TABLE contacts ADD COLUMN preferences TEXT;
ALTER TABLE contacts ADD COLUMN birthday TEXT;

-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with 'referral' allowed.
CREATE TABLE interactions_new (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    kind        TEXT NOT NULL CHECK (kind IN ('visit', 'call', 'email', 'meeting', 'quote',
                                              'promise', 'complaint', 'suggestion', 'request',
                                              'referral')),
    occurred_at TEXT NOT NULL,
    by_name     TEXT,
    contact_id  INTEGER,
    body        TEXT NOT NULL,
    external_id TEXT
);
INSERT INTO interactions_new SELECT id, customer_id, kind, occurred_at, by_name, contact_id, body, external_id FROM interactions;
DROP TABLE interactions;
ALTER TABLE interactions_new RENAME TO interactions;
CREATE INDEX interactions_by_customer ON interactions (customer_id, occurred_at);
CREATE UNIQUE INDEX interactions_external ON interactions (customer_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers (id),
    assignee_id INTEGER NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL CHECK (kind IN ('call', 'visit', 'email', 'todo')),
    due_at      TEXT NOT NULL,
    note        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    done_at     TEXT,
    -- What made the task: 'manual', 'promise', or a rule's name.
    source      TEXT NOT NULL DEFAULT 'manual',
    -- A rule's key ("reclaim:17:2026-12-07"): one task per key, whatever the number of runs.
    rule_key    TEXT UNIQUE
);
CREATE INDEX tasks_by_assignee ON tasks (assignee_id, status, due_at);
CREATE INDEX tasks_by_customer ON tasks (customer_id, status);

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    customer_id INTEGER,
    message     TEXT NOT NULL,
    -- The facts of the message (a JSON object of strings), for wording it in other languages.
    params      TEXT NOT NULL DEFAULT '{}',
    link        TEXT,
    created_at  TEXT NOT NULL,
    read_at     TEXT
);
CREATE INDEX notifications_by_user ON notifications (user_id, read_at, id);

-- The customers one customer brought (the card's "referrals it made").
CREATE INDEX customers_referred_by ON customers (referred_by) WHERE referred_by IS NOT NULL;
