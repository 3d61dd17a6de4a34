-- E-mail for users and campaigns (PostgreSQL flavour; ../sqlite holds the same tables):
-- - user_mail_settings: a user's own address, whether their notifications are also mailed,
--   the hour (UTC) of their daily "My day" digest (none: no digest) and the language of both;
-- - campaign_unsubscribes: the opt-outs that came through a campaign's unsubscribe link (one
--   per customer and campaign), counted on the campaign;
-- - notifications.mailed_at: when the mail worker looked at a notification (mailed, or left
--   alone because its user has mail off), so that each is considered once.

CREATE TABLE user_mail_settings (
    user_id        BIGINT PRIMARY KEY REFERENCES users (id),
    email          TEXT,
    notify_by_mail BOOLEAN NOT NULL DEFAULT FALSE,
    digest_hour    INTEGER CHECK (digest_hour BETWEEN 0 AND 23),
    lang           TEXT NOT NULL DEFAULT 'en' CHECK (lang IN ('en', 'zh')),
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE campaign_unsubscribes (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, campaign_id)
);
CREATE INDEX campaign_unsubscribes_campaign ON campaign_unsubscribes (campaign_id);

ALTER TABLE notifications ADD COLUMN mailed_at TIMESTAMPTZ;
CREATE INDEX notifications_unmailed ON notifications (id) WHERE mailed_at IS NULL;
