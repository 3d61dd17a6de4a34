//! `patron mail reminders`, `patron mail settings` and `patron survey send`: the mail that asks
//! (surveys) and reminds (payment reminders), see `patron_app::surveys_mail` and
//! `patron_app::reminders`.

use anyhow::Context;
use patron_domain::service::SurveyKind;
use patron_store::Store;

/// Queues the payment reminders due on `date` (default today, UTC).
pub async fn reminders(store: &Store, date: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
    let today = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let r = patron_app::reminders::run_reminders(store, today).await?;
    println!(
        "{} reminders queued, {} sent before, {} skipped (no e-mail address), {} items at a step on {today}",
        r.queued, r.already, r.skipped, r.due
    );
    if r.queued > 0 {
        eprintln!("`patron serve` sends them (see `patron mail outbox`)");
    }
    Ok(())
}

/// Prints the mail settings, or sets the `KEY=VALUE` ones given.
pub async fn settings(store: &Store, assignments: &[String]) -> anyhow::Result<()> {
    let session = super::custody::cli_session();
    for a in assignments {
        let (key, value) = a.split_once('=').with_context(|| {
            format!("'{a}': write KEY=VALUE, e.g. mail.reminder_days=-3,0,7,30")
        })?;
        let v =
            patron_app::surveys_mail::set_mail_setting(store, &session, key.trim(), value).await?;
        println!("{} = {}", key.trim(), v.replace('\n', "\\n"));
    }
    if !assignments.is_empty() {
        return Ok(());
    }
    for (key, value, default) in patron_app::surveys_mail::mail_settings(store).await? {
        println!(
            "{key} = {value}{}",
            if default { "   (default)" } else { "" }
        );
    }
    Ok(())
}

/// Mails customer `customer` a survey now.
pub async fn send_survey(
    store: &Store,
    customer: &str,
    kind: SurveyKind,
    lang: Option<&str>,
    ticket: Option<i64>,
) -> anyhow::Result<()> {
    let lang = lang
        .map(|l| l.parse::<patron_app::mail::MailLang>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--lang: {e}"))?;
    let id = super::credit::customer_id(store, customer).await?;
    let r = patron_app::surveys_mail::send_survey(
        store,
        &super::custody::cli_session(),
        id,
        kind,
        lang,
        ticket,
    )
    .await?;
    println!(
        "survey {} ({}, {}) queued to customer {} (outbox key survey:{}); `patron serve` sends it",
        r.id,
        r.kind.as_str(),
        r.lang,
        r.customer_id,
        r.id
    );
    Ok(())
}
