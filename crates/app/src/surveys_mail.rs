//! Surveys by mail: a CSAT (1-5) or NPS (0-10) question with one link per score, sent after a
//! ticket is resolved ([`after_ticket_resolved`], when the setting `mail.survey_after_resolve`
//! is on) and on demand ([`send_survey`]). The answer recorded through a link goes into the
//! survey records that feed the value score (the customer's `satisfaction`), once.
//!
//! - Each link is `{public address}/s/{token}`, the token `{request}-{score}-{HMAC}`: an
//!   HMAC-SHA256 of the survey request and the score under a server secret (the setting
//!   `mail.survey_secret`, made on first use), so a link answers its own survey with its own
//!   score and nothing else ([`token_answer`]);
//! - [`answer`] records the first answer (actor `survey link`, audited, the customer's value
//!   figures recomputed); a later one changes nothing and says so;
//! - the mail settings ([`MAIL_SETTINGS`], [`mail_settings`], [`set_mail_setting`]): whether a
//!   resolved ticket sends its survey, the language of automatic mail, the reminder schedule,
//!   and the survey templates (English and Chinese defaults ship with Patron).

use hmac::{Hmac, Mac};
use patron_domain::service::SurveyKind;
use patron_domain::Customer;
use patron_store::{
    Actor, NewMail, NewSurveyRequest, Store, StoreError, SurveyAnswer, SurveyRequest,
};
use sha2::Sha256;

use crate::mail::MailLang;
use crate::{Action, AppError, Session};

const SECRET_KEY: &str = "mail.survey_secret";
/// `on` or `off`: a resolved ticket mails its customer a CSAT survey. Default: on when this
/// process sends mail (an SMTP server is configured).
pub const AFTER_RESOLVE_KEY: &str = "mail.survey_after_resolve";
/// `en` or `zh`: the language of automatic mail (surveys after a resolved ticket, payment
/// reminders) and the default of on-demand surveys. Default `en`.
pub const LANG_KEY: &str = "mail.lang";

/// Whether this process sends mail (`patron serve` with an SMTP server, see
/// [`crate::mail::configure`]; elsewhere `PATRON_SMTP_URL`): the default of the on/off mail
/// settings.
pub fn mail_configured() -> bool {
    crate::mail::delivery().smtp.is_some()
        || std::env::var("PATRON_SMTP_URL").is_ok_and(|v| !v.trim().is_empty())
}

/// The address recipients reach the server at, what mail links start with
/// ([`crate::mail::configure`]; elsewhere `PATRON_PUBLIC_URL`).
pub fn public_url() -> Option<String> {
    crate::mail::delivery()
        .public_url
        .or_else(|| std::env::var("PATRON_PUBLIC_URL").ok())
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
}

fn base_url() -> Result<String, StoreError> {
    let Some(u) = public_url() else {
        return Err(StoreError::invalid(
            "public_url",
            "the server's public address (PATRON_PUBLIC_URL) is not set: the survey's links need it",
        ));
    };
    crate::mail::check_public_url(&u)
}

/// A setting that is `on` or `off`; absent, on exactly when this process sends mail.
pub(crate) async fn switch(store: &Store, key: &str) -> Result<bool, StoreError> {
    Ok(match store.setting(key).await?.as_deref().map(str::trim) {
        Some("on") => true,
        Some("off") => false,
        _ => mail_configured(),
    })
}

/// The language of automatic mail (setting `mail.lang`, default English).
pub async fn mail_lang(store: &Store) -> Result<MailLang, StoreError> {
    Ok(store
        .setting(LANG_KEY)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or_default())
}

pub(crate) fn lang_code(lang: MailLang) -> &'static str {
    match lang {
        MailLang::En => "en",
        MailLang::Zh => "zh",
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

fn mac(secret: &str, request: i64, score: i32) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    m.update(format!("survey:{request}:{score}").as_bytes());
    m
}

async fn secret(store: &Store) -> Result<String, StoreError> {
    store
        .setting_or_insert(SECRET_KEY, &patron_store::random_secret(32))
        .await
}

fn token_with(secret: &str, request: i64, score: i32) -> String {
    let sig: String = mac(secret, request, score)
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{request}-{score}-{sig}")
}

/// The link of `score` for survey request `request` (`{base}/s/{token}`).
pub async fn survey_link(
    store: &Store,
    base: &str,
    request: i64,
    score: i32,
) -> Result<String, StoreError> {
    Ok(format!(
        "{base}/s/{}",
        token_with(&secret(store).await?, request, score)
    ))
}

/// The survey request and score a token stands for, when its signature is right (checked in
/// constant time).
pub async fn token_answer(store: &Store, token: &str) -> Result<Option<(i64, i32)>, StoreError> {
    let mut parts = token.trim().splitn(3, '-');
    let (Some(r), Some(s), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (Ok(request), Ok(score)) = (r.parse::<i64>(), s.parse::<i32>()) else {
        return Ok(None);
    };
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&sig[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    let secret = secret(store).await?;
    Ok(mac(&secret, request, score)
        .verify_slice(&bytes)
        .is_ok()
        .then_some((request, score)))
}

// ---------------------------------------------------------------------------------------------
// Templates

/// The scores of a kind, lowest first.
pub fn scores(kind: SurveyKind) -> std::ops::RangeInclusive<i32> {
    match kind {
        SurveyKind::Csat => 1..=5,
        SurveyKind::Nps => 0..=10,
    }
}

/// A score in words (CSAT) or as is (NPS), in `lang`.
pub fn score_label(kind: SurveyKind, score: i32, lang: MailLang) -> String {
    const EN: [&str; 5] = [
        "very dissatisfied",
        "dissatisfied",
        "neither",
        "satisfied",
        "very satisfied",
    ];
    const ZH: [&str; 5] = ["非常不满意", "不满意", "一般", "满意", "非常满意"];
    match (kind, lang) {
        (SurveyKind::Csat, MailLang::En) if (1..=5).contains(&score) => {
            format!("{score} – {}", EN[(score - 1) as usize])
        }
        (SurveyKind::Csat, MailLang::Zh) if (1..=5).contains(&score) => {
            format!("{score} – {}", ZH[(score - 1) as usize])
        }
        _ => score.to_string(),
    }
}

/// The default survey mail of `kind` in `lang`: subject and plain-text body with merge fields
/// `{name}`, `{company}` and `{links}` (the list of score links).
pub fn default_template(kind: SurveyKind, lang: MailLang) -> (&'static str, &'static str) {
    match (kind, lang) {
        (SurveyKind::Csat, MailLang::En) => (
            "How did we do, {name}?",
            "Dear {name},\n\nhow satisfied are you with our service? One click is enough:\n\n{links}\n\nThank you for your answer.",
        ),
        (SurveyKind::Nps, MailLang::En) => (
            "Would you recommend us, {name}?",
            "Dear {name},\n\nhow likely are you to recommend us to a friend or colleague, from 0 (not at all likely) to 10 (extremely likely)? One click is enough:\n\n{links}\n\nThank you for your answer.",
        ),
        (SurveyKind::Csat, MailLang::Zh) => (
            "{name}，您对我们的服务满意吗？",
            "{name}，您好：\n\n您对我们的服务满意吗？点击一下即可：\n\n{links}\n\n感谢您的回答。",
        ),
        (SurveyKind::Nps, MailLang::Zh) => (
            "{name}，您会向朋友推荐我们吗？",
            "{name}，您好：\n\n您有多大可能向朋友或同事推荐我们？0 表示完全不可能，10 表示非常可能。点击一下即可：\n\n{links}\n\n感谢您的回答。",
        ),
    }
}

fn template_keys(kind: SurveyKind, lang: MailLang) -> (String, String) {
    let k = kind.as_str();
    let l = lang_code(lang);
    (
        format!("mail.survey_subject.{k}.{l}"),
        format!("mail.survey_body.{k}.{l}"),
    )
}

/// The survey mail of `kind` in `lang`: the settings `mail.survey_subject.{kind}.{lang}` and
/// `mail.survey_body.{kind}.{lang}` where set, else [`default_template`].
pub async fn template(
    store: &Store,
    kind: SurveyKind,
    lang: MailLang,
) -> Result<(String, String), StoreError> {
    let (sk, bk) = template_keys(kind, lang);
    let (ds, db) = default_template(kind, lang);
    Ok((
        store.setting(&sk).await?.unwrap_or_else(|| ds.into()),
        store.setting(&bk).await?.unwrap_or_else(|| db.into()),
    ))
}

fn merge(text: &str, c: &Customer) -> String {
    text.replace("{name}", &c.data.name).replace(
        "{company}",
        c.data.company.as_deref().unwrap_or(&c.data.name),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Rendered {
    subject: String,
    text: String,
    html: String,
}

fn render(
    subject: &str,
    body: &str,
    c: &Customer,
    kind: SurveyKind,
    lang: MailLang,
    links: &[(i32, String)],
) -> Rendered {
    let list: String = links
        .iter()
        .map(|(s, url)| format!("{}: {url}", score_label(kind, *s, lang)))
        .collect::<Vec<_>>()
        .join("\n");
    let buttons: String = links
        .iter()
        .map(|(s, url)| {
            format!(
                "<a href=\"{}\" style=\"display:inline-block;min-width:2em;margin:0 4px 6px 0;padding:8px 10px;border:1px solid #1f5fbf;border-radius:4px;color:#1f5fbf;text-decoration:none;text-align:center\">{}</a>",
                escape(url),
                escape(&score_label(kind, *s, lang))
            )
        })
        .collect();
    let body = merge(body, c);
    let html_body: String = body
        .split("\n\n")
        .map(|p| {
            if p.contains("{links}") {
                let (before, after) = p.split_once("{links}").unwrap_or((p, ""));
                let para = |t: &str| {
                    if t.trim().is_empty() {
                        String::new()
                    } else {
                        format!("<p>{}</p>", escape(t.trim()).replace('\n', "<br>"))
                    }
                };
                format!("{}<p>{buttons}</p>{}", para(before), para(after))
            } else {
                format!("<p>{}</p>", escape(p).replace('\n', "<br>"))
            }
        })
        .collect();
    Rendered {
        subject: merge(subject, c).replace(['\r', '\n'], " "),
        text: body.replace("{links}", &list),
        html: format!(
            "<!DOCTYPE html><html lang=\"{}\"><body style=\"font-family:sans-serif\">{html_body}</body></html>",
            if lang == MailLang::Zh { "zh-CN" } else { "en" }
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Sending

async fn queue(
    store: &Store,
    actor: &Actor,
    customer_id: i64,
    kind: SurveyKind,
    lang: Option<MailLang>,
    ticket_id: Option<i64>,
) -> Result<Option<SurveyRequest>, AppError> {
    let c = store.customer(customer_id).await?;
    let Some(email) = c
        .data
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        return Err(StoreError::invalid("email", "the customer has no e-mail address").into());
    };
    let base = base_url()?;
    let lang = match lang {
        Some(l) => l,
        None => mail_lang(store).await?,
    };
    let (subject, body) = template(store, kind, lang).await?;
    let secret = secret(store).await?;
    let req = NewSurveyRequest {
        customer_id,
        ticket_id,
        kind,
        lang: lang_code(lang).into(),
        by: actor.name.clone(),
    };
    let detail = match ticket_id {
        Some(t) => format!("{} survey mailed after ticket {t}", kind.as_str()),
        None => format!("{} survey mailed", kind.as_str()),
    };
    let audited = store.audited(
        actor,
        "survey_mail",
        Some(customer_id),
        Some(detail),
        Some(1),
    );
    let email = email.to_string();
    let made = audited
        .create_survey_request(&req, |rid| {
            let links: Vec<(i32, String)> = scores(kind)
                .map(|s| (s, format!("{base}/s/{}", token_with(&secret, rid, s))))
                .collect();
            let r = render(&subject, &body, &c, kind, lang, &links);
            NewMail {
                message_key: format!("survey:{rid}"),
                customer_id: Some(customer_id),
                recipient: email,
                kind: "survey".into(),
                subject: r.subject,
                body_text: r.text,
                body_html: Some(r.html),
                headers: Default::default(),
            }
        })
        .await?;
    Ok(made)
}

/// Mails customer `customer_id` a `kind` survey now (in `lang`, else the setting `mail.lang`),
/// following ticket `ticket_id` when given (a ticket's survey is sent once: a second is a
/// conflict). The caller must be able to change the customer; the customer needs an e-mail
/// address and the server its public address. Audited (`survey_mail`) with the queued message.
pub async fn send_survey(
    store: &Store,
    session: &Session,
    customer_id: i64,
    kind: SurveyKind,
    lang: Option<MailLang>,
    ticket_id: Option<i64>,
) -> Result<SurveyRequest, AppError> {
    session.guard(store, customer_id, true).await?;
    match queue(store, &session.actor, customer_id, kind, lang, ticket_id).await? {
        Some(r) => Ok(r),
        None => Err(StoreError::Conflict {
            code: None,
            message: format!(
                "the survey of ticket {} was sent already",
                ticket_id.unwrap_or_default()
            ),
            current_version: None,
        }
        .into()),
    }
}

/// After ticket `ticket_id` of customer `customer_id` was resolved: mails its CSAT survey when
/// the setting `mail.survey_after_resolve` is on (default: when this process sends mail) and
/// the customer has an e-mail address; once per ticket. Never fails the resolution: a problem
/// is logged. Returns the request when one was queued now.
pub async fn after_ticket_resolved(
    store: &Store,
    customer_id: i64,
    ticket_id: i64,
) -> Option<SurveyRequest> {
    match switch(store, AFTER_RESOLVE_KEY).await {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the survey setting");
            return None;
        }
    }
    let actor = Actor::system("system");
    match queue(
        store,
        &actor,
        customer_id,
        SurveyKind::Csat,
        None,
        Some(ticket_id),
    )
    .await
    {
        Ok(r) => r,
        Err(AppError::Store(StoreError::Invalid(errors)))
            if errors.iter().any(|e| e.field == "email") =>
        {
            tracing::info!(
                customer_id,
                ticket_id,
                "no survey mail: the customer has no e-mail address"
            );
            None
        }
        Err(e) => {
            tracing::warn!(customer_id, ticket_id, error = %e, "the survey mail of a resolved ticket was not queued");
            None
        }
    }
}

/// What a survey link is about, for its page: the request and the link's score (`None`: the
/// link is not valid).
pub async fn link_request(
    store: &Store,
    token: &str,
) -> Result<Option<(SurveyRequest, i32)>, StoreError> {
    let Some((request, score)) = token_answer(store, token).await? else {
        return Ok(None);
    };
    Ok(store.survey_request(request).await?.map(|r| (r, score)))
}

/// Records the answer of a survey link (no sign-in: the token is the proof), with an
/// optional comment, once: a survey answered already keeps its first answer
/// ([`SurveyAnswer::AlreadyAnswered`]). An invalid token is `NotFound`. The answer is audited
/// (actor `survey link`, with the client's address) and the customer's value figures follow.
pub async fn answer(
    store: &Store,
    token: &str,
    comment: Option<String>,
    ip: Option<String>,
) -> Result<(SurveyRequest, SurveyAnswer), AppError> {
    let Some((req, score)) = link_request(store, token).await? else {
        return Err(StoreError::not_found("survey link", "given").into());
    };
    let actor = Actor {
        id: None,
        name: "survey link".into(),
        ip,
    };
    let audited = store.audited(
        &actor,
        "update",
        Some(req.customer_id),
        Some(format!(
            "{} survey {} answered by the customer's link",
            req.kind.as_str(),
            req.id
        )),
        None,
    );
    let comment = comment
        .map(|c| c.trim().chars().take(2000).collect::<String>())
        .filter(|c| !c.is_empty());
    let done = audited
        .answer_survey_request(req.id, score, comment, "survey link", chrono::Utc::now())
        .await?;
    if matches!(done, SurveyAnswer::Recorded(_)) {
        crate::value::recompute_after_change(store, &[req.customer_id]).await;
    }
    Ok((req, done))
}

// ---------------------------------------------------------------------------------------------
// Settings

/// The mail settings a user may set, with what each holds.
pub const MAIL_SETTINGS: &[(&str, &str)] = &[
    (AFTER_RESOLVE_KEY, "on or off: a resolved ticket mails its customer a CSAT survey (default: on when the server sends mail)"),
    (LANG_KEY, "en or zh: the language of automatic mail (surveys after a ticket, payment reminders); default en"),
    (crate::reminders::ENABLED_KEY, "on or off: the server mails payment reminders every 15 minutes (default: on when the server sends mail)"),
    (crate::reminders::SCHEDULE_KEY, "days relative to an instalment's due date, e.g. -3,0,7,30 (the default): 3 days before, on the day, 7 and 30 days after"),
    ("mail.survey_subject.{csat|nps}.{en|zh}", "a survey mail's subject ({name}, {company})"),
    ("mail.survey_body.{csat|nps}.{en|zh}", "a survey mail's body ({name}, {company}; {links}, required: one link per score)"),
];

/// Checks a mail setting's value, answering it as stored.
pub fn check_mail_setting(key: &str, value: &str) -> Result<String, StoreError> {
    let v = value.trim();
    let on_off = || match v {
        "on" | "off" => Ok(v.to_string()),
        _ => Err(StoreError::invalid(key, "must be on or off")),
    };
    if key == AFTER_RESOLVE_KEY || key == crate::reminders::ENABLED_KEY {
        return on_off();
    }
    if key == LANG_KEY {
        return v
            .parse::<MailLang>()
            .map(|l| lang_code(l).to_string())
            .map_err(|_| StoreError::invalid(key, "must be en or zh"));
    }
    if key == crate::reminders::SCHEDULE_KEY {
        return crate::reminders::parse_schedule(v).map(|days| {
            days.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
    }
    for kind in [SurveyKind::Csat, SurveyKind::Nps] {
        for lang in [MailLang::En, MailLang::Zh] {
            let (sk, bk) = template_keys(kind, lang);
            if key == sk {
                if v.is_empty() || v.contains(['\r', '\n']) {
                    return Err(StoreError::invalid(key, "must be one line of text"));
                }
                return Ok(v.to_string());
            }
            if key == bk {
                if !v.contains("{links}") {
                    return Err(StoreError::invalid(
                        key,
                        "must contain {links} (where the score links go)",
                    ));
                }
                return Ok(value.replace("\\n", "\n"));
            }
        }
    }
    Err(StoreError::invalid(
        "key",
        format!("'{}' is not a mail setting", patron_domain::excerpt(key)),
    ))
}

/// Sets mail setting `key` (see [`MAIL_SETTINGS`]) after checking its value; managers and
/// admins only, audited.
pub async fn set_mail_setting(
    store: &Store,
    session: &Session,
    key: &str,
    value: &str,
) -> Result<String, AppError> {
    session.require(Action::ManageCampaigns)?;
    let v = check_mail_setting(key, value)?;
    store.set_setting(key, &v).await?;
    store
        .audit(
            &session.actor,
            "settings",
            None,
            Some(&format!("{key} set to {}", patron_domain::excerpt(&v))),
            None,
        )
        .await?;
    Ok(v)
}

/// The mail settings in effect: `(key, value, whether it is the default)`.
pub async fn mail_settings(store: &Store) -> Result<Vec<(String, String, bool)>, StoreError> {
    let mut out = Vec::new();
    for key in [AFTER_RESOLVE_KEY, crate::reminders::ENABLED_KEY] {
        let set = store.setting(key).await?;
        let on = switch(store, key).await?;
        out.push((
            key.to_string(),
            if on { "on" } else { "off" }.to_string(),
            set.is_none(),
        ));
    }
    let set = store.setting(LANG_KEY).await?;
    out.push((
        LANG_KEY.into(),
        lang_code(mail_lang(store).await?).into(),
        set.is_none(),
    ));
    let set = store.setting(crate::reminders::SCHEDULE_KEY).await?;
    out.push((
        crate::reminders::SCHEDULE_KEY.into(),
        crate::reminders::schedule(store)
            .await?
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        set.is_none(),
    ));
    for kind in [SurveyKind::Csat, SurveyKind::Nps] {
        for lang in [MailLang::En, MailLang::Zh] {
            let (sk, bk) = template_keys(kind, lang);
            let (s, b) = template(store, kind, lang).await?;
            let s_default = store.setting(&sk).await?.is_none();
            let b_default = store.setting(&bk).await?.is_none();
            out.push((sk, s, s_default));
            out.push((bk, b.replace('\n', "\\n"), b_default));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_named() {
        assert_eq!(
            check_mail_setting(AFTER_RESOLVE_KEY, " off ").unwrap(),
            "off"
        );
        assert!(check_mail_setting(AFTER_RESOLVE_KEY, "maybe").is_err());
        assert_eq!(check_mail_setting(LANG_KEY, "ZH").unwrap(), "zh");
        assert!(check_mail_setting("mail.survey_body.csat.en", "no links").is_err());
        assert!(
            check_mail_setting("mail.survey_body.nps.zh", "请点击\\n{links}")
                .unwrap()
                .contains('\n')
        );
        match check_mail_setting("mail.nothing", "x") {
            Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "key"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_token_names_its_request_and_score_only() {
        let t = token_with("s3cret", 12, 4);
        assert!(t.starts_with("12-4-"));
        assert_ne!(t, token_with("s3cret", 12, 5));
        assert_ne!(t, token_with("s3cret", 13, 4));
        assert_ne!(t, token_with("other", 12, 4));
    }
}
