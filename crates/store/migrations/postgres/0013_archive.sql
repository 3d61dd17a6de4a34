-- Archiving customers: what a user's "delete" does. An archived customer keeps everything
-- recorded about it (orders still count for the company's figures) but is left out of every
-- list, search, picker, pool and plan until restored; only an administrator's purge (audited,
-- with its reason) removes a customer for good. ../sqlite holds the same columns.

ALTER TABLE customers ADD COLUMN archived_at TIMESTAMPTZ;
ALTER TABLE customers ADD COLUMN archived_by TEXT;

-- The archived customers' list (keyset pages in id order) reads this small partial index instead
-- of scanning every customer; the live lists' `archived_at IS NULL` needs no index of its own
-- (nearly every customer is live, so it is checked on the rows the lists read anyway).
CREATE INDEX customers_archived ON customers (id) WHERE archived_at IS NOT NULL;
