//! Campaign mail from the API (the web composer's equivalents) and the caller's own mail
//! settings. Everything is decided in `patron_app::mail`; "nothing is sent" (no address, mail
//! not configured, no public address, nobody in the audience) answers 409 with its `reason`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_app::mail::{self, MailLang, MailTemplate, NothingSent};
use patron_store::{CustomerFilter, StoreError, UserMailSettings};
use serde::Deserialize;

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiJsonOrEmpty, ApiPath, JsonBody};
use crate::AppState;

/// What the composer is given: the template (the language's default where left out) and an
/// optional narrowing of the audience.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    /// `en` (default) or `zh`: the default template and the unsubscribe footer.
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Only customers with this status.
    #[serde(default)]
    pub status: Option<patron_domain::CustomerStatus>,
    /// Only customers of this region.
    #[serde(default)]
    pub region: Option<String>,
    /// For a send: the audience size the sender confirmed (refused when it changed).
    #[serde(default)]
    pub confirm: Option<usize>,
}

impl JsonBody for Compose {}
impl JsonBody for UserMailSettings {}

impl Compose {
    fn template(&self) -> Result<MailTemplate, ApiError> {
        let lang: MailLang = match self.lang.as_deref() {
            None => MailLang::En,
            Some(l) => l
                .parse()
                .map_err(|e: String| ApiError::from(StoreError::invalid("lang", e)))?,
        };
        let mut t = MailTemplate::default_for(lang);
        if let Some(s) = &self.subject {
            t.subject = s.clone();
        }
        if let Some(b) = &self.body {
            t.body = b.clone();
        }
        Ok(t)
    }

    fn filter(&self) -> CustomerFilter {
        CustomerFilter {
            status: self.status,
            region: self
                .region
                .as_ref()
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty()),
            exclude_opted_out: true,
            ..CustomerFilter::default()
        }
    }
}

fn nothing_sent(why: NothingSent) -> ApiError {
    let mut e = ApiError::conflict(why.english().to_string(), None);
    e.body.reason = Some(Box::new(match why {
        NothingSent::NoAddress => "no_address",
        NothingSent::NotConfigured => "mail_not_configured",
        NothingSent::NoPublicUrl => "no_public_url",
        NothingSent::NoRecipients => "no_recipients",
    }));
    e
}

/// `POST /api/campaigns/{id}/mail/preview`.
pub async fn preview(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJsonOrEmpty(c): ApiJsonOrEmpty<Compose>,
) -> Result<Response, ApiError> {
    let t = c.template()?;
    match mail::compose_preview(&state.store, &me, id, &c.filter(), &t).await? {
        Ok(p) => Ok(Json(p).into_response()),
        Err(why) => Err(nothing_sent(why)),
    }
}

/// `POST /api/campaigns/{id}/mail/test`.
pub async fn test(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJsonOrEmpty(c): ApiJsonOrEmpty<Compose>,
) -> Result<Response, ApiError> {
    let t = c.template()?;
    match mail::compose_test(&state.store, &me, id, &c.filter(), &t).await? {
        Ok(to) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "queued_to": to })),
        )
            .into_response()),
        Err(why) => Err(nothing_sent(why)),
    }
}

/// `POST /api/campaigns/{id}/mail/send`.
pub async fn send(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJsonOrEmpty(c): ApiJsonOrEmpty<Compose>,
) -> Result<Response, ApiError> {
    let t = c.template()?;
    match mail::compose_send(&state.store, &me, id, &c.filter(), &t, c.confirm).await? {
        Ok(s) => Ok((StatusCode::ACCEPTED, Json(s)).into_response()),
        Err(why) => Err(nothing_sent(why)),
    }
}

/// `GET /api/campaigns/{id}/mail`: the campaign's mail counts.
pub async fn counts(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let (_, counts) = mail::campaign_mail_counts(&state.store, &me, id).await?;
    Ok(Json(counts).into_response())
}

/// `GET /api/me/mail-settings`.
pub async fn settings(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    Ok(Json(mail::my_mail_settings(&state.store, &me).await?).into_response())
}

/// `PUT /api/me/mail-settings`.
pub async fn set_settings(
    State(state): State<AppState>,
    me: Me,
    ApiJson(s): ApiJson<UserMailSettings>,
) -> Result<Response, ApiError> {
    Ok(Json(mail::set_my_mail_settings(&state.store, &me, s).await?).into_response())
}
