//! E-mail for users and campaigns (see migration 0022_mail_settings):
//!
//! - [`UserMailSettings`]: a user's own address, whether their notifications are mailed too,
//!   the hour of their daily digest and the language of both;
//! - the opt-outs that came through a campaign's link ([`Store::record_campaign_unsubscribe`],
//!   counted by [`Store::campaign_unsubscribe_count`]);
//! - the notifications not yet looked at by the mail job ([`Store::unmailed_notifications`]),
//!   each queued (or left alone) once by [`Store::mail_notification`].

use chrono::{DateTime, Utc};
use patron_domain::task::{Notification, NotificationKind};
use serde::{Deserialize, Serialize};

use crate::outbox::NewMail;
use crate::{commit, now, with_pool, BeginWrite, Store, StoreError};

/// A user's mail settings (the defaults when they never saved any: no address, nothing mailed,
/// no digest, English).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserMailSettings {
    /// The user's own address (test messages, notifications, digest); none: nothing is mailed.
    pub email: Option<String>,
    /// Also mail each notification (held order decided, ticket escalated, task given, ...).
    pub notify_by_mail: bool,
    /// The hour (0-23, UTC) the daily "My day" digest is mailed; none: no digest.
    pub digest_hour: Option<i32>,
    /// `en` or `zh`: the language of the mailed notifications and digest.
    pub lang: String,
}

impl Default for UserMailSettings {
    fn default() -> Self {
        UserMailSettings {
            email: None,
            notify_by_mail: false,
            digest_hour: None,
            lang: "en".into(),
        }
    }
}

/// Whether `s` is one plain e-mail address (what the outbox accepts as a recipient).
pub fn is_mail_address(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.len() <= 254
        && !s.contains(|c: char| c.is_whitespace() || ",;<>\"()[]\\".contains(c))
}

impl UserMailSettings {
    /// Checks and normalises the settings (a blank address is none).
    pub fn checked(mut self) -> Result<Self, StoreError> {
        self.email = self
            .email
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty());
        if let Some(e) = &self.email {
            if !is_mail_address(e) {
                return Err(StoreError::invalid(
                    "email",
                    "must be one e-mail address, e.g. ann@example.com",
                ));
            }
        }
        if let Some(h) = self.digest_hour {
            if !(0..=23).contains(&h) {
                return Err(StoreError::invalid(
                    "digest_hour",
                    "must be an hour from 0 to 23",
                ));
            }
        }
        self.lang = self.lang.trim().to_ascii_lowercase();
        if self.lang.is_empty() {
            self.lang = "en".into();
        }
        if !["en", "zh"].contains(&self.lang.as_str()) {
            return Err(StoreError::invalid("lang", "must be en or zh"));
        }
        if (self.notify_by_mail || self.digest_hour.is_some()) && self.email.is_none() {
            return Err(StoreError::invalid(
                "email",
                "is required to receive notifications or the digest by e-mail",
            ));
        }
        Ok(self)
    }
}

type SettingsRow = (Option<String>, bool, Option<i32>, String);

/// A notification the mail job has not looked at yet, with its user.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmailedNotification {
    /// Whose it is.
    pub user_id: i64,
    /// The notification.
    pub notification: Notification,
}

impl Store {
    /// User `user_id`'s mail settings (the defaults when none were saved).
    pub async fn user_mail_settings(&self, user_id: i64) -> Result<UserMailSettings, StoreError> {
        let row: Option<SettingsRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT email, notify_by_mail, digest_hour, lang FROM user_mail_settings WHERE user_id = $1")
            .bind(user_id).fetch_optional(pool).await?);
        Ok(row
            .map(
                |(email, notify_by_mail, digest_hour, lang)| UserMailSettings {
                    email,
                    notify_by_mail,
                    digest_hour,
                    lang,
                },
            )
            .unwrap_or_default())
    }

    /// Saves user `user_id`'s mail settings (checked first, see [`UserMailSettings::checked`]);
    /// answers them as stored. Audited through the handle (see [`Store::audited`]).
    pub async fn set_user_mail_settings(
        &self,
        user_id: i64,
        settings: UserMailSettings,
    ) -> Result<UserMailSettings, StoreError> {
        let s = settings.checked()?;
        self.user(user_id).await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO user_mail_settings (user_id, email, notify_by_mail, digest_hour, lang, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (user_id) DO UPDATE SET email = $2, notify_by_mail = $3, digest_hour = $4, lang = $5, updated_at = $6")
                .bind(user_id).bind(&s.email).bind(s.notify_by_mail).bind(s.digest_hour).bind(&s.lang).bind(now())
                .execute(&mut *tx).await?;
            commit!(self, tx);
        });
        Ok(s)
    }

    /// The users (not disabled) whose digest hour is `hour`, with their settings.
    pub async fn digest_users(
        &self,
        hour: i32,
    ) -> Result<Vec<(i64, UserMailSettings)>, StoreError> {
        type Row = (i64, Option<String>, bool, Option<i32>, String);
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT s.user_id, s.email, s.notify_by_mail, s.digest_hour, s.lang FROM user_mail_settings s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.digest_hour = $1 AND s.email IS NOT NULL AND u.disabled = FALSE ORDER BY s.user_id")
            .bind(hour).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, email, notify_by_mail, digest_hour, lang)| {
                (
                    id,
                    UserMailSettings {
                        email,
                        notify_by_mail,
                        digest_hour,
                        lang,
                    },
                )
            })
            .collect())
    }

    /// Records that customer `customer_id` opted out through campaign `campaign_id`'s link
    /// (once per customer and campaign; a campaign that no longer exists is left out).
    pub async fn record_campaign_unsubscribe(
        &self,
        customer_id: i64,
        campaign_id: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => { sqlx::query(
            "INSERT INTO campaign_unsubscribes (customer_id, campaign_id, at) \
             SELECT $1, id, $3 FROM campaigns WHERE id = $2 \
             ON CONFLICT (customer_id, campaign_id) DO NOTHING")
            .bind(customer_id).bind(campaign_id).bind(now()).execute(pool).await?; });
        Ok(())
    }

    /// How many customers opted out through campaign `campaign_id`'s links.
    pub async fn campaign_unsubscribe_count(&self, campaign_id: i64) -> Result<i64, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM campaign_unsubscribes WHERE campaign_id = $1")
            .bind(campaign_id).fetch_one(pool).await?))
    }

    /// Up to `limit` notifications the mail job has not looked at yet, oldest first, created
    /// since `since` (older ones are not mailed late).
    pub async fn unmailed_notifications(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<UnmailedNotification>, StoreError> {
        type Row = (
            i64,
            i64,
            String,
            Option<i64>,
            String,
            String,
            Option<String>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, kind, customer_id, message, params, link, created_at, read_at FROM notifications \
             WHERE mailed_at IS NULL AND created_at >= $1 ORDER BY id LIMIT $2")
            .bind(since).bind(limit.clamp(1, 1000)).fetch_all(pool).await?);
        // A kind this version does not know is never mailed (and never looked at again).
        for (id, _, kind, ..) in &rows {
            if kind.parse::<NotificationKind>().is_err() {
                self.mail_notification(*id, None, "system").await?;
            }
        }
        Ok(rows
            .into_iter()
            .filter_map(
                |(id, user_id, kind, customer_id, message, params, link, created_at, read_at)| {
                    Some(UnmailedNotification {
                        user_id,
                        notification: Notification {
                            id,
                            kind: kind.parse::<NotificationKind>().ok()?,
                            customer_id,
                            message,
                            params: serde_json::from_str(&params).unwrap_or_default(),
                            link,
                            created_at,
                            read_at,
                        },
                    })
                },
            )
            .collect())
    }

    /// Marks notification `id` as looked at by the mail job and queues `mail` (none: the user
    /// does not get it by mail) in one transaction; a notification marked already queues
    /// nothing. Answers whether a message was queued.
    pub async fn mail_notification(
        &self,
        id: i64,
        mail: Option<&NewMail>,
        by: &str,
    ) -> Result<bool, StoreError> {
        if let Some(m) = mail {
            crate::outbox::check(m)?;
        }
        let at = now();
        let queued = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let marked = sqlx::query("UPDATE notifications SET mailed_at = $1 WHERE id = $2 AND mailed_at IS NULL")
                .bind(at).bind(id).execute(&mut *tx).await?.rows_affected();
            let mut queued = false;
            if marked == 1 {
                if let Some(m) = mail {
                    let headers = serde_json::to_string(&m.headers).unwrap_or_else(|_| "{}".into());
                    queued = sqlx::query(crate::outbox::INSERT_MAIL)
                        .bind(&m.message_key).bind(m.customer_id).bind(m.recipient.trim()).bind(&m.kind)
                        .bind(&m.subject).bind(&m.body_text).bind(&m.body_html).bind(headers)
                        .bind(at).bind(by)
                        .execute(&mut *tx).await?.rows_affected() == 1;
                }
            }
            commit!(self, tx);
            queued
        });
        Ok(queued)
    }
}
