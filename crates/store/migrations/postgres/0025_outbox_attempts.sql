-- The outbox's sending rate across processes (PostgreSQL flavour; ../sqlite holds the same
-- change). `attempted_at` is when a worker last claimed the row for an attempt; unlike
-- `claimed_at` it is kept after the outcome (sent, queued again, failed), so that every
-- `patron serve` process counts the attempts any of them made in the last minute against
-- PATRON_MAIL_PER_MINUTE. The worker counts them every few seconds: the index keeps that a
-- short range scan however big the outbox. It is partial so that creating it on an existing
-- outbox (whose rows have no attempt time) writes next to nothing.

ALTER TABLE outbox ADD COLUMN attempted_at TIMESTAMPTZ;
-- Rows in flight at the upgrade were claimed just now, as far as the rate is concerned.
UPDATE outbox SET attempted_at = claimed_at WHERE state = 'sending';
CREATE INDEX outbox_attempted ON outbox (attempted_at) WHERE attempted_at IS NOT NULL;
