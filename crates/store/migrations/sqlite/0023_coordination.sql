-- Several `patron serve` processes on one database (SQLite flavour; ../postgres holds the
-- same tables): what one process knew in memory is kept here, so that any of them answers.
-- - locks: leases by name (the value refresh, the scheduled jobs): held by `holder` until
--   `expires_at`, renewed while the work runs; a holder that died loses it when it expires;
-- - scheduled_runs: which process took a scheduled job's period (the daily refresh of a day,
--   a quarter-hour of the task rules), so that one process runs it;
-- - sign_in_attempts: sign-in attempts per key (user name, client address) for the rate limit,
--   with sign_in_keys as the per-key row that concurrent sign-ins queue on;
-- - import_jobs and import_job_files: the web's import jobs (state, progress, report) and
--   their files (an upload waiting for its column mapping, the rejected rows);
-- - value_refresh_changes: customers changed while a population refresh ran (recomputed
--   after it, by whichever process ran it).

CREATE TABLE locks (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE TABLE scheduled_runs (
    job        TEXT NOT NULL,
    slot       TEXT NOT NULL,
    holder     TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (job, slot)
);

CREATE TABLE sign_in_keys (
    key     TEXT PRIMARY KEY,
    last_at TEXT NOT NULL
);

CREATE TABLE sign_in_attempts (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX sign_in_attempts_key ON sign_in_attempts (key, at);
CREATE INDEX sign_in_attempts_at ON sign_in_attempts (at);

CREATE TABLE import_jobs (
    id                INTEGER PRIMARY KEY,
    owner_id          INTEGER NOT NULL REFERENCES users (id),
    file_name         TEXT NOT NULL,
    entity            TEXT NOT NULL CHECK (entity IN ('customers', 'orders', 'interactions')),
    state             TEXT NOT NULL CHECK (state IN ('mapping', 'running', 'done', 'failed')),
    unknown_columns   TEXT,
    create_customers  BOOLEAN NOT NULL,
    stop_on_error     BOOLEAN NOT NULL,
    started_at        TEXT NOT NULL,
    heartbeat_at      TEXT NOT NULL,
    seconds           REAL NOT NULL DEFAULT 0,
    bytes             INTEGER NOT NULL DEFAULT 0,
    total_bytes       INTEGER NOT NULL DEFAULT 0,
    rows_read         INTEGER NOT NULL DEFAULT 0,
    inserted          INTEGER NOT NULL DEFAULT 0,
    already_present   INTEGER NOT NULL DEFAULT 0,
    rejected          INTEGER NOT NULL DEFAULT 0,
    customers_created INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    holder            TEXT
);
CREATE INDEX import_jobs_owner ON import_jobs (owner_id, id);

CREATE TABLE import_job_files (
    job_id  INTEGER NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('upload', 'rejects')),
    content BLOB NOT NULL,
    PRIMARY KEY (job_id, kind)
);

CREATE TABLE value_refresh_changes (
    customer_id INTEGER NOT NULL,
    noted_at    TEXT NOT NULL
);
