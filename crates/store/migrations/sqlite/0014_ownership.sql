-- Ownership history: every change of a customer's owner (claim, assignment, edit of the owner,
-- return to the pool, reclaim, hand-over), from whom to whom, when, why and by whom, so that the
-- manager review credits orders, payments and interactions to the owner at the time of the fact
-- rather than to today's owner. NULL owner: the public pool. Before a customer's first change it
-- belonged to that change's `from_owner`; a customer without changes, to its current owner.
-- `on_day` is the (UTC) date of `at`, for facts dated by day (orders, payments): the owner at
-- the end of that day gets them. ../postgres holds the same table.

CREATE TABLE ownership_history (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    from_owner  INTEGER,
    to_owner    INTEGER,
    at          TEXT NOT NULL,
    on_day      TEXT NOT NULL,
    why         TEXT NOT NULL,
    by_name     TEXT NOT NULL
);
CREATE INDEX ownership_history_at ON ownership_history (customer_id, at);
CREATE INDEX ownership_history_day ON ownership_history (customer_id, on_day);

-- The changes of owner recorded so far (in the customers' change history, field `owner_id`).
INSERT INTO ownership_history (customer_id, from_owner, to_owner, at, on_day, why, by_name)
SELECT customer_id, CAST(old_value AS INTEGER), CAST(new_value AS INTEGER), changed_at,
       substr(changed_at, 1, 10), 'from the change history', changed_by
FROM customer_history WHERE field = 'owner_id' ORDER BY changed_at, id;
