//! Patron's web interface: server-side rendered HTML (maud templates, which escape every
//! interpolated value) served from the same binary as the JSON API.
//!
//! - `/` redirects to the customer list;
//! - `/customers`: the list, with filters, sorting and keyset pagination;
//! - `/customers/{id}`: the customer card (profile form, contacts, orders, interaction timeline,
//!   change history, value panel); `POST` saves the profile with optimistic concurrency;
//! - `/dashboard`: the value dashboard with SVG plots drawn on the server;
//! - `POST /lang`: switches the language (the `lang` cookie, English or Simplified Chinese);
//! - `/static/...`: the style sheet, embedded with `include_str!`.
//!
//! Only `POST` changes anything; bad input (query, path, form) gives a 4xx page, never a 5xx.

mod catalog;
mod custody;
mod customers;
mod dashboard;
pub mod i18n;
mod import;
mod layout;
mod leads;
mod overview;
mod period;
mod score_editor;
mod svg;
mod values;
mod work;

use axum::extract::{FromRequestParts, RawForm, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use patron_store::{Store, StoreError};

pub use i18n::Lang;
pub use overview::SnapshotFigures;

/// Who the store records as the author of changes made in the web interface (until logins exist).
pub const BY: &str = "web";

/// What every page handler gets.
#[derive(Clone, Debug)]
pub struct WebState {
    pub store: Store,
    pub hooks: Hooks,
    /// Background CSV imports started from the import page.
    pub imports: import::Jobs,
    /// The dashboard's period-over-period figures, per snapshot and period length.
    pub periods: period::Cache,
    /// The dashboard's whole-table counts and CLV histogram, per snapshot for a minute.
    pub figures: overview::FiguresCache,
}

/// A boxed future, for [`Hooks`].
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// Recomputes the stored value figures (the server's `value::refresh`); the new snapshot's id,
/// or the error's message.
pub type RefreshHook =
    std::sync::Arc<dyn Fn(Store) -> BoxFuture<Result<i64, String>> + Send + Sync>;

/// The score attributes of a customer (the server's `value::score_attributes`).
pub type AttributesHook = fn(
    &patron_store::ScoreProfile,
    &patron_store::CustomerValueRow,
) -> std::collections::BTreeMap<String, patron_value::score::AttrValue>;

/// What the web pages need from the server crate (which depends on this one): the value
/// refresh and the score attributes. Without them the Recompute button and the score model
/// preview say that they are not available.
#[derive(Clone, Default)]
pub struct Hooks {
    pub refresh: Option<RefreshHook>,
    pub score_attributes: Option<AttributesHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("refresh", &self.refresh.is_some())
            .field("score_attributes", &self.score_attributes.is_some())
            .finish()
    }
}

/// The web interface's routes without the server's hooks (see [`router_with`]).
pub fn router(store: Store) -> Router {
    router_with(store, Hooks::default())
}

/// The web interface's routes. It has no fallback, so that it can be merged into the API's
/// router (whose fallback answers unknown paths).
pub fn router_with(store: Store, hooks: Hooks) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/customers") }))
        .route("/customers", get(customers::list))
        .route(
            "/customers/{id}",
            get(customers::card).post(customers::save),
        )
        .route("/dashboard", get(overview::page))
        .route("/dashboard/recompute", post(overview::recompute))
        .route(
            "/score-model",
            get(score_editor::page).post(score_editor::submit),
        )
        .route(
            "/import",
            get(import::page)
                .post(import::upload)
                .layer(axum::extract::DefaultBodyLimit::max(import::UPLOAD_LIMIT)),
        )
        .route("/import/{id}", get(import::status))
        .route("/import/{id}/progress", get(import::progress))
        .route("/import/{id}/rejects.csv", get(import::rejects))
        .merge(work::routes())
        .merge(leads::routes())
        .route("/pool", get(custody::pool))
        .route("/pool/claim", post(custody::claim))
        .route("/pool/return", post(custody::give_back))
        .route("/pool/reclaim", post(custody::reclaim))
        .route("/admin/users", get(custody::users))
        .route("/admin/users/{id}/{what}", post(custody::change_user))
        .route("/admin/handover", post(custody::handover))
        .route("/admin/audit", get(custody::audit))
        .route("/admin/audit.csv", get(custody::audit_csv))
        .route("/lang", post(switch_language))
        .route("/static/patron.css", get(stylesheet))
        .with_state(WebState {
            store,
            hooks,
            imports: import::Jobs::default(),
            periods: period::Cache::default(),
            figures: overview::FiguresCache::default(),
        })
}

/// The request's language (from the `lang` cookie); never fails.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub lang: Lang,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            lang: Lang::from_headers(&parts.headers),
        })
    }
}

/// An HTML page response.
pub(crate) fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// An error page for a store error: 404 for a missing record, 400 for bad input, 409 for a
/// conflict, 503 when the database is unreachable, 500 (logged) otherwise.
pub(crate) fn store_error_page(lang: Lang, e: &StoreError) -> Response {
    let (status, title, message) = match e {
        StoreError::NotFound { .. } => (
            StatusCode::NOT_FOUND,
            lang.t("error.not_found"),
            lang.t("error.no_customer").to_string(),
        ),
        StoreError::Invalid(errs) => (
            StatusCode::BAD_REQUEST,
            lang.t("error.bad_request"),
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        StoreError::Conflict { message, .. } => {
            (StatusCode::CONFLICT, lang.t("error.title"), message.clone())
        }
        e if e.is_unavailable() => (
            StatusCode::SERVICE_UNAVAILABLE,
            lang.t("error.title"),
            lang.t("error.unavailable").to_string(),
        ),
        e => {
            tracing::error!(error = %e, "web page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.t("error.title"),
                lang.t("error.internal").to_string(),
            )
        }
    };
    error_page(lang, status, title, &message)
}

pub(crate) fn error_page(lang: Lang, status: StatusCode, title: &str, message: &str) -> Response {
    html(
        status,
        layout::page(
            lang,
            title,
            "",
            maud::html! {
                div.panel.error-page {
                    h1 { (title) }
                    p { (message) }
                    p { a href="/customers" { (lang.t("card.back")) } }
                }
            },
        ),
    )
}

/// Parses an `application/x-www-form-urlencoded` text leniently (invalid UTF-8 is replaced),
/// so no query or form can make an extractor reject the request.
pub(crate) fn parse_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn get_param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `POST /lang` with `lang=en|zh` and `back=/path`: sets the cookie and goes back.
async fn switch_language(RawForm(body): RawForm) -> Response {
    let pairs = parse_pairs(&body);
    let lang = get_param(&pairs, "lang")
        .and_then(Lang::parse)
        .unwrap_or_default();
    // Only local paths: never redirect to another site.
    let back = get_param(&pairs, "back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or("/customers");
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    let mut resp = Redirect::to(back).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

const CSS: &str = concat!(
    include_str!("../static/patron.css"),
    include_str!("../static/value.css")
);

async fn stylesheet(State(_): State<WebState>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        CSS,
    )
        .into_response()
}
