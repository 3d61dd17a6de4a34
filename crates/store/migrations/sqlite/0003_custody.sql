-- Custody of customer data (SQLite flavour; ../postgres holds the same tables): users with
-- argon2 password hashes, roles and data scopes, departments in a hierarchy, web sessions and
-- API tokens (both stored as SHA-256 digests only), the append-only audit log, the public pool's
-- settings, and when a customer got its current owner (for the pool's reclaim rules).

CREATE TABLE departments (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    parent_id  INTEGER REFERENCES departments (id),
    created_at TEXT NOT NULL
);

ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'rep'
    CHECK (role IN ('admin', 'manager', 'rep', 'analyst'));
-- NULL: the role's default scope.
ALTER TABLE users ADD COLUMN scope TEXT
    CHECK (scope IN ('own', 'subordinates', 'department', 'department_tree', 'all', 'none'));
ALTER TABLE users ADD COLUMN department_id INTEGER REFERENCES departments (id);
ALTER TABLE users ADD COLUMN manager_id INTEGER REFERENCES users (id);
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

ALTER TABLE customers ADD COLUMN owner_since TEXT;

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor_id    INTEGER,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    customer_id INTEGER,
    detail      TEXT,
    row_count   INTEGER,
    ip          TEXT
);
CREATE INDEX audit_log_by_customer ON audit_log (customer_id, id);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);
CREATE INDEX audit_log_by_action ON audit_log (action, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES
    ('pool.cap', '500'),
    ('pool.reclaim_days.A', '180'),
    ('pool.reclaim_days.B', '120'),
    ('pool.reclaim_days.C', '90'),
    ('pool.reclaim_days.D', '60'),
    ('pool.reclaim_days.E', '30'),
    ('pool.reclaim_days.none', '30');
