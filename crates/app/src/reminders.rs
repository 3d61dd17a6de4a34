//! Payment reminders by mail: each unpaid instalment (or invoice without a plan) gets a
//! reminder at each step of a schedule of days relative to its due date (the setting
//! `mail.reminder_days`, default `-3,0,7,30`: three days before, on the day, 7 and 30 days
//! after). A run ([`run_reminders`]; `patron serve` every 15 minutes when the setting
//! `mail.reminders` is on, `patron mail reminders`) queues the latest step an item has reached,
//! keyed `reminder:{invoice}:{instalment}:{step}` in the outbox, so each step is sent once
//! however often the job runs, and a step missed (the server was down) is not sent late once a
//! later one is due. Paid items get nothing (and a queued reminder of an item paid meanwhile is
//! not sent); customers without an e-mail address, archived or merged ones are skipped. Each
//! reminder sent is an e-mail interaction on the customer's timeline, by `system` (written by the
//! outbox when the SMTP server accepts it).

use chrono::NaiveDate;
use patron_domain::receivable::OpenItem;
use patron_store::{reminder_key, NewMail, Store, StoreError, Visibility};

use crate::mail::MailLang;
use crate::surveys_mail::{mail_lang, switch};
use crate::AppError;

/// `on` or `off`: `patron serve` mails payment reminders every 15 minutes. Default: on when
/// the server sends mail.
pub const ENABLED_KEY: &str = "mail.reminders";
/// The reminder schedule: days relative to the due date, comma-separated.
pub const SCHEDULE_KEY: &str = "mail.reminder_days";
/// The default of [`SCHEDULE_KEY`].
pub const DEFAULT_SCHEDULE: [i64; 4] = [-3, 0, 7, 30];

/// Reads a schedule (`-3,0,7,30`): whole days from -365 to 365, at least one; answered sorted
/// without repeats.
pub fn parse_schedule(s: &str) -> Result<Vec<i64>, StoreError> {
    let mut days = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let d: i64 = part.parse().map_err(|_| {
            StoreError::invalid(
                SCHEDULE_KEY,
                format!(
                    "'{}' is not a whole number of days (e.g. -3,0,7,30)",
                    patron_domain::excerpt(part)
                ),
            )
        })?;
        if !(-365..=365).contains(&d) {
            return Err(StoreError::invalid(
                SCHEDULE_KEY,
                "each step is -365 to 365 days from the due date",
            ));
        }
        days.push(d);
    }
    if days.is_empty() {
        return Err(StoreError::invalid(
            SCHEDULE_KEY,
            "needs at least one step (e.g. -3,0,7,30)",
        ));
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// The schedule in effect (the setting, else [`DEFAULT_SCHEDULE`]; a bad stored value is
/// logged and the default used).
pub async fn schedule(store: &Store) -> Result<Vec<i64>, StoreError> {
    Ok(match store.setting(SCHEDULE_KEY).await? {
        Some(v) => parse_schedule(&v).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "bad reminder schedule; using the default");
            DEFAULT_SCHEDULE.to_vec()
        }),
        None => DEFAULT_SCHEDULE.to_vec(),
    })
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemindersRun {
    /// Unpaid items at a step of the schedule.
    pub due: usize,
    /// Reminders queued now.
    pub queued: usize,
    /// Items whose step was reminded before.
    pub already: usize,
    /// Items of customers without an e-mail address (or archived, merged).
    pub skipped: usize,
}

fn what(item: &OpenItem, lang: MailLang) -> String {
    match (item.instalment, lang) {
        (Some(n), MailLang::En) => format!("instalment {n} of invoice {}", item.invoice_number),
        (None, MailLang::En) => format!("invoice {}", item.invoice_number),
        (Some(n), MailLang::Zh) => format!("发票 {} 的第 {n} 期分期款", item.invoice_number),
        (None, MailLang::Zh) => format!("发票 {}", item.invoice_number),
    }
}

fn message(name: &str, item: &OpenItem, days: i64, lang: MailLang) -> (String, String) {
    let w = what(item, lang);
    let due = item.due_on.format("%Y-%m-%d");
    let amount = item.open;
    match lang {
        MailLang::En => {
            let subject = format!("Payment reminder: {w}");
            let line = if days < 0 {
                format!("a friendly reminder: {w}, {amount}, is due on {due}.")
            } else if days == 0 {
                format!("a friendly reminder: {w}, {amount}, is due today ({due}).")
            } else {
                format!("{w}, {amount}, was due on {due} and is {days} days overdue. Please pay it at your earliest convenience.")
            };
            (
                subject,
                format!("Dear {name},\n\n{line}\n\nIf you have paid it already, please ignore this message.\n\nBest regards"),
            )
        }
        MailLang::Zh => {
            let subject = format!("付款提醒：{w}");
            let line = if days < 0 {
                format!("温馨提醒：{w}（{amount}）将于 {due} 到期。")
            } else if days == 0 {
                format!("温馨提醒：{w}（{amount}）今天（{due}）到期。")
            } else {
                format!("{w}（{amount}）已于 {due} 到期，现已逾期 {days} 天，请尽快付款。")
            };
            (
                subject,
                format!("{name}，您好：\n\n{line}\n\n如您已付款，请忽略此邮件。\n\n此致\n敬礼"),
            )
        }
    }
}

/// Queues the payment reminders due on `today` (see the module doc) for every customer (a
/// system job: no scope). Running it again the same day queues nothing more.
pub async fn run_reminders(store: &Store, today: NaiveDate) -> Result<RemindersRun, AppError> {
    let steps = schedule(store).await?;
    let lang = mail_lang(store).await?;
    let first = steps[0];
    let due_by = today - chrono::Duration::days(first);
    let mut run = RemindersRun::default();
    let mut items = store.open_items(None, &Visibility::All).await?;
    items.retain(|i| i.due_on <= due_by);
    let mut customers = std::collections::HashMap::new();
    for item in items {
        let days = (today - item.due_on).num_days();
        let Some(&step) = steps.iter().rev().find(|s| **s <= days) else {
            continue;
        };
        run.due += 1;
        let customer = match customers.get(&item.customer_id) {
            Some(c) => Option::clone(c),
            None => {
                let c = match store.customer(item.customer_id).await {
                    Ok(c) if c.archived_at.is_none() && c.merged_into.is_none() => Some(c),
                    Ok(_) | Err(StoreError::NotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                customers.insert(item.customer_id, c.clone());
                c
            }
        };
        let Some((c, email)) = customer.as_ref().and_then(|c| {
            c.data
                .email
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|e| (c, e.to_string()))
        }) else {
            run.skipped += 1;
            continue;
        };
        let key = reminder_key(item.invoice_id, item.instalment, step);
        let (subject, body) = message(&c.data.name, &item, days, lang);
        let mail = NewMail {
            message_key: key,
            customer_id: Some(item.customer_id),
            recipient: email.clone(),
            kind: "reminder".into(),
            subject,
            body_text: body,
            body_html: None,
            headers: Default::default(),
        };
        // Sent, the message is written on the customer's timeline by `system` (the outbox).
        if store.enqueue_mail(&[mail], "system").await? > 0 {
            run.queued += 1;
        } else {
            run.already += 1;
        }
    }
    Ok(run)
}

/// [`run_reminders`] when the setting `mail.reminders` is on (default: when this process sends
/// mail); `None` when it is off.
pub async fn run_if_enabled(
    store: &Store,
    today: NaiveDate,
) -> Result<Option<RemindersRun>, AppError> {
    if !switch(store, ENABLED_KEY).await? {
        return Ok(None);
    }
    run_reminders(store, today).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_read_and_checked() {
        assert_eq!(parse_schedule("30, 7,0,-3,7").unwrap(), vec![-3, 0, 7, 30]);
        for bad in ["", "x", "1,,y", "400"] {
            match parse_schedule(bad) {
                Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, SCHEDULE_KEY),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
