//! The e-mail outbox: every message is a row before it is sent (see migration 0015_outbox).
//!
//! - [`Store::enqueue_mail`] adds messages, ignoring one whose `message_key` is queued already
//!   (a campaign sent twice queues nothing the second time);
//! - [`Store::claim_due_mail`] moves due queued rows to `sending` in one statement (two workers
//!   never claim the same row) and counts the attempt; [`Store::claim_due_mail_within_rate`]
//!   does so within the sending rate shared by every process on the database (the attempts
//!   of the last minute, [`Store::recent_mail_attempts`]);
//! - [`Store::mark_mail_sent`] / [`Store::mark_mail_failed`] record the outcome: an error puts
//!   the row back in the queue after a back-off ([`RETRY_AFTER`]) or, after the last attempt or a
//!   permanent refusal, marks it failed with the reason;
//! - [`Store::requeue_stuck_mail`] returns rows left in `sending` by a crash to the queue.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{now, with_pool, BeginWrite, Store, StoreError};

/// The waits before the second, third, ... attempt; after an error on the last attempt
/// (`RETRY_AFTER.len() + 1` attempts in all) the message is failed for good.
pub const RETRY_AFTER: [Duration; 4] = [
    Duration::minutes(1),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
];

/// The window of the sending rate: `PATRON_MAIL_PER_MINUTE` limits the attempts made (rows
/// claimed, stamped `attempted_at`) by any process within this long.
const RATE_WINDOW: Duration = Duration::minutes(1);

/// The PostgreSQL advisory lock that rated claims take for their transaction (see
/// [`Store::claim_due_mail_within_rate`]): "outrate" in ASCII, apart from the migrations'.
const RATE_LOCK: i64 = 0x006f_7574_7261_7465;

/// Claims up to `$2` due queued rows, oldest first (binds: now, limit). Every claim stamps
/// `attempted_at`, which the rate counts and which, unlike `claimed_at`, outlives the outcome.
fn claim_due_sql() -> String {
    format!(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_at = $1, attempted_at = $1 \
         WHERE state = 'queued' AND id IN (SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2) \
         RETURNING {COLUMNS}"
    )
}

/// Attempts made since `$1` (index `outbox_attempted`, migration 0025: a range of about one
/// minute's messages, however big the outbox).
const RECENT_ATTEMPTS: &str = "SELECT COUNT(*) FROM outbox WHERE attempted_at > $1";

/// The most characters of an error kept in `last_error`.
const ERROR_CHARS: usize = 500;

/// What a message is for (the `kind` column).
pub const MAIL_KINDS: [&str; 5] = ["campaign", "survey", "reminder", "notification", "test"];

/// The states of an outbox row.
pub const MAIL_STATES: [&str; 4] = ["queued", "sending", "sent", "failed"];

/// Queues one message (binds: key, customer, recipient, kind, subject, text, HTML, headers as
/// JSON, now, by); nothing when its key is in the outbox already.
pub(crate) const INSERT_MAIL: &str = "INSERT INTO outbox (message_key, customer_id, recipient, kind, subject, body_text, body_html, headers, state, attempts, next_attempt_at, created_by, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $10, $9) ON CONFLICT (message_key) DO NOTHING";

/// A message to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    /// Idempotency key: a second message with the same key is not queued.
    pub message_key: String,
    pub customer_id: Option<i64>,
    pub recipient: String,
    /// One of [`MAIL_KINDS`].
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Extra headers (e.g. `List-Unsubscribe`).
    pub headers: BTreeMap<String, String>,
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxMail {
    pub id: i64,
    pub message_key: String,
    pub customer_id: Option<i64>,
    pub recipient: String,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// One of [`MAIL_STATES`].
    pub state: String,
    /// Attempts made so far (counted when a worker claims the row).
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed (an excerpt).
    pub last_error: Option<String>,
    /// The `Message-ID` the message was sent with.
    pub smtp_message_id: Option<String>,
    /// The SMTP server's answer to the accepted message.
    pub smtp_reply: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    message_key: String,
    customer_id: Option<i64>,
    recipient: String,
    kind: String,
    subject: String,
    body_text: String,
    body_html: Option<String>,
    headers: String,
    state: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    smtp_message_id: Option<String>,
    smtp_reply: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl From<Row> for OutboxMail {
    fn from(r: Row) -> Self {
        OutboxMail {
            id: r.id,
            message_key: r.message_key,
            customer_id: r.customer_id,
            recipient: r.recipient,
            kind: r.kind,
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            headers: serde_json::from_str(&r.headers).unwrap_or_default(),
            state: r.state,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            smtp_message_id: r.smtp_message_id,
            smtp_reply: r.smtp_reply,
            created_by: r.created_by,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

const COLUMNS: &str = "id, message_key, customer_id, recipient, kind, subject, body_text, body_html, headers, state, attempts, next_attempt_at, last_error, smtp_message_id, smtp_reply, created_by, created_at, sent_at";

/// How many outbox rows are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

fn bounded(s: &str, chars: usize) -> String {
    let mut out: String = s.chars().take(chars).collect();
    if s.chars().count() > chars {
        out.push('…');
    }
    out
}

/// Claimed rows in the order they are sent: the oldest due first.
fn claimed(rows: Vec<Row>) -> Vec<OutboxMail> {
    let mut out: Vec<OutboxMail> = rows.into_iter().map(Into::into).collect();
    out.sort_by_key(|m| (m.next_attempt_at, m.id));
    out
}

pub(crate) fn check(m: &NewMail) -> Result<(), StoreError> {
    if m.message_key.trim().is_empty() {
        return Err(StoreError::invalid("message_key", "is required"));
    }
    if !MAIL_KINDS.contains(&m.kind.as_str()) {
        return Err(StoreError::invalid(
            "kind",
            format!("must be one of {}", MAIL_KINDS.join(", ")),
        ));
    }
    let r = m.recipient.trim();
    if r.is_empty() || !r.contains('@') || r.contains(['\r', '\n', ',', ';', '<', '>']) {
        return Err(StoreError::invalid(
            "recipient",
            "must be one e-mail address",
        ));
    }
    if m.subject.contains(['\r', '\n']) {
        return Err(StoreError::invalid("subject", "must be one line"));
    }
    for (k, v) in &m.headers {
        if k.is_empty()
            || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || v.contains(['\r', '\n'])
        {
            return Err(StoreError::invalid(
                "headers",
                format!("'{}' is not a valid header", bounded(k, 40)),
            ));
        }
    }
    Ok(())
}

impl Store {
    /// Queues `mails` in one transaction (with the handle's audit row, see [`Store::audited`]);
    /// a message whose key is in the outbox already is left out. Returns how many were queued.
    pub async fn enqueue_mail(&self, mails: &[NewMail], by: &str) -> Result<u64, StoreError> {
        for m in mails {
            check(m)?;
        }
        let at = now();
        let sql = INSERT_MAIL;
        let queued = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut n = 0;
            for m in mails {
                let headers = serde_json::to_string(&m.headers).unwrap_or_else(|_| "{}".into());
                n += sqlx::query(sql)
                    .bind(&m.message_key).bind(m.customer_id).bind(m.recipient.trim()).bind(&m.kind)
                    .bind(&m.subject).bind(&m.body_text).bind(&m.body_html).bind(headers)
                    .bind(at).bind(by)
                    .execute(&mut *tx).await?.rows_affected();
            }
            crate::commit!(self, tx);
            n
        });
        Ok(queued)
    }

    /// Claims up to `limit` queued messages that are due, oldest first: they move to `sending`
    /// with one more attempt counted, in one statement (a row is claimed by one worker only).
    pub async fn claim_due_mail(&self, limit: i64) -> Result<Vec<OutboxMail>, StoreError> {
        if limit <= 0 {
            return Ok(vec![]);
        }
        let at = now();
        let sql = claim_due_sql();
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(at).bind(limit).fetch_all(pool).await?);
        Ok(claimed(rows))
    }

    /// How many attempts (claims, by any process) were made in the last `within`.
    pub async fn recent_mail_attempts(&self, within: Duration) -> Result<i64, StoreError> {
        let since = now() - within;
        Ok(with_pool!(self, pool => sqlx::query_scalar(RECENT_ATTEMPTS)
            .bind(since).fetch_one(pool).await?))
    }

    /// Like [`Store::claim_due_mail`], but within the rate shared by every process on this
    /// database: claims at most `per_minute` minus the attempts of the last minute
    /// (the larger of the database's count and `counted_here`, the caller's own count, which
    /// a clock stepping forward cannot age), and at most `limit`.
    ///
    /// The count and the claim run in one write transaction that rated claims take one at a
    /// time (SQLite: `BEGIN IMMEDIATE`, one writer; PostgreSQL: a transaction-scoped advisory
    /// lock, after which the count's statement sees every earlier rated claim committed). So
    /// rated claims never overshoot `per_minute` in any window: the bound is 0, as long as the
    /// processes' clocks agree (a process whose clock is `s` behind stamps attempts that leave
    /// others' window `s` early) and apart from attempts made outside the rate
    /// ([`Store::claim_due_mail`], [`Store::claim_mail`]), which are counted but not limited.
    /// The lock is held for the two statements only, never while mail is sent, and a killed
    /// process's transaction ends with its connection: nobody waits for a dead holder.
    pub async fn claim_due_mail_within_rate(
        &self,
        limit: i64,
        per_minute: i64,
        counted_here: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        if limit <= 0 || per_minute <= counted_here {
            return Ok(vec![]);
        }
        let sql = claim_due_sql();
        let postgres = self.kind() == crate::BackendKind::Postgres;
        let rows: Vec<Row> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(RATE_LOCK).execute(&mut *tx).await?;
            }
            // The time once the lock is ours: a wait for it must not age these attempts.
            let at = now();
            let recent: i64 = sqlx::query_scalar(RECENT_ATTEMPTS)
                .bind(at - RATE_WINDOW).fetch_one(&mut *tx).await?;
            let budget = limit.min(per_minute - recent.max(counted_here));
            let rows = if budget > 0 {
                sqlx::query_as(&sql).bind(at).bind(budget).fetch_all(&mut *tx).await?
            } else {
                vec![]
            };
            tx.commit().await?;
            rows
        });
        Ok(claimed(rows))
    }

    /// Claims the queued message with key `message_key` whether due or not (a test message
    /// sent at once), like [`Store::claim_due_mail`]; `None` when it is not queued.
    pub async fn claim_mail(&self, message_key: &str) -> Result<Option<OutboxMail>, StoreError> {
        let sql = format!(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_at = $1, attempted_at = $1 \
             WHERE state = 'queued' AND message_key = $2 RETURNING {COLUMNS}"
        );
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(now()).bind(message_key).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// Records that the SMTP server accepted message `id` (sent with `message_id`, answering
    /// `reply`). A message to a customer is written on the customer's timeline in the same
    /// transaction, once: an interaction of kind `email` by whoever queued it (the user's name,
    /// or the system), keyed `outbox:{id}`; a second call changes nothing.
    pub async fn mark_mail_sent(
        &self,
        id: i64,
        message_id: &str,
        reply: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(Option<i64>, String, String, String)> = sqlx::query_as(
                "UPDATE outbox SET state = 'sent', sent_at = $1, smtp_message_id = $2, smtp_reply = $3, last_error = NULL, claimed_at = NULL \
                 WHERE id = $4 AND state <> 'sent' RETURNING customer_id, subject, created_by, recipient")
                .bind(at).bind(message_id).bind(bounded(reply, ERROR_CHARS)).bind(id)
                .fetch_optional(&mut *tx).await?;
            if let Some((Some(customer), subject, by, recipient)) = row {
                sqlx::query(
                    "INSERT INTO interactions (customer_id, kind, occurred_at, by_name, body, external_id) \
                     SELECT id, 'email', $2, $3, $4, $5 FROM customers WHERE id = $1 \
                     ON CONFLICT (customer_id, external_id) WHERE external_id IS NOT NULL DO NOTHING")
                    .bind(customer).bind(at).bind(&by)
                    .bind(format!("E-mail sent to {recipient}: {subject}"))
                    .bind(format!("outbox:{id}"))
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records that an attempt at message `id` failed with `error`: queued again after the
    /// back-off for its attempt count, or failed for good after the last attempt or when
    /// `permanent` (a refusal that a retry would not change). Returns the new state.
    pub async fn mark_mail_failed(
        &self,
        id: i64,
        error: &str,
        permanent: bool,
    ) -> Result<&'static str, StoreError> {
        let attempts: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT attempts FROM outbox WHERE id = $1").bind(id).fetch_optional(pool).await?);
        let attempts = attempts.ok_or_else(|| StoreError::not_found("outbox message", id))?;
        let retry = (!permanent)
            .then(|| RETRY_AFTER.get((attempts.max(1) - 1) as usize))
            .flatten();
        let (state, next) = match retry {
            Some(wait) => ("queued", now() + *wait),
            None => ("failed", now()),
        };
        with_pool!(self, pool => { sqlx::query(
            "UPDATE outbox SET state = $1, next_attempt_at = $2, last_error = $3, claimed_at = NULL WHERE id = $4")
            .bind(state).bind(next).bind(bounded(error, ERROR_CHARS)).bind(id)
            .execute(pool).await?; });
        Ok(state)
    }

    /// Returns to the queue the messages claimed (state `sending`) longer than `older_than`
    /// ago: their worker crashed or was stopped before recording the outcome. Returns how many.
    pub async fn requeue_stuck_mail(&self, older_than: Duration) -> Result<u64, StoreError> {
        let at = now();
        Ok(with_pool!(self, pool => sqlx::query(
            "UPDATE outbox SET state = 'queued', next_attempt_at = $1, claimed_at = NULL, \
                last_error = 'requeued: the sender stopped before recording the outcome' \
             WHERE state = 'sending' AND (claimed_at IS NULL OR claimed_at <= $2)")
            .bind(at).bind(at - older_than).execute(pool).await?.rows_affected()))
    }

    /// The outbox, newest first: every state, or only `state`; at most `limit` rows.
    pub async fn outbox(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        if let Some(s) = state {
            if !MAIL_STATES.contains(&s) {
                return Err(StoreError::invalid(
                    "state",
                    format!("must be one of {}", MAIL_STATES.join(", ")),
                ));
            }
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(state).bind(limit.clamp(1, 10_000)).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The outbox row with key `message_key`, if any.
    pub async fn outbox_mail(&self, message_key: &str) -> Result<Option<OutboxMail>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE message_key = $1");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(message_key).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// How many messages are in each state; with `key_prefix`, only those whose key starts
    /// with it (a campaign's: `campaign:{id}:`).
    pub async fn outbox_counts(
        &self,
        key_prefix: Option<&str>,
    ) -> Result<OutboxCounts, StoreError> {
        let pattern = key_prefix.map(|p| {
            format!(
                "{}%",
                p.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
        let rows: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT state, COUNT(*) FROM outbox WHERE ($1 IS NULL OR message_key LIKE $1 ESCAPE '\\') GROUP BY state")
            .bind(pattern).fetch_all(pool).await?);
        let mut c = OutboxCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "queued" => c.queued = n,
                "sending" => c.sending = n,
                "sent" => c.sent = n,
                "failed" => c.failed = n,
                _ => {}
            }
        }
        Ok(c)
    }
}

impl Store {
    /// The setting `key`, first stored as `value` when it has none (concurrent first uses all
    /// get the value that was stored first).
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        with_pool!(self, pool => { sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key).bind(value).execute(pool).await?; });
        self.setting(key)
            .await?
            .ok_or_else(|| StoreError::not_found("setting", key))
    }
}
