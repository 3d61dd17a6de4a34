//! Patron's web interface: server-side rendered HTML (maud templates, which escape every
//! interpolated value) served from the same binary as the JSON API.
//!
//! - `/` redirects to the customer list;
//! - `/customers`: the list, with filters, sorting and keyset pagination, its total, chosen
//!   columns and `/customers.csv` (the filtered list as CSV);
//! - `/customers/{id}`: the customer card (profile form, contacts, orders, interaction timeline,
//!   change history, value panel); `POST` saves the profile with optimistic concurrency;
//! - `/dashboard`: the value dashboard with SVG plots drawn on the server;
//! - `POST /lang`: switches the language (the `lang` cookie, English or Simplified Chinese);
//! - `/static/...`: the style sheet, embedded with `include_str!`.
//!
//! Only `POST` changes anything; bad input (query, path, form) gives a 4xx page, never a 5xx.

mod access;
mod archive;
pub mod auth;
mod breakdown;
mod card;
mod catalog;
mod custody;
mod customers;
mod dashboard;
pub mod errors;
mod exports;
mod headers;
pub mod i18n;
mod import;
mod layout;
mod leads;
mod mailer;
mod myday;
mod newcustomer;
mod overview;
mod score_editor;
mod survey_link;
mod svg;
mod trajectory;
mod unsubscribe;
mod values;
mod work;

use axum::extract::{FromRequestParts, RawForm, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use patron_store::{Store, StoreError};

pub use headers::{security_headers, CONTENT_SECURITY_POLICY};
pub use i18n::{set_currency, Lang};
pub use unsubscribe::set_mail_status;

/// Who the store records as the author of changes made in the web interface (until logins exist).
pub const BY: &str = "web";

/// What every page handler gets.
#[derive(Clone, Debug)]
pub struct WebState {
    pub store: Store,
    /// The dashboard's period-over-period figures, per snapshot and period length.
    pub periods: patron_app::period::Cache,
    /// The dashboard's whole-table counts and CLV histogram, per snapshot for a minute.
    pub figures: overview::FiguresCache,
}

/// The web interface with its sign-in: `/login`, `/logout`, and every page behind the session
/// layer (session cookie, CSRF check, role gates from the permission table; see [`auth`]).
/// It has no fallback, so that the binary can merge it with the JSON API's router (whose
/// fallback answers unknown paths).
pub fn app(store: Store) -> Router {
    let auth = auth::WebAuth {
        store: store.clone(),
    };
    router(store.clone())
        .merge(auth::routes(auth.clone()))
        .merge(unsubscribe::routes(store.clone()))
        .merge(survey_link::routes(store))
        .layer(axum::middleware::from_fn_with_state(
            auth,
            auth::session_layer,
        ))
}

/// The pages without the sign-in layer: each request must carry a [`patron_app::Session`]
/// extension (what [`app`]'s session layer adds; tests add their own).
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/customers", get(customers::list))
        .route("/customers.csv", get(customers::list_csv))
        .route("/customers/views", post(customers::save_view))
        .route("/customers/views/{id}/delete", post(customers::delete_view))
        .route("/customers/bulk", post(customers::bulk))
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
        .route("/import/{id}/map", post(import::map))
        .merge(work::routes())
        .merge(card::routes())
        .merge(survey_link::card_routes())
        .merge(archive::routes())
        .merge(access::routes())
        .merge(myday::routes())
        .merge(newcustomer::routes())
        .merge(mailer::routes())
        .merge(leads::routes())
        .merge(exports::routes())
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
        .route("/static/sum.js", get(|| script(score_editor::SUM_JS)))
        .route("/static/keys.js", get(|| script(layout::KEYS_JS)))
        .route("/static/poll.js", get(|| script(import::POLL_JS)))
        .with_state(WebState {
            store,
            periods: patron_app::period::Cache::default(),
            figures: overview::FiguresCache::default(),
        })
}

/// `/`: the first page the viewer's role opens (the value dashboard for those who see no
/// customer records).
async fn home(me: Option<axum::Extension<patron_app::Session>>) -> Redirect {
    match me {
        Some(axum::Extension(me)) if !me.may(patron_app::Action::ReadRecords) => {
            Redirect::to("/dashboard")
        }
        _ => Redirect::to("/customers"),
    }
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
            errors::store_error_text(lang, e),
        ),
        StoreError::Invalid(_) => (
            StatusCode::BAD_REQUEST,
            lang.t("error.bad_request"),
            errors::store_error_text(lang, e),
        ),
        StoreError::Conflict { .. } => (
            StatusCode::CONFLICT,
            lang.t("error.title"),
            errors::store_error_text(lang, e),
        ),
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

/// An error page for a refused or failed use case: 403 for what the role may not do, else as
/// [`store_error_page`].
pub(crate) fn app_error_page(lang: Lang, e: &patron_app::AppError) -> Response {
    match e {
        patron_app::AppError::Forbidden(_) => error_page(
            lang,
            StatusCode::FORBIDDEN,
            lang.t("auth.not_allowed"),
            &errors::app_error_text(lang, e),
        ),
        patron_app::AppError::Store(e) => store_error_page(lang, e),
    }
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

/// A path on this site that is safe to redirect to: absolute, not `//host` (another site), and
/// without backslashes or control characters, which browsers drop or turn into `/` (so that
/// `/\t/evil.example` would lead to another host).
pub fn is_local_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.starts_with("//")
        && !p.chars().any(|c| c == '\\' || c.is_control())
        && !p[1..]
            .trim_start_matches(|c: char| c.is_whitespace())
            .starts_with('/')
}

/// `POST /lang` with `lang=en|zh` and `back=/path`: sets the cookie and goes back.
async fn switch_language(RawForm(body): RawForm) -> Response {
    let pairs = parse_pairs(&body);
    let lang = get_param(&pairs, "lang")
        .and_then(Lang::parse)
        .unwrap_or_default();
    // Only local paths: never redirect to another site.
    let back = get_param(&pairs, "back")
        .filter(|b| is_local_path(b))
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

async fn script(js: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        js,
    )
        .into_response()
}

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
