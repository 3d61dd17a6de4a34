-- Unusual access: per user and UTC hour, how many customer cards they opened (`view`), cards of
-- customers they do not own (`foreign`), customer searches (`search`), customer list pages
-- (`list`) and exported customer rows (`export`): `access_counts`, one upsert per request. The
-- alerts raised when an hour goes past both the user's usual level and a floor
-- (`access_alerts`, at most one per user, kind and hour), and the settings admins change
-- (`access_watch`, one row; `access_floors`, one row per kind). ../postgres holds the same tables.

CREATE TABLE access_counts (
    user_id  INTEGER NOT NULL REFERENCES users (id),
    kind     TEXT NOT NULL CHECK (kind IN ('view', 'foreign', 'search', 'list', 'export')),
    -- Whole hours since 1970-01-01T00:00Z.
    hour     INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    -- The count at which this hour is next compared with the user's usual level (NULL: at the
    -- next request).
    check_at INTEGER,
    PRIMARY KEY (user_id, kind, hour)
);

CREATE TABLE access_alerts (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    hour        INTEGER NOT NULL,
    -- The hour's count when the alert was raised, the user's usual level (median count of their
    -- active hours over the baseline) and the count it went past.
    n           INTEGER NOT NULL,
    usual       REAL NOT NULL,
    threshold   INTEGER NOT NULL,
    -- Whether the alert suspended the user's exports.
    suspended   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TEXT NOT NULL,
    reviewed_by TEXT,
    reviewed_at TEXT,
    UNIQUE (user_id, kind, hour)
);
CREATE INDEX access_alerts_by_time ON access_alerts (hour, id);

CREATE TABLE access_watch (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    multiple        REAL NOT NULL DEFAULT 5 CHECK (multiple >= 1 AND multiple <= 1000),
    baseline_days   INTEGER NOT NULL DEFAULT 14 CHECK (baseline_days BETWEEN 1 AND 90),
    suspend_exports BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO access_watch (id) VALUES (1);

CREATE TABLE access_floors (
    kind  TEXT PRIMARY KEY CHECK (kind IN ('view', 'foreign', 'search', 'list', 'export')),
    floor INTEGER NOT NULL CHECK (floor >= 1)
);
INSERT INTO access_floors (kind, floor) VALUES
    ('view', 100),
    ('foreign', 50),
    ('search', 100),
    ('list', 100),
    ('export', 1000);
