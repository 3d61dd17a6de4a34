//! Patron's e-mail delivery: the SMTP configuration ([`SmtpConfig`], from `--smtp-url`,
//! `--mail-from` and `PATRON_MAIL_PER_MINUTE`), the transport ([`Mailer`]: lettre over rustls,
//! STARTTLS when the server offers it, implicit TLS for `smtps://`), and the worker that sends
//! the durable outbox ([`deliver_due`], [`run_worker`]).
//!
//! Delivery is at least once: the worker claims a row (state `sending`), sends it, then marks it
//! sent. A crash after the server accepted a message and before the mark leaves the row in
//! `sending`; [`run_worker`] requeues such rows after [`STUCK_AFTER`], so that message can be
//! sent a second time. Each row is sent with the same `Message-ID` on every attempt
//! ([`message_id`]), so receivers can recognise the duplicate.

#![deny(missing_docs)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use patron_store::{OutboxMail, Store, StoreError};

/// Messages left in `sending` longer than this are requeued (their sender stopped).
pub const STUCK_AFTER: Duration = Duration::from_secs(10 * 60);

/// The default of `PATRON_MAIL_PER_MINUTE`.
pub const DEFAULT_PER_MINUTE: u32 = 60;

/// Why mail cannot be configured or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A bad setting (`--smtp-url`, `--mail-from`, a recipient), naming it.
    #[error("{field}: {message}")]
    Config {
        /// The flag or field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The SMTP server refused the message or could not be reached.
    #[error("{message}")]
    Smtp {
        /// In words (the server's answer where there was one).
        message: String,
        /// A refusal a retry would not change (a 5xx answer).
        permanent: bool,
    },
    /// The outbox could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn bad(field: &'static str, message: impl Into<String>) -> MailError {
    MailError::Config {
        field,
        message: message.into(),
    }
}

/// How mail is sent: the SMTP server, the sender and the rate limit.
#[derive(Clone)]
pub struct SmtpConfig {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<(String, String)>,
    from: Mailbox,
    /// At most this many messages a minute.
    pub per_minute: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsMode {
    /// `smtps://`: TLS from the first byte.
    Wrapper,
    /// `smtp://`: STARTTLS when the server offers it (`?tls=required`: or fail; `?tls=none`:
    /// never).
    Opportunistic,
    Required,
    None,
}

impl std::fmt::Debug for SmtpConfig {
    // Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SmtpConfig {
    /// Reads `smtp://[user:pass@]host[:port][?tls=required|none]` or
    /// `smtps://[user:pass@]host[:port]` and the sender address (`Name <addr>` or `addr`).
    /// `per_minute` defaults to [`DEFAULT_PER_MINUTE`].
    pub fn parse(url: &str, from: &str, per_minute: Option<u32>) -> Result<Self, MailError> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            bad(
                "smtp-url",
                "must look like smtp://user:pass@host:port or smtps://...",
            )
        })?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let mut tls = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => TlsMode::Opportunistic,
            "smtps" => TlsMode::Wrapper,
            other => {
                return Err(bad(
                    "smtp-url",
                    format!(
                        "scheme '{}' is not smtp or smtps",
                        other.chars().take(20).collect::<String>()
                    ),
                ))
            }
        };
        match query {
            None | Some("") => {}
            Some("tls=required") if tls == TlsMode::Opportunistic => tls = TlsMode::Required,
            Some("tls=none") if tls == TlsMode::Opportunistic => tls = TlsMode::None,
            Some(_) => {
                return Err(bad(
                    "smtp-url",
                    "the only options are ?tls=required and ?tls=none (with smtp://)",
                ))
            }
        }
        let default_port = if tls == TlsMode::Wrapper { 465 } else { 587 };
        let bad_port = || bad("smtp-url", "the port must be a number 1-65535");
        // `[v6 address]:port`, `host:port`, or either without the port.
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, rest) = v6
                .split_once(']')
                .ok_or_else(|| bad("smtp-url", "an IPv6 address needs its closing ]"))?;
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse::<u16>().map_err(|_| bad_port())?,
                None if rest.is_empty() => default_port,
                None => return Err(bad_port()),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| bad_port())?),
                None => (hostport.to_string(), default_port),
            }
        };
        if host.is_empty() || port == 0 {
            return Err(bad("smtp-url", "needs a host and a port"));
        }
        let credentials = userinfo.map(|u| {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            (percent_decode(user), percent_decode(pass))
        });
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|_| bad("mail-from", "must be an e-mail address (or Name <address>)"))?;
        let per_minute = per_minute.unwrap_or(DEFAULT_PER_MINUTE);
        if per_minute == 0 {
            return Err(bad("mail-per-minute", "must be at least 1"));
        }
        Ok(SmtpConfig {
            host,
            port,
            tls,
            credentials,
            from,
            per_minute,
        })
    }

    /// The configuration in words, without the password.
    pub fn describe(&self) -> String {
        format!(
            "{}://{}{}:{} ({}), from {}, at most {} a minute",
            if self.tls == TlsMode::Wrapper {
                "smtps"
            } else {
                "smtp"
            },
            self.credentials
                .as_ref()
                .map_or(String::new(), |(u, _)| format!("{u}@")),
            self.host,
            self.port,
            match self.tls {
                TlsMode::Wrapper => "TLS",
                TlsMode::Opportunistic => "STARTTLS when offered",
                TlsMode::Required => "STARTTLS required",
                TlsMode::None => "no TLS",
            },
            self.from,
            self.per_minute
        )
    }

    /// The sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }
}

/// Sends messages through one SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    config: SmtpConfig,
}

/// A message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `Message-ID` it was sent with.
    pub message_id: String,
    /// The server's answer (code and text).
    pub reply: String,
}

/// The stable `Message-ID` of outbox row `id` (the same on every attempt), in the sender's
/// domain.
pub fn message_id(mail: &OutboxMail, from: &Mailbox) -> String {
    format!(
        "<patron.{}.{}@{}>",
        mail.id,
        mail.created_at.timestamp_micros(),
        from.email.domain()
    )
}

fn smtp_error(e: lettre::transport::smtp::Error) -> MailError {
    let permanent = e.is_permanent();
    let mut message = e.to_string();
    if let Some(code) = e.status() {
        if !message.contains(&code.to_string()) {
            message = format!("{code} {message}");
        }
    }
    MailError::Smtp { message, permanent }
}

impl Mailer {
    /// A mailer for `config` (nothing is connected yet).
    pub fn new(config: SmtpConfig) -> Result<Self, MailError> {
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            .port(config.port)
            .timeout(Some(Duration::from_secs(30)));
        let params = || {
            TlsParameters::new(config.host.clone())
                .map_err(|e| bad("smtp-url", format!("TLS for {}: {e}", config.host)))
        };
        b = match config.tls {
            TlsMode::Wrapper => b.tls(Tls::Wrapper(params()?)),
            TlsMode::Opportunistic => b.tls(Tls::Opportunistic(params()?)),
            TlsMode::Required => b.tls(Tls::Required(params()?)),
            TlsMode::None => b.tls(Tls::None),
        };
        if let Some((u, p)) = &config.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Mailer {
            transport: b.build(),
            config,
        })
    }

    /// The configuration it sends with.
    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// Sends one outbox message (with its stable `Message-ID` and extra headers).
    pub async fn send(&self, mail: &OutboxMail) -> Result<Accepted, MailError> {
        let to: Mailbox = mail.recipient.parse().map_err(|_| MailError::Smtp {
            message: format!("'{}' is not an e-mail address", mail.recipient),
            permanent: true,
        })?;
        let id = message_id(mail, &self.config.from);
        let mut b = Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(id.clone()));
        for (name, value) in &mail.headers {
            let name = HeaderName::new_from_ascii(name.clone()).map_err(|_| MailError::Smtp {
                message: format!("header '{name}' is not valid"),
                permanent: true,
            })?;
            b = b.raw_header(HeaderValue::new(name, value.clone()));
        }
        let message = match &mail.body_html {
            Some(html) => b.multipart(MultiPart::alternative_plain_html(
                mail.body_text.clone(),
                html.clone(),
            )),
            None => b.body(mail.body_text.clone()),
        }
        .map_err(|e| MailError::Smtp {
            message: format!("cannot build the message: {e}"),
            permanent: true,
        })?;
        let response = self.transport.send(message).await.map_err(smtp_error)?;
        Ok(Accepted {
            message_id: id,
            reply: format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ),
        })
    }
}

/// What one round of [`deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Accepted by the server.
    pub sent: usize,
    /// Failed this time, queued again for later.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
}

/// Why a claimed message must not go out after all: marketing to a customer who opted out
/// (or was archived or deleted) after it was queued, a payment reminder of an item paid since.
async fn withheld(store: &Store, mail: &OutboxMail) -> Result<Option<&'static str>, MailError> {
    if let (Some(id), "reminder") = (mail.customer_id, mail.kind.as_str()) {
        return Ok((!store.reminder_still_owed(id, &mail.message_key).await?)
            .then_some("not sent: the item was paid after the reminder was queued"));
    }
    let (Some(id), "campaign") = (mail.customer_id, mail.kind.as_str()) else {
        return Ok(None);
    };
    match store.customer(id).await {
        Ok(c) if c.data.marketing_opt_out => {
            Ok(Some("not sent: the customer opted out of marketing"))
        }
        Ok(c) if c.archived_at.is_some() || c.merged_into.is_some() => {
            Ok(Some("not sent: the customer was archived or merged"))
        }
        Ok(_) => Ok(None),
        Err(StoreError::NotFound { .. }) => Ok(Some("not sent: the customer was deleted")),
        Err(e) => Err(e.into()),
    }
}

/// Test hook: with `PATRON_TEST_MAIL_PAUSE=before_send` (or `after_send`) the worker stops
/// for good at that point of the first message it handles, after saying so on standard error
/// (`mail test hook: paused after_send of message N`), so that a test can kill the process
/// between "sending" and "sent" at a known point. Unset (always, outside tests) it does nothing.
async fn test_pause(at: &str, mail: &OutboxMail) {
    if std::env::var("PATRON_TEST_MAIL_PAUSE").is_ok_and(|v| v == at) {
        eprintln!("mail test hook: paused {at} of message {}", mail.id);
        std::future::pending::<()>().await;
    }
}

/// Claims up to `limit` due messages and sends them one by one, recording each outcome.
///
/// This does not look at the rate limit ([`run_worker`] does), but its attempts count against
/// it for every worker on the database.
pub async fn deliver_due(store: &Store, mailer: &Mailer, limit: i64) -> Result<Round, MailError> {
    deliver(store, mailer, store.claim_due_mail(limit).await?).await
}

/// Sends claimed messages one by one, recording each outcome.
async fn deliver(
    store: &Store,
    mailer: &Mailer,
    claimed: Vec<OutboxMail>,
) -> Result<Round, MailError> {
    let mut round = Round::default();
    for mail in claimed {
        if let Some(why) = withheld(store, &mail).await? {
            store.mark_mail_failed(mail.id, why, true).await?;
            round.failed += 1;
            continue;
        }
        test_pause("before_send", &mail).await;
        match mailer.send(&mail).await {
            Ok(a) => {
                test_pause("after_send", &mail).await;
                store
                    .mark_mail_sent(mail.id, &a.message_id, &a.reply)
                    .await?;
                round.sent += 1;
            }
            Err(e) => {
                let permanent = matches!(
                    e,
                    MailError::Smtp {
                        permanent: true,
                        ..
                    }
                );
                let state = store
                    .mark_mail_failed(mail.id, &e.to_string(), permanent)
                    .await?;
                tracing::warn!(id = mail.id, recipient = %mail.recipient, error = %e, state, "mail not sent");
                if state == "failed" {
                    round.failed += 1;
                } else {
                    round.retried += 1;
                }
            }
        }
    }
    Ok(round)
}

/// Sends the outbox for ever, at most `config.per_minute` messages in any minute: first
/// requeues the messages a stopped sender left in `sending` (older than [`STUCK_AFTER`]), then
/// looks for due messages every `poll`.
///
/// The limit holds for all the workers on one database together (several `patron serve`
/// processes): each round claims at most `per_minute` minus the attempts any process made in
/// the last minute, counted in the outbox when claiming
/// (`Store::claim_due_mail_within_rate`: count and claim are serialised across processes,
/// so they do not overshoot; a restarted server also remembers the minute before it). The
/// count is taken again before every round.
pub async fn run_worker(store: Store, mailer: Mailer, poll: Duration) {
    match store
        .requeue_stuck_mail(chrono::Duration::from_std(STUCK_AFTER).unwrap_or_default())
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(n, "requeued mail left in 'sending' by a stopped sender"),
        Err(e) => tracing::warn!(error = %e, "cannot requeue stuck mail"),
    }
    let per_minute = mailer.config.per_minute as usize;
    // This worker's own attempts of the last minute, on the monotonic clock: the database's
    // count is taken on the wall clock, which may step forward and forget attempts; the larger
    // of the two counts.
    let mut sent_at: VecDeque<Instant> = VecDeque::new();
    loop {
        while sent_at
            .front()
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(60))
        {
            sent_at.pop_front();
        }
        let budget = per_minute.saturating_sub(sent_at.len()).min(50);
        if budget > 0 {
            let round = match store
                .claim_due_mail_within_rate(budget as i64, per_minute as i64, sent_at.len() as i64)
                .await
            {
                Ok(claimed) => deliver(&store, &mailer, claimed).await,
                Err(e) => Err(e.into()),
            };
            match round {
                Ok(r) => {
                    for _ in 0..(r.sent + r.retried + r.failed) {
                        sent_at.push_back(Instant::now());
                    }
                    if r.sent + r.retried + r.failed > 0 {
                        tracing::info!(
                            sent = r.sent,
                            retried = r.retried,
                            failed = r.failed,
                            "mail round"
                        );
                        // More may be due at once.
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "mail round failed"),
            }
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_read_with_their_tls_mode() {
        let c = SmtpConfig::parse(
            "smtp://ann:p%40ss@mail.example.com:2525",
            "Shop <shop@example.com>",
            None,
        )
        .unwrap();
        assert_eq!(c.host, "mail.example.com");
        assert_eq!(c.port, 2525);
        assert_eq!(c.tls, TlsMode::Opportunistic);
        assert_eq!(c.credentials, Some(("ann".into(), "p@ss".into())));
        assert!(!c.describe().contains("p@ss"));
        let c = SmtpConfig::parse("smtps://mail.example.com", "shop@example.com", Some(5)).unwrap();
        assert_eq!((c.port, c.tls, c.per_minute), (465, TlsMode::Wrapper, 5));
        let c = SmtpConfig::parse("smtp://127.0.0.1:25?tls=none", "a@b.c", None).unwrap();
        assert_eq!(c.tls, TlsMode::None);
        let c = SmtpConfig::parse("smtp://[::1]:2525", "a@b.c", None).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 2525));
        let c = SmtpConfig::parse("smtps://[::1]", "a@b.c", None).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 465));
        for (url, from, field) in [
            ("http://x", "a@b.c", "smtp-url"),
            ("smtp://x:port", "a@b.c", "smtp-url"),
            ("smtp://[::1:25", "a@b.c", "smtp-url"),
            ("smtp://:25", "a@b.c", "smtp-url"),
            ("smtp://x?tls=maybe", "a@b.c", "smtp-url"),
            ("smtp://x", "not an address", "mail-from"),
        ] {
            match SmtpConfig::parse(url, from, None) {
                Err(MailError::Config { field: f, .. }) => assert_eq!(f, field, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
