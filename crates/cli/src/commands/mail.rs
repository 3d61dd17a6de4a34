//! `patron mail ...`: the SMTP configuration that `serve` sends the outbox with, a test
//! message, and the outbox itself (queued, sent and failed mail with the reason).

use anyhow::Context;
use clap::{Args, Subcommand};
use patron_mail::{Mailer, SmtpConfig};
use patron_store::{NewMail, Store};

/// How mail is sent (flags or environment); without `--smtp-url` nothing is sent.
#[derive(Args, Debug, Clone, Default)]
pub struct MailConfig {
    /// The SMTP server: smtp://user:pass@host:port (STARTTLS when the server offers it; add
    /// ?tls=required to insist) or smtps://user:pass@host:port (TLS from the start).
    #[arg(
        long,
        env = "PATRON_SMTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,
    /// The sender of every message: an address or "Name <address>".
    #[arg(long, env = "PATRON_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// At most this many messages a minute (default 60).
    #[arg(long, env = "PATRON_MAIL_PER_MINUTE", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub mail_per_minute: Option<u32>,
}

impl MailConfig {
    /// The mailer, or `None` when no SMTP server is configured.
    pub fn mailer(&self) -> anyhow::Result<Option<Mailer>> {
        let Some(url) = self.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let from = self
            .mail_from
            .as_deref()
            .context("--mail-from (PATRON_MAIL_FROM) is required with --smtp-url")?;
        let config = SmtpConfig::parse(url, from, self.mail_per_minute)?;
        Ok(Some(Mailer::new(config)?))
    }
}

#[derive(Args, Debug)]
pub struct MailArgs {
    #[command(subcommand)]
    pub action: MailAction,
}

#[derive(Subcommand, Debug)]
pub enum MailAction {
    /// Send one test message to ADDRESS now and print the server's answer.
    Test {
        address: String,
        #[command(flatten)]
        config: MailConfig,
    },
    /// Queue the mail of new notifications (users with mail notifications on) and the daily
    /// My day digest of every user who has one (once per user and day), now; `serve` does the
    /// same every minute (the digest at each user's hour).
    Digest {
        /// The server's address as recipients reach it (the links in the messages).
        #[arg(long, env = "PATRON_PUBLIC_URL", value_name = "URL")]
        public_url: Option<String>,
    },
    /// The outbox, newest first: queued, sending, sent and failed mail with the reason.
    Outbox {
        /// Only this state (queued, sending, sent, failed).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value = "50")]
        limit: i64,
    },
    /// Queue the payment reminders due today (each step of an item once; prints what it did).
    Reminders {
        /// Act as if today were this date (YYYY-MM-DD).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Show the mail settings (surveys, reminders, templates); KEY=VALUE sets one.
    Settings { assignments: Vec<String> },
}

pub async fn run(store: &Store, args: MailArgs) -> anyhow::Result<()> {
    match args.action {
        MailAction::Test { address, config } => test(store, &address, &config).await,
        MailAction::Outbox { state, limit } => outbox(store, state.as_deref(), limit).await,
        MailAction::Digest { public_url } => {
            patron_app::mail::configure(patron_app::mail::Delivery {
                smtp: None,
                public_url: public_url
                    .filter(|u| !u.trim().is_empty())
                    .map(|u| patron_app::mail::check_public_url(&u))
                    .transpose()
                    .context("--public-url (PATRON_PUBLIC_URL)")?,
            });
            let now = chrono::Utc::now();
            let notes = patron_app::mail::mail_notifications(store, now).await?;
            let digests = patron_app::mail::mail_digests(store, now, true).await?;
            println!("{notes} notification messages and {digests} digests queued");
            Ok(())
        }
        MailAction::Reminders { date } => super::mail_jobs::reminders(store, date).await,
        MailAction::Settings { assignments } => {
            super::mail_jobs::settings(store, &assignments).await
        }
    }
}

async fn test(store: &Store, address: &str, config: &MailConfig) -> anyhow::Result<()> {
    let mailer = config.mailer()?.context(
        "mail is not configured: set --smtp-url (PATRON_SMTP_URL) and --mail-from (PATRON_MAIL_FROM)",
    )?;
    // The test message goes through the outbox too (it is listed there with the answer).
    let key = format!(
        "test:{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    store
        .enqueue_mail(
            &[NewMail {
                message_key: key.clone(),
                customer_id: None,
                recipient: address.trim().into(),
                kind: "test".into(),
                subject: "Patron test message".into(),
                body_text: format!(
                    "This message checks Patron's mail settings ({}).",
                    mailer.config().describe()
                ),
                body_html: None,
                headers: Default::default(),
            }],
            &crate::commands::custody::cli_actor().name,
        )
        .await?;
    // Sent here and now, not by the server's worker.
    let m = store
        .claim_mail(&key)
        .await?
        .context("the test message could not be claimed from the outbox")?;
    let result = match mailer.send(&m).await {
        Ok(a) => {
            store.mark_mail_sent(m.id, &a.message_id, &a.reply).await?;
            Ok(a.reply)
        }
        Err(e) => {
            store.mark_mail_failed(m.id, &e.to_string(), true).await?;
            Err(e)
        }
    };
    match result {
        Ok(reply) => {
            println!(
                "sent to {address} via {}: the server answered \"{reply}\"",
                mailer.config().describe()
            );
            Ok(())
        }
        Err(e) => anyhow::bail!("not sent to {address}: {e}"),
    }
}

async fn outbox(store: &Store, state: Option<&str>, limit: i64) -> anyhow::Result<()> {
    let c = store.outbox_counts(None).await?;
    println!(
        "{} queued, {} sending, {} sent, {} failed",
        c.queued, c.sending, c.sent, c.failed
    );
    let rows = store.outbox(state, limit).await?;
    if rows.is_empty() {
        return Ok(());
    }
    println!(
        "{:>6} {:<8} {:<12} {:>8} {:<20} {:<30} detail",
        "id", "state", "kind", "attempts", "when", "recipient"
    );
    for m in rows {
        let when = m.sent_at.unwrap_or(match m.state.as_str() {
            "queued" => m.next_attempt_at,
            _ => m.created_at,
        });
        let detail = match m.state.as_str() {
            "sent" => m.smtp_reply.clone().unwrap_or_default(),
            _ => m.last_error.clone().unwrap_or_default(),
        };
        println!(
            "{:>6} {:<8} {:<12} {:>8} {:<20} {:<30} {}",
            m.id,
            m.state,
            m.kind,
            m.attempts,
            when.format("%Y-%m-%d %H:%M:%S"),
            m.recipient,
            patron_domain::excerpt_n(
                &format!(
                    "{} {}",
                    m.subject,
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!("— {detail}")
                    }
                ),
                120
            )
        );
    }
    Ok(())
}
