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
//!   customer id (and the campaign it came with) under a server secret (the setting
//!   `mail.unsubscribe_secret`, made on first use), so a token opts out its own customer and
//!   nobody else, and the opt-out is counted on its campaign;
//! - the composer of the web and the API ([`compose_preview`], [`compose_test`],
//!   [`compose_send`]): the same template rendered for one real recipient, a test message to the
//!   caller's own address, then the send, with this server's public address and SMTP status
//!   ([`configure`]);
//! - [`campaign_mail_counts`]: a campaign's messages queued, sent and failed, and the opt-outs
//!   through its links;
//! - the users' own mail ([`my_mail_settings`], [`mail_notifications`], [`mail_digests`]): their
//!   notifications and a daily "My day" digest, in their language, through the outbox.

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

/// The merge fields a template may use: the customer's name and company, their owner's name,
/// and two figures a campaign manager sees on the customer (orders and revenue, from the last
/// value refresh; 0 before one).
pub const MERGE_FIELDS: [&str; 5] = ["name", "company", "owner", "orders", "revenue"];

/// A campaign mail's template: subject and plain-text body with the [`MERGE_FIELDS`]
/// (`{name}`, `{company}`, `{owner}`, `{orders}`, `{revenue}`).
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
                if !MERGE_FIELDS.contains(&name) {
                    return Err(StoreError::invalid(
                        field,
                        format!(
                            "unknown merge field {{{}}} (use {{name}}, {{company}}, {{owner}}, {{orders}} or {{revenue}})",
                            patron_domain::excerpt(name)
                        ),
                    ));
                }
                rest = &after[close + 1..];
            }
        }
        Ok(())
    }

    fn merge(text: &str, c: &Customer, owner: &str, figures: &Figures) -> String {
        text.replace("{name}", &c.data.name)
            .replace(
                "{company}",
                c.data.company.as_deref().unwrap_or(&c.data.name),
            )
            .replace("{owner}", owner)
            .replace("{orders}", &figures.orders.to_string())
            .replace(
                "{revenue}",
                &format!(
                    "{}.{:02}",
                    figures.revenue_cents / 100,
                    (figures.revenue_cents % 100).abs()
                ),
            )
    }
}

/// A customer's figures for the merge fields.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    orders: i64,
    revenue_cents: i64,
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

fn mac(secret: &str, customer_id: i64, campaign_id: Option<i64>) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    match campaign_id {
        None => m.update(format!("unsubscribe:{customer_id}").as_bytes()),
        Some(c) => m.update(format!("unsubscribe:{customer_id}:{c}").as_bytes()),
    }
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
    Ok(token_with(&secret(store).await?, customer_id, None))
}

/// The unsubscribe token of customer `customer_id` in campaign `campaign_id`'s mail:
/// `{id}.{campaign}-{HMAC}` (an opt-out through it is counted on the campaign).
pub async fn campaign_unsubscribe_token(
    store: &Store,
    customer_id: i64,
    campaign_id: i64,
) -> Result<String, StoreError> {
    Ok(token_with(
        &secret(store).await?,
        customer_id,
        Some(campaign_id),
    ))
}

fn token_with(secret: &str, customer_id: i64, campaign_id: Option<i64>) -> String {
    let sig = hex(&mac(secret, customer_id, campaign_id)
        .finalize()
        .into_bytes());
    match campaign_id {
        None => format!("{customer_id}-{sig}"),
        Some(c) => format!("{customer_id}.{c}-{sig}"),
    }
}

/// The customer a token stands for, when its signature is right (checked in constant time).
pub async fn token_customer(store: &Store, token: &str) -> Result<Option<i64>, StoreError> {
    Ok(token_parts(store, token).await?.map(|(id, _)| id))
}

/// The customer a token stands for and the campaign it came with (if any), when its signature
/// is right (checked in constant time).
pub async fn token_parts(
    store: &Store,
    token: &str,
) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    let Some((head, sig)) = token.trim().split_once('-') else {
        return Ok(None);
    };
    let (id, campaign) = match head.split_once('.') {
        Some((id, c)) => match c.parse::<i64>() {
            Ok(c) => (id, Some(c)),
            Err(_) => return Ok(None),
        },
        None => (head, None),
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
    Ok(mac(&secret, id, campaign)
        .verify_slice(&bytes)
        .is_ok()
        .then_some((id, campaign)))
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
/// customer's history and the audit log in one transaction, and counted on the token's
/// campaign (when it came with one). An invalid token, or one of a customer that no longer
/// exists, is `NotFound`.
pub async fn unsubscribe(
    store: &Store,
    token: &str,
    ip: Option<String>,
) -> Result<Unsubscribed, AppError> {
    let Some((id, campaign)) = token_parts(store, token).await? else {
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
    if let Some(c) = campaign {
        store.record_campaign_unsubscribe(id, c).await?;
    }
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

/// `public_url` without a trailing slash, when it is an http(s) address without spaces.
pub fn check_public_url(public_url: &str) -> Result<String, StoreError> {
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
    campaign_id: i64,
    audience: &[Customer],
    template: &MailTemplate,
    public_url: &str,
) -> Result<Vec<RenderedMail>, AppError> {
    template.check()?;
    let base = check_public_url(public_url)?;
    let secret = secret(store).await?;
    let mut owners = std::collections::HashMap::new();
    let uses_figures = [&template.subject, &template.body]
        .iter()
        .any(|t| t.contains("{orders}") || t.contains("{revenue}"));
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
        let figures = if uses_figures {
            store
                .customer_value(c.id)
                .await?
                .map(|v| Figures {
                    orders: v.orders,
                    revenue_cents: v.revenue_cents,
                })
                .unwrap_or_default()
        } else {
            Figures::default()
        };
        let url = format!("{base}/u/{}", token_with(&secret, c.id, Some(campaign_id)));
        out.push(RenderedMail {
            customer_id: c.id,
            recipient: c.data.email.clone().unwrap_or_default().trim().to_string(),
            subject: MailTemplate::merge(&template.subject, c, &owner, &figures),
            body: MailTemplate::merge(&template.body, c, &owner, &figures)
                + &footer(template.lang, &url),
            unsubscribe_url: url,
        });
    }
    Ok(out)
}

/// The audience of campaign `campaign_id` (see [`campaign_audience`]): when the campaign has
/// members (customers picked for it), only those of them matching `filter`.
pub async fn audience_of(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
) -> Result<Vec<Customer>, AppError> {
    session.require(Action::ManageCampaigns)?;
    campaign(store, campaign_id).await?;
    let mut audience = campaign_audience(store, session, filter).await?;
    let members = store.campaign_member_ids(campaign_id).await?;
    if !members.is_empty() {
        let members: std::collections::HashSet<i64> = members.into_iter().collect();
        audience.retain(|c| members.contains(&c.id));
    }
    Ok(audience)
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
    let audience = audience_of(store, session, campaign_id, filter).await?;
    let total = audience.len();
    let shown = render_all(
        store,
        campaign_id,
        &audience[..n.min(total)],
        template,
        public_url,
    )
    .await?;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CampaignSend {
    /// Recipients in the audience.
    pub audience: usize,
    /// Messages queued now (those queued by an earlier send of the campaign are not again).
    pub queued: u64,
}

/// Queues campaign `campaign_id`'s mail to its audience (see [`audience_of`]): one outbox
/// message per recipient, keyed `campaign:{id}:{customer}`, with the RFC 8058 unsubscribe
/// headers; audited (action `campaign_mail`, the audience size as row count) in the same
/// transaction.
pub async fn send_campaign_mail(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
    template: &MailTemplate,
    public_url: &str,
) -> Result<CampaignSend, AppError> {
    let c = campaign(store, campaign_id).await?;
    let audience = audience_of(store, session, campaign_id, filter).await?;
    let rendered = render_all(store, campaign_id, &audience, template, public_url).await?;
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
            headers: unsubscribe_headers(&r.unsubscribe_url),
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

fn unsubscribe_headers(url: &str) -> std::collections::BTreeMap<String, String> {
    [
        ("List-Unsubscribe".to_string(), format!("<{url}>")),
        (
            "List-Unsubscribe-Post".to_string(),
            "List-Unsubscribe=One-Click".to_string(),
        ),
    ]
    .into_iter()
    .collect()
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
    let audience = audience_of(store, session, campaign_id, filter).await?;
    let Some(first) = audience.first() else {
        return Err(StoreError::invalid("audience", "nobody would receive this campaign").into());
    };
    let r = render_all(
        store,
        campaign_id,
        std::slice::from_ref(first),
        template,
        public_url,
    )
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
        headers: unsubscribe_headers(&harmless),
    };
    store.enqueue_mail(&[mail], &session.actor.name).await?;
    Ok(key)
}

// ---------------------------------------------------------------------------------------------
// How this process sends mail, for the composer and the users' mail.

/// How this server sends mail: the SMTP configuration in words (without the password; none:
/// mail is not configured and nothing is sent) and the public address the links point to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// E.g. `smtp://mail.example.com:587 (STARTTLS), from ...`.
    pub smtp: Option<String>,
    /// E.g. `https://crm.example.com`.
    pub public_url: Option<String>,
}

static DELIVERY: std::sync::RwLock<Option<Delivery>> = std::sync::RwLock::new(None);

/// Tells the composer and the users' mail how this process sends mail (set by `patron serve`
/// before serving; unset, mail is not configured).
pub fn configure(delivery: Delivery) {
    *DELIVERY.write().unwrap_or_else(|e| e.into_inner()) = Some(delivery);
}

/// See [`configure`].
pub fn delivery() -> Delivery {
    DELIVERY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Why the composer sent nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NothingSent {
    /// The caller has no e-mail address in their settings.
    NoAddress,
    /// No SMTP server is configured on this server.
    NotConfigured,
    /// The server's public address (for the unsubscribe links) is not configured.
    NoPublicUrl,
    /// Nobody is in the campaign's audience.
    NoRecipients,
}

impl NothingSent {
    /// The reason in English (the web words it in the user's language).
    pub fn english(self) -> &'static str {
        match self {
            NothingSent::NoAddress => {
                "nothing is sent: your user has no e-mail address (set it in your settings)"
            }
            NothingSent::NotConfigured => {
                "nothing is sent: mail is not configured on this server (ask an administrator)"
            }
            NothingSent::NoPublicUrl => {
                "nothing is sent: the server's public address for the unsubscribe links is not configured (ask an administrator)"
            }
            NothingSent::NoRecipients => "nothing is sent: nobody would receive this campaign",
        }
    }
}

fn public_url() -> Result<String, NothingSent> {
    delivery().public_url.ok_or(NothingSent::NoPublicUrl)
}

/// The composer's preview: the mail as one real recipient of the audience (the first) gets
/// it, and the audience's size (opted-out, archived and address-less customers left out).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Composed {
    /// Recipients of a send now.
    pub audience: usize,
    /// The first recipient's message (none when the audience is empty).
    pub mail: Option<ComposedMail>,
}

/// One rendered message of the composer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComposedMail {
    /// The customer it goes to.
    pub customer_id: i64,
    /// Their address.
    pub recipient: String,
    /// As sent.
    pub subject: String,
    /// As sent (with the unsubscribe footer).
    pub body: String,
}

/// The composer's preview of campaign `campaign_id`'s mail (managers and admins).
pub async fn compose_preview(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
    template: &MailTemplate,
) -> Result<Result<Composed, NothingSent>, AppError> {
    session.require(Action::ManageCampaigns)?;
    template.check()?;
    let url = match public_url() {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let (shown, audience) =
        preview_campaign_mail(store, session, campaign_id, filter, template, &url, 1).await?;
    Ok(Ok(Composed {
        audience,
        mail: shown.into_iter().next().map(|r| ComposedMail {
            customer_id: r.customer_id,
            recipient: r.recipient,
            subject: r.subject,
            body: r.body,
        }),
    }))
}

/// A test of campaign `campaign_id`'s mail to the caller's own address (their settings), as its
/// first recipient would get it (links that opt out nobody); answers the address. Nothing is
/// queued when the caller has no address, mail is not configured or nobody is in the audience.
pub async fn compose_test(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
    template: &MailTemplate,
) -> Result<Result<String, NothingSent>, AppError> {
    session.require(Action::ManageCampaigns)?;
    template.check()?;
    let d = delivery();
    let Some(to) = my_address(store, session).await? else {
        return Ok(Err(NothingSent::NoAddress));
    };
    if d.smtp.is_none() {
        return Ok(Err(NothingSent::NotConfigured));
    }
    let Some(url) = d.public_url else {
        return Ok(Err(NothingSent::NoPublicUrl));
    };
    if audience_of(store, session, campaign_id, filter)
        .await?
        .is_empty()
    {
        return Ok(Err(NothingSent::NoRecipients));
    }
    test_campaign_mail(store, session, campaign_id, filter, template, &url, &to).await?;
    Ok(Ok(to))
}

/// Sends campaign `campaign_id`'s mail to its audience (see [`send_campaign_mail`]). With
/// `expected` (the count the sender confirmed), refused when the audience changed meanwhile.
pub async fn compose_send(
    store: &Store,
    session: &Session,
    campaign_id: i64,
    filter: &CustomerFilter,
    template: &MailTemplate,
    expected: Option<usize>,
) -> Result<Result<CampaignSend, NothingSent>, AppError> {
    session.require(Action::ManageCampaigns)?;
    template.check()?;
    let d = delivery();
    if d.smtp.is_none() {
        return Ok(Err(NothingSent::NotConfigured));
    }
    let Some(url) = d.public_url else {
        return Ok(Err(NothingSent::NoPublicUrl));
    };
    let audience = audience_of(store, session, campaign_id, filter)
        .await?
        .len();
    if audience == 0 {
        return Ok(Err(NothingSent::NoRecipients));
    }
    if let Some(n) = expected {
        if n != audience {
            return Err(StoreError::invalid(
                "confirm",
                format!(
                    "the audience changed: it is now {audience} recipients, not {n}; confirm again"
                ),
            )
            .into());
        }
    }
    Ok(Ok(send_campaign_mail(
        store,
        session,
        campaign_id,
        filter,
        template,
        &url,
    )
    .await?))
}

async fn my_address(store: &Store, session: &Session) -> Result<Option<String>, AppError> {
    if session.user.id <= 0 {
        return Ok(None);
    }
    Ok(store.user_mail_settings(session.user.id).await?.email)
}

/// A campaign's mail: messages by state, the opt-outs that came through its links, and the
/// customers it brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CampaignMailCounts {
    /// Waiting in the outbox (or being sent).
    pub queued: i64,
    /// Accepted by the SMTP server.
    pub sent: i64,
    /// Failed for good.
    pub failed: i64,
    /// Customers who opted out through this campaign's unsubscribe links.
    pub unsubscribed: i64,
    /// Customers attributed to the campaign (as on the campaigns list).
    pub customers: i64,
}

/// Campaign `campaign_id` with its mail counts (admins, managers, analysts: counts only).
pub async fn campaign_mail_counts(
    store: &Store,
    session: &Session,
    campaign_id: i64,
) -> Result<(patron_store::CampaignReport, CampaignMailCounts), AppError> {
    session.require(Action::ViewCampaigns)?;
    let c = campaign(store, campaign_id).await?;
    let o = store
        .outbox_counts(Some(&format!("campaign:{campaign_id}:")))
        .await?;
    let unsubscribed = store.campaign_unsubscribe_count(campaign_id).await?;
    let counts = CampaignMailCounts {
        queued: o.queued + o.sending,
        sent: o.sent,
        failed: o.failed,
        unsubscribed,
        customers: c.customers,
    };
    Ok((c, counts))
}

// ---------------------------------------------------------------------------------------------
// The users' own mail: settings, notifications and the daily digest.

/// The caller's mail settings.
pub async fn my_mail_settings(
    store: &Store,
    session: &Session,
) -> Result<patron_store::UserMailSettings, AppError> {
    if session.user.id <= 0 {
        return Ok(Default::default());
    }
    Ok(store.user_mail_settings(session.user.id).await?)
}

/// Saves the caller's mail settings (checked: an address is required to receive anything),
/// audited.
pub async fn set_my_mail_settings(
    store: &Store,
    session: &Session,
    settings: patron_store::UserMailSettings,
) -> Result<patron_store::UserMailSettings, AppError> {
    if session.user.id <= 0 {
        return Err(AppError::Forbidden(
            "mail settings belong to a signed-in user".into(),
        ));
    }
    let detail = format!(
        "mail settings: notifications by mail {}, digest {}",
        if settings.notify_by_mail { "on" } else { "off" },
        settings
            .digest_hour
            .map_or_else(|| "off".to_string(), |h| format!("at {h:02}:00 UTC"))
    );
    let audited = store.audited(&session.actor, "update", None, Some(detail), None);
    let s = audited
        .set_user_mail_settings(session.user.id, settings)
        .await?;
    audited.finish_audit().await?;
    Ok(s)
}

fn zh(lang: &str) -> bool {
    lang == "zh"
}

fn link_line(zh: bool, link: Option<&str>) -> String {
    match (delivery().public_url, link) {
        (Some(base), Some(l)) if l.starts_with('/') => {
            let base = base.trim_end_matches('/');
            if zh {
                format!("\n\n打开：{base}{l}")
            } else {
                format!("\n\nOpen: {base}{l}")
            }
        }
        _ => String::new(),
    }
}

/// Queues a mail for each new notification of a user who receives them by mail (key
/// `notification:{id}`, in the user's language); every notification is looked at once (those of
/// users with mail off are marked and never mailed later). Notifications older than a day are
/// not mailed late. Answers how many messages were queued.
pub async fn mail_notifications(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, AppError> {
    let mut queued = 0;
    let mut settings = std::collections::HashMap::new();
    loop {
        let batch = store
            .unmailed_notifications(now - chrono::Duration::days(1), 200)
            .await?;
        if batch.is_empty() {
            break;
        }
        for u in &batch {
            if let std::collections::hash_map::Entry::Vacant(e) = settings.entry(u.user_id) {
                e.insert(store.user_mail_settings(u.user_id).await?);
            }
            let s = &settings[&u.user_id];
            let n = &u.notification;
            let mail = match (&s.email, s.notify_by_mail) {
                (Some(to), true) => {
                    let zh = zh(&s.lang);
                    let text = if zh {
                        n.kind
                            .message_zh(&n.params)
                            .unwrap_or_else(|| n.message.clone())
                    } else {
                        n.message.clone()
                    };
                    let title = n.kind.title(zh);
                    let subject =
                        format!("[Patron] {title}: {}", patron_domain::excerpt_n(&text, 80))
                            .replace(['\r', '\n'], " ");
                    Some(NewMail {
                        message_key: format!("notification:{}", n.id),
                        customer_id: None,
                        recipient: to.clone(),
                        kind: "notification".into(),
                        subject,
                        body_text: format!("{text}{}", link_line(zh, n.link.as_deref())),
                        body_html: None,
                        headers: Default::default(),
                    })
                }
                _ => None,
            };
            if store
                .mail_notification(n.id, mail.as_ref(), "system")
                .await?
            {
                queued += 1;
            }
        }
    }
    Ok(queued)
}

/// Queues the daily "My day" digest (overdue and today's tasks, tickets near breach) of the
/// users whose digest hour is `now`'s hour (UTC), or with `any_hour`, of every user with a
/// digest: once per user and day (key `digest:{user}:{date}`), in the user's language. Users
/// who see no customer records (analysts) get none. Answers how many were queued.
pub async fn mail_digests(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
    any_hour: bool,
) -> Result<u64, AppError> {
    use chrono::Timelike;
    let hours: Vec<i32> = if any_hour {
        (0..24).collect()
    } else {
        vec![now.hour() as i32]
    };
    let mut queued = 0;
    for h in hours {
        for (user_id, s) in store.digest_users(h).await? {
            let Some(to) = s.email.clone() else { continue };
            let key = format!("digest:{user_id}:{}", now.date_naive());
            if store.outbox_mail(&key).await?.is_some() {
                continue;
            }
            let user = store.user(user_id).await?;
            let session = Session::open(store, user, None).await?;
            let day = match crate::tasks::my_day(store, &session, now).await {
                Ok(d) => d,
                Err(AppError::Forbidden(_)) => continue,
                Err(e) => return Err(e),
            };
            let (subject, body) = digest_text(zh(&s.lang), now, &day);
            let mail = NewMail {
                message_key: key,
                customer_id: None,
                recipient: to,
                kind: "notification".into(),
                subject,
                body_text: body,
                body_html: None,
                headers: Default::default(),
            };
            queued += store.enqueue_mail(&[mail], "system").await?;
        }
    }
    Ok(queued)
}

fn digest_text(
    zh: bool,
    now: chrono::DateTime<chrono::Utc>,
    day: &crate::tasks::MyDay,
) -> (String, String) {
    let date = now.date_naive();
    let (overdue, today): (Vec<_>, Vec<_>) = day.tasks.iter().partition(|t| t.due_at < now);
    let w = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let subject = if zh {
        format!("[Patron] 我的一天 {date}")
    } else {
        format!("[Patron] My day {date}")
    };
    let task_line = |t: &&patron_domain::task::Task| {
        format!(
            "- {} {}{}: {}",
            t.due_at.format("%Y-%m-%d %H:%M"),
            t.kind.as_str(),
            t.customer_name
                .as_deref()
                .map(|c| format!(" · {c}"))
                .unwrap_or_default(),
            t.note
        )
    };
    let mut body = String::new();
    body.push_str(w("Overdue tasks", "逾期任务"));
    body.push('\n');
    if overdue.is_empty() {
        body.push_str(w("- none\n", "- 无\n"));
    }
    for t in &overdue {
        body.push_str(&task_line(t));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(w("Due today", "今日到期"));
    body.push('\n');
    if today.is_empty() {
        body.push_str(w("- none\n", "- 无\n"));
    }
    for t in &today {
        body.push_str(&task_line(t));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(w("My tickets near breach", "即将超时的工单"));
    body.push('\n');
    if day.tickets.is_empty() {
        body.push_str(w("- none\n", "- 无\n"));
    }
    for t in &day.tickets {
        body.push_str(&format!(
            "- #{} {} ({} {})\n",
            t.id,
            t.subject,
            w("due", "截止"),
            t.due_at.format("%Y-%m-%d %H:%M")
        ));
    }
    body.push_str(&link_line(zh, Some("/my-day")));
    (subject, body)
}
