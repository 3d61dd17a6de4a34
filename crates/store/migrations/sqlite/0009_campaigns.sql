-- Campaigns (SQLite flavour; ../postgres holds the same table): what a campaign cost; the
-- customers it brought are those whose `source` is the campaign's name.

CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    channel    TEXT,
    cost_cents INTEGER NOT NULL CHECK (cost_cents >= 0),
    started_on TEXT NOT NULL,
    created_at TEXT NOT NULL
);
