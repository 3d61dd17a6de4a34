-- The e-mail outbox (SQLite flavour; ../postgres holds the same table): every message is a row
-- before it is sent, so that a crash or restart loses nothing. `message_key` makes enqueueing
-- idempotent (a campaign's message to a customer is `campaign:{id}:{customer}`); the worker
-- claims due rows (queued -> sending), then marks them sent or, after an error, queued again
-- with a later `next_attempt_at`, or failed for good after the last attempt. Keyed by customer
-- where the message has one (campaign mail); a test message has none.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_key     TEXT NOT NULL UNIQUE,
    customer_id     INTEGER,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('campaign', 'survey', 'reminder', 'notification', 'test')),
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    -- Extra headers as a JSON object of strings (List-Unsubscribe, List-Unsubscribe-Post).
    headers         TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    -- When the row was claimed (state sending): a row sending for too long is requeued.
    claimed_at      TEXT,
    last_error      TEXT,
    smtp_message_id TEXT,
    smtp_reply      TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_customer ON outbox (customer_id) WHERE customer_id IS NOT NULL;
