-- Saved views of the customer list: a name and the list's query string (filters, sort,
-- columns), per user; `shared` views (made by managers and admins) are offered to everyone.
-- ../postgres holds the same table.

CREATE TABLE saved_views (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    shared     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, name)
);
CREATE INDEX saved_views_shared ON saved_views (shared);
