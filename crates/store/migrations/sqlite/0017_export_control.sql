-- Export control: who may export customer rows and how many a day without approval
-- (`export_rules`, one row per role, editable by admins), the requests for larger exports that
-- a manager approves or refuses (`export_requests`: the approved filter is kept and the file is
-- produced when it is downloaded, once, within 24 hours), and on users: exports suspended (set
-- by the unusual-access alerts, cleared on review), and the date a leaving user's customers go
-- to a named receiver. ../postgres holds the same tables.

ALTER TABLE users ADD COLUMN exports_suspended BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN leaving_on TEXT;
ALTER TABLE users ADD COLUMN leaving_to INTEGER REFERENCES users (id);
ALTER TABLE users ADD COLUMN handed_over_at TEXT;

CREATE TABLE export_rules (
    role         TEXT PRIMARY KEY CHECK (role IN ('admin', 'manager', 'rep', 'analyst')),
    export_right TEXT NOT NULL CHECK (export_right IN ('none', 'own', 'approval')),
    -- Rows a user may export per (UTC) day without approval; NULL: no limit.
    daily_rows   INTEGER CHECK (daily_rows >= 0)
);
INSERT INTO export_rules (role, export_right, daily_rows) VALUES
    ('admin', 'own', NULL),
    ('manager', 'own', 5000),
    ('rep', 'own', 200),
    ('analyst', 'none', 0);

CREATE TABLE export_requests (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    -- The filter and sort (JSON) the file is produced from, and how the requester wrote it.
    filter          TEXT NOT NULL,
    described       TEXT NOT NULL,
    row_count       INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'refused')),
    created_at      TEXT NOT NULL,
    decided_by      TEXT,
    decided_at      TEXT,
    decision_reason TEXT,
    expires_at      TEXT,
    downloaded_at   TEXT
);
CREATE INDEX export_requests_by_user ON export_requests (user_id, id);
CREATE INDEX export_requests_by_status ON export_requests (status, id);

-- The rows a user exported today (the daily limit), read at every export.
CREATE INDEX audit_log_exports ON audit_log (action, actor_id, at);
