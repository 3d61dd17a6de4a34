//! Campaign mail and its one-click unsubscribe.
//!
//! - [`campaign_audience`]: who a campaign's mail goes to: the customers matching the filter in
//!   the caller's scope, never archived or merged ones, never those who opted out of marketing,
//!   never those without an e-mail address;
//! - [`preview_campaign_mail`] / [`send_campaign_mail`]: the template with its merge fields
//!   (`{name}`, `{company}`, `{owner}`) rendered per recipient; sending queues one outbox
//!   message per recipient (key `campaign:{id}:{customer}`, so a second send of the same
//!   campaign queues nobody twice), each with `List-Unsubscribe` and `List-Unsubscribe-Post`
//!   (RFC 8058) and the link in the body, audited with the audience size;
//! - [`unsubscribe_token`] / [`unsubscribe`]: the link's token is an HMAC-SHA256 of the
//!   customer id under a server secret (the setting `mail.unsubscribe_secret`, made on first
//!   use), so a token opts out its own customer and nobody else.

use hmac::{Hmac, Mac};
use patron_domain::Customer;
use patron_store::{Actor, CustomerFilter, CustomerSort, NewMail, PageRequest, Store, StoreError};
use sha2::Sha256;

use crate::{Action, AppError, Session};

const SECRET_KEY: &str = "mail.unsubscribe_secret";

/// The language of a template's fixed parts (the unsubscribe footer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailLang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl std::str::FromStr for MailLang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(MailLang::En),
            "zh" | "zh-cn" => Ok(MailLang::Zh),
            other => Err(format!("'{other}' is not a language (en or zh)")),
        }
    }
}

/// A campaign mail's template: subject and plain-text body with merge fields `{name}`,
/// `{company}` and `{owner}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplate {
    /// One line.
    pub subject: String,
    /// Plain text; the unsubscribe link is added at the end.
    pub body: String,
    /// The language of the footer.
    pub lang: MailLang,
}

impl MailTemplate {
    /// The default template of `lang`.
    pub fn default_for(lang: MailLang) -> Self {
        match lang {
            MailLang::En => MailTemplate {
                subject: "News for {company}".into(),
                body: "Dear {name},\n\nwe have news we think {company} will like.\n\nBest regards,\n{owner}".into(),
                lang,
            },
            MailLang::Zh => MailTemplate {
                subject: "{company}，我们有新消息".into(),
                body: "{name}，您好：\n\n我们有一些{company}可能感兴趣的新消息。\n\n此致\n{owner}".into(),
                lang,
            },
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.subject.trim().is_empty() {
            return Err(StoreError::invalid("subject", "is required"));
        }
        if self.subject.contains(['\r', '\n']) {
            return Err(StoreError::invalid("subject", "must be one line"));
        }
        if self.body.trim().is_empty() {
            return Err(StoreError::invalid("body", "is required"));
        }
        for (field, text) in [("subject", &self.subject), ("body", &self.body)] {
            let mut rest = text.as_str();
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                let Some(close) = after.find('}') else { break };
                let name = &after[..close];
                if !["name", "company", "owner"].contains(&name) {
                    return Err(StoreError::invalid(
                        field,
                        format!(
                            "unknown merge field {{{}}} (use {{name}}, {{company}} or {{owner}})",
                            patron_domain::excerpt(name)
                        ),
                    ));
                }
                rest = &after[close + 1..];
            }
        }
        Ok(())
    }

    fn merge(text: &str, c: &Customer, owner: &str) -> String {
        text.replace("{name}", &c.data.name)
            .replace(
                "{company}",
                c.data.company.as_deref().unwrap_or(&c.data.name),
            )
            .replace("{owner}", owner)
    }
}

/// One rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedMail {
    /// The customer it goes to.
    pub customer_id: i64,
    /// Their address.
    pub recipient: String,
    /// Subject and body with the merge fields filled in and the unsubscribe footer.
    pub subject: String,
    /// See `subject`.
    pub body: String,
    /// The one-click unsubscribe URL.
    pub unsubscribe_url: String,
}

fn mac(secret: &str, customer_id: i64) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    m.update(format!("unsubscribe:{customer_id}").as_bytes());
    m
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn secret(store: &Store) -> Result<String, StoreError> {
    store
        .setting_or_insert(SECRET_KEY, &patron_store::random_secret(32))
        .await
}

/// The unsubscribe token of customer `customer_id`: `{id}-{HMAC}`.
pub async fn unsubscribe_token(store: &Store, customer_id: i64) -> Result<String, StoreError> {
    Ok(token_with(&secret(store).await?, customer_id))
}

fn token_with(secret: &str, customer_id: i64) -> String {
    format!(
        "{customer_id}-{}",
        hex(&mac(secret, customer_id).finalize().into_bytes())
    )
}

/// The customer a token stands for, when its signature is right (checked in constant time).
pub async fn token_customer(store: &Store, token: &str) -> Result<Option<i64>, StoreError> {
    let Some((id, sig)) = token.trim().split_once('-') else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&sig[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    let secret = secret(store).await?;
    Ok(mac(&secret, id).verify_slice(&bytes).is_ok().then_some(id))
}

/// What [`unsubscribe`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsubscribed {
    /// The customer is now opted out of marketing (audited).
    Done,
    /// They had opted out already; nothing changed.
    Already,
}

/// Opts out the customer of `token` (no sign-in: the token is the proof), recorded in the
/// customer's history and the audit log in one transaction. An invalid token, or one of a
/// customer that no longer exists, is `NotFound`.
pub async fn unsubscribe(
    store: &Store,
    token: &str,
    ip: Option<String>,
) -> Result<Unsubscribed, AppError> {
    let Some(id) = token_customer(store, token).await? else {
        return Err(StoreError::not_found("unsubscribe link", "given").into());
    };
    let customer = store.customer(id).await?;
    if customer.data.marketing_opt_out {
        return Ok(Unsubscribed::Already);
    }
    let actor = Actor {
        id: None,
        name: "unsubscribe link".into(),
        ip,
    };
    let audited = store.audited(
        &actor,
        "update",
        Some(id),
        Some("opted out of marketing by the customer's one-click unsubscribe link".into()),
        None,
    );
    let mut patch = patron_domain::CustomerPatch::new();
    patch.insert("marketing_opt_out".into(), serde_json::Value::Bool(true));
    audited
        .update_customer(id, &patch, None, "unsubscribe link")
        .await?;
    audited.finish_audit().await?;
    Ok(Unsubscribed::Done)
}

/// The customers a campaign mail with `filter` goes to, in the caller's scope: never archived,
/// merged or opted-out customers, never those without an e-mail address.
pub async fn campaign_audience(
    store: &Store,
    session: &Session,
    filter: &CustomerFilter,
) -> Result<Vec<Customer>, AppError> {
    session.require(Action::ManageCampaigns)?;
    session.require_records()?;
    let mut filter = filter.clone();
    filter.exclude_opted_out = true;
    filter.archived = false;
    let mut out = Vec::new();
    let mut page = PageRequest {
        limit: Some(500),
        after: None,
    };
    loop {
        let p = store
            .list_visible_customers(&filter, &session.visible, CustomerSort::Id, &page)
            .await?;
        out.extend(p.items.into_iter().filter(|c| {
            !c.data.marketing_opt_out
                && c.data
                    .email
                    .as_deref()
                    .is_some_and(|e| !e.trim().is_empty())
        }));
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    Ok(out)
}

fn footer(lang: MailLang, url: &str) -> String {
    match lang {
        MailLang::En => format!("\n\n--\nTo receive no more of these messages: {url}"),
        MailLang::Zh => format!("\n\n--\n如不想再收到此类邮件，请点击：{url}"),
    }
}

fn check_public_url(public_url: &str) -> Result<String, StoreError> {
    let u = public_url.trim().trim_end_matches('/');
    if !(u.starts_with("https://") || u.starts_with("http://")) || u.contains(char::is_whitespace) {
        return Err(StoreError::invalid(
            "public_url",
            "must be the server's address as the recipients reach it, e.g. https://crm.example.com",
        ));
    }
    Ok(u.to_string())
}

async fn render_all(
    store: &Store,
    audience: &[Customer],
    template: &MailTemplate,
    public_url: &str,
) -> Result<Vec<RenderedMail>, AppError> {
    template.check()?;
    let base = check_public_url(public_url)?;
    let secret = secret(store).await?;
    let mut owners = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(audience.len());
    for c in audience {
        let owner = match c.data.owner_id {
            Some(o) => {
                if let Some(name) = owners.get(&o) {
                    String::clone(name)
                } else {
                    let name = match store.user(o).await {
                        Ok(u) => u.display_name.unwrap_or(u.username),
                        Err(_) => String::new(),
                    };
                    owners.insert(o, name.clone());
                    name
                }
            }
            None => String::new(),
        };
        let url = format!("{base}/u/{}", token_with(&secret, c.id));
        out.push(RenderedMail {
            customer_id: c.id,
            recipient: c.data.email.clone().unwrap_or_default().trim().to_string(),
            subject: MailTemplate::merge(&template.subject, c, &owner),
            body: MailTemplate::merge(&template.body, c, &owner) + &footer(template.lang, &url),
            unsubscribe_url: url,
        });
    }
    Ok(out)
}

/// The campaign mail as the first `n` recipients would get it, and the audience's size.
pub async fn preview_campaign_mail(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
    template: &MailTemplate,
    public_url: &str,
    n: usize,
) -> Result<(Vec<RenderedMail>, usize), AppError> {
    campaign(store, campaign_id).await?;
    let audience = campaign_audience(store, session, filter).await?;
    let total = audience.len();
    let shown = render_all(store, &audience[..n.min(total)], template, public_url).await?;
    Ok((shown, total))
}

async fn campaign(store: &Store, id: i64) -> Result<patron_store::CampaignReport, StoreError> {
    store
        .campaigns()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| StoreError::not_found("campaign", id))
}

/// What [`send_campaign_mail`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignSend {
    /// Recipients in the audience.
    pub audience: usize,
    /// Messages queued now (those queued by an earlier send of the campaign are not again).
    pub queued: u64,
}

/// Queues campaign `campaign_id`'s mail to its audience (see [`campaign_audience`]): one
/// outbox message per recipient, keyed `campaign:{id}:{customer}`, with the RFC 8058
/// unsubscribe headers; audited (action `campaign_mail`, the audience size as row count) in the
/// same transaction.
pub async fn send_campaign_mail(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
    template: &MailTemplate,
    public_url: &str,
) -> Result<CampaignSend, AppError> {
    let c = campaign(store, campaign_id).await?;
    let audience = campaign_audience(store, session, filter).await?;
    let rendered = render_all(store, &audience, template, public_url).await?;
    let mails: Vec<NewMail> = rendered
        .into_iter()
        .map(|r| NewMail {
            message_key: format!("campaign:{campaign_id}:{}", r.customer_id),
            customer_id: Some(r.customer_id),
            recipient: r.recipient,
            kind: "campaign".into(),
            subject: r.subject,
            body_text: r.body,
            body_html: None,
            headers: [
                (
                    "List-Unsubscribe".to_string(),
                    format!("<{}>", r.unsubscribe_url),
                ),
                (
                    "List-Unsubscribe-Post".to_string(),
                    "List-Unsubscribe=One-Click".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
        })
        .collect();
    let audited = store.audited(
        &session.actor,
        "campaign_mail",
        None,
        Some(format!(
            "campaign {campaign_id} '{}': mail queued to its audience",
            patron_domain::excerpt(&c.name)
        )),
        Some(mails.len() as i64),
    );
    let queued = audited.enqueue_mail(&mails, &session.actor.name).await?;
    audited.finish_audit().await?;
    Ok(CampaignSend {
        audience: mails.len(),
        queued,
    })
}

/// Queues campaign `campaign_id`'s mail as its first recipient would get it, to `to` (the
/// sender checking it): kind `test`, with the unsubscribe headers, but its links point to
/// `/u/preview`, which opts out nobody. Returns the outbox key.
pub async fn test_campaign_mail(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
    template: &MailTemplate,
    public_url: &str,
    to: &str,
) -> Result<String, AppError> {
    campaign(store, campaign_id).await?;
    let audience = campaign_audience(store, session, filter).await?;
    let Some(first) = audience.first() else {
        return Err(StoreError::invalid("audience", "nobody would receive this campaign").into());
    };
    let r = render_all(store, std::slice::from_ref(first), template, public_url)
        .await?
        .remove(0);
    let harmless = format!("{}/u/preview", check_public_url(public_url)?);
    let key = format!(
        "campaign-test:{campaign_id}:{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let mail = NewMail {
        message_key: key.clone(),
        customer_id: None,
        recipient: to.trim().to_string(),
        kind: "test".into(),
        subject: r.subject,
        body_text: r.body.replace(&r.unsubscribe_url, &harmless),
        body_html: None,
        headers: [
            ("List-Unsubscribe".to_string(), format!("<{harmless}>")),
            (
                "List-Unsubscribe-Post".to_string(),
                "List-Unsubscribe=One-Click".to_string(),
            ),
        ]
        .into_iter()
        .collect(),
    };
    store.enqueue_mail(&[mail], &session.actor.name).await?;
    Ok(key)
}
