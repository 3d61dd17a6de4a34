//! Logins for the web pages: a login page, sessions in an HttpOnly SameSite=Lax cookie, CSRF
//! tokens on every state-changing form, and login rate limiting.
//!
//! - Every page but `/login` and `/static/...` needs a session; without one, GET redirects to
//!   `/login?next=...` and other methods get 403.
//! - Every POST (and PUT/PATCH/DELETE) needs the session's CSRF token: a `csrf` form field (every
//!   `<form method="post">` of the pages starts with [`csrf_field`], which reads the token the
//!   session layer put in the request's task scope), an `X-CSRF-Token` header, or, for multipart
//!   forms (file uploads), a `csrf` query parameter ([`multipart_action`]). The login form has its own token, bound to a short-lived cookie (double submit).
//! - The session cookie is `patron_session`: HttpOnly, SameSite=Lax, Path=/, 12 hours. It is
//!   marked `Secure` when the request came over https (`X-Forwarded-Proto: https` from a reverse
//!   proxy) or `PATRON_SECURE_COOKIES=1`; on plain http over loopback (`patron demo`) it cannot
//!   be, since browsers drop Secure cookies set over http. Run Patron behind an https proxy when
//!   it is reached from other machines.
//! - At most 5 failed logins per minute per user name and per client address, counted in the
//!   database by every server on it; then 429 with Retry-After.
//! - Role gates: analysts see no page with customer records, but the value dashboard's aggregate
//!   figures (without names); the dashboard, score-model editor and import pages are for admins
//!   and managers (and the dashboard for analysts); users and hand-over for admins and managers,
//!   the audit log for admins.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use patron_app::{Action, Session};
use patron_store::{Actor, Role, Store};

use crate::Lang;

/// Failed logins allowed per key (user name, client address) per window, counted by every
/// server on the database (`Store::begin_sign_in`).
pub const MAX_FAILURES: i64 = 5;
/// The rate limit's sliding window.
pub const WINDOW: Duration = Duration::from_secs(60);
const SESSION_COOKIE: &str = "patron_session";
const LOGIN_COOKIE: &str = "patron_login";
/// Largest form body the CSRF check reads (larger forms must be multipart).
const FORM_LIMIT: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct WebAuth {
    pub store: Store,
}

/// `/login` and `/logout`.
pub fn routes(auth: WebAuth) -> Router {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .with_state(auth)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Did the request come over https (a proxy's `X-Forwarded-Proto`, or `PATRON_SECURE_COOKIES=1`)?
pub(crate) fn secure(headers: &HeaderMap) -> bool {
    std::env::var("PATRON_SECURE_COOKIES").is_ok_and(|v| v == "1")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn client_ip(req_ext: &axum::http::Extensions) -> String {
    req_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into())
}

/// A page of the sign-in flow (no navigation: the visitor is not signed in yet).
fn page(status: StatusCode, lang: Lang, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Patron" }
                link rel="stylesheet" href="/static/patron.css";
                link rel="icon" href=(PreEscaped("data:,"));
            }
            body { main.content { div.panel.login { (body) } } }
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

fn safe_next(next: Option<&str>) -> String {
    next.filter(|b| crate::is_local_path(b))
        .unwrap_or("/")
        .to_string()
}

fn login_form(
    status: StatusCode,
    headers: &HeaderMap,
    next: &str,
    error: Option<&str>,
    username: &str,
) -> Response {
    let lang = Lang::from_headers(headers);
    let token = patron_store::random_secret(24);
    let body = html! {
        h1 { (lang.t("auth.sign_in_title")) }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form method="post" action="/login" id="login" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(next);
            label { (lang.t("auth.username")) " " input name="username" autocomplete="username" required value=(username); }
            label { (lang.t("auth.password")) " " input name="password" type="password" autocomplete="current-password" required; }
            button.primary type="submit" { (lang.t("auth.sign_in")) }
        }
    };
    let mut resp = page(status, lang, lang.t("auth.sign_in"), body);
    let secure = if secure(headers) { "; Secure" } else { "" };
    set_cookie(
        &mut resp,
        format!(
            "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
        ),
    );
    resp
}

async fn login_page(
    headers: HeaderMap,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let next = safe_next(
        pairs
            .iter()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.as_str()),
    );
    login_form(StatusCode::OK, &headers, &next, None, "")
}

async fn login(State(auth): State<WebAuth>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let lang = Lang::from_headers(&headers);
    let Ok(bytes) = to_bytes(req.into_body(), 64 * 1024).await else {
        return page(
            StatusCode::BAD_REQUEST,
            lang,
            lang.t("auth.sign_in"),
            html! { p { (lang.t("auth.bad_form")) } },
        );
    };
    let form: HashMap<String, String> = form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let next = safe_next(Some(get("next")));
    let username = get("username").trim().to_string();
    // The login form's token must match its cookie (a page of another site cannot read it).
    let expected = cookie(&headers, LOGIN_COOKIE);
    if expected.is_none() || expected.as_deref() != Some(get("csrf")) {
        return login_form(
            StatusCode::FORBIDDEN,
            &headers,
            &next,
            Some(lang.t("auth.expired")),
            &username,
        );
    }
    let keys = [
        format!("user:{}", username.to_lowercase()),
        format!("ip:{ip}"),
    ];
    // Counted in the database, so that every server on it counts the same attempts.
    let attempts = match auth.store.begin_sign_in(&keys, MAX_FAILURES, WINDOW).await {
        Ok(a) => a,
        Err(e) => return error(lang, &e),
    };
    let attempts = match attempts {
        Ok(ids) => ids,
        Err(wait) => {
            let mut resp = login_form(
                StatusCode::TOO_MANY_REQUESTS,
                &headers,
                &next,
                Some(&lang.t("auth.too_many").replace("{wait}", &wait.to_string())),
                &username,
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return resp;
        }
    };
    let actor = |id: Option<i64>| Actor {
        id,
        name: username.clone(),
        ip: Some(ip.clone()),
    };
    match auth.store.authenticate(&username, get("password")).await {
        Ok(Some(user)) => {
            if let Err(e) = auth.store.forgive_sign_in(&attempts).await {
                return error(lang, &e);
            }
            let (secret, _) = match auth.store.create_session(user.id).await {
                Ok(s) => s,
                Err(e) => return error(lang, &e),
            };
            if let Err(e) = auth
                .store
                .audit(&actor(Some(user.id)), "login", None, Some("web"), None)
                .await
            {
                return error(lang, &e);
            }
            let mut resp = Redirect::to(&next).into_response();
            let secure = if secure(&headers) { "; Secure" } else { "" };
            set_cookie(
                &mut resp,
                format!(
                    "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                    patron_store::SESSION_HOURS * 3600
                ),
            );
            set_cookie(
                &mut resp,
                format!("{LOGIN_COOKIE}=; Path=/login; Max-Age=0"),
            );
            resp
        }
        Ok(None) => {
            // The attempt was counted before the check.
            if let Err(e) = auth
                .store
                .audit(&actor(None), "login_failed", None, Some("web"), None)
                .await
            {
                return error(lang, &e);
            }
            login_form(
                StatusCode::UNAUTHORIZED,
                &headers,
                &next,
                Some(lang.t("auth.wrong")),
                &username,
            )
        }
        Err(e) => error(lang, &e),
    }
}

fn error(lang: Lang, e: &patron_store::StoreError) -> Response {
    tracing::error!(error = %e, "login failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        lang.t("auth.error_title"),
        html! { h1 { (lang.t("auth.error")) } p { (lang.t("auth.try_again")) } },
    )
}

/// `POST /logout` (behind the session layer, so CSRF-checked).
async fn logout(State(auth): State<WebAuth>, req: Request) -> Response {
    if let Some(secret) = cookie(req.headers(), SESSION_COOKIE) {
        let _ = auth.store.end_session(&secret).await;
    }
    if let Some(me) = req.extensions().get::<Session>() {
        let _ = auth
            .store
            .audit(&me.actor, "logout", None, Some("web"), None)
            .await;
    }
    let mut resp = Redirect::to("/login").into_response();
    set_cookie(
        &mut resp,
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    resp
}

fn is_open(path: &str) -> bool {
    // `/u/{token}`: campaign mail's one-click unsubscribe (the signed token is the proof).
    // `/s/{token}`: a survey mail's answer link (the signed token is the proof).
    path == "/login"
        || path.starts_with("/static/")
        || path.starts_with("/u/")
        || path.starts_with("/s/")
}

/// The action a request to a page does (the permission table says who may).
pub fn page_action(method: &Method, path: &str) -> Action {
    let under = |p: &str| {
        path == p || path.starts_with(&format!("{p}/")) || path.starts_with(&format!("{p}."))
    };
    if path == "/" || path == "/logout" || path == "/lang" || path == "/work" || under("/inbox") {
        return Action::SignedIn;
    }
    if under("/admin/audit") {
        return Action::ReadAudit;
    }
    if path.starts_with("/admin/users/") {
        return Action::AdministerUsers;
    }
    // The export rules: managers read them, admins change them; the approval queue and its
    // decisions are for those who manage users.
    if path == "/admin/exports" && method == Method::POST {
        return Action::AdministerUsers;
    }
    if under("/exports/queue") || (path.starts_with("/exports/") && path.ends_with("/decide")) {
        return Action::ManageUsers;
    }
    if under("/admin") {
        return Action::ManageUsers;
    }
    if path == "/dashboard" {
        return Action::ViewValueReport;
    }
    if under("/dashboard") {
        return Action::RefreshValues;
    }
    if under("/score-model") {
        return Action::EditScoreModel;
    }
    if under("/import") {
        return Action::Import;
    }
    if path == "/pool/reclaim" {
        return Action::ReclaimPool;
    }
    if path.starts_with("/customers/") && (path.ends_with("/archive") || path.ends_with("/restore"))
    {
        return Action::Archive;
    }
    if path.starts_with("/customers/") && path.ends_with("/purge") {
        return Action::Purge;
    }
    if under("/work/receivables/holds") {
        return Action::ApproveCredit;
    }
    if under("/work/followup/cadence") {
        return Action::SetCadence;
    }
    if under("/work/service/escalate") {
        return Action::EscalateTickets;
    }
    if under("/work/review") {
        return Action::ReviewReps;
    }
    if path.starts_with("/settings/") {
        return Action::SignedIn;
    }
    if path.starts_with("/work/campaigns/") {
        return if method == Method::GET || method == Method::HEAD {
            Action::ViewCampaigns
        } else {
            Action::ManageCampaigns
        };
    }
    if path == "/work/campaigns" {
        return if method == Method::GET || method == Method::HEAD {
            Action::ViewCampaigns
        } else {
            Action::ManageCampaigns
        };
    }
    Action::ReadRecords
}

/// May a user of `role` send `method` to `path`?
fn allowed(method: &Method, path: &str, role: Role) -> bool {
    patron_app::permissions::allowed(role, page_action(method, path))
}

fn forbidden_page(lang: Lang, message_key: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        lang,
        lang.t("auth.not_allowed"),
        html! {
            h1 { (lang.t("auth.not_allowed")) }
            p { (lang.t(message_key)) }
            p { a href="/customers" { (lang.t("auth.back")) } }
        },
    )
}

/// Middleware on the web pages: session, CSRF, role gates, and the CSRF token written into
/// every POST form of the page sent back.
pub async fn session_layer(State(auth): State<WebAuth>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/") || path == "/openapi.json" || is_open(&path) {
        return next.run(req).await;
    }
    let lang = Lang::from_headers(req.headers());
    let session = match cookie(req.headers(), SESSION_COOKIE) {
        Some(secret) => match auth.store.session(&secret).await {
            Ok(s) => s,
            Err(e) => return error(lang, &e),
        },
        None => None,
    };
    let Some((user, csrf)) = session else {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &target)
                .finish();
            return Redirect::to(&format!("/login?{q}")).into_response();
        }
        return forbidden_page(lang, "auth.sign_in_first");
    };
    if !allowed(req.method(), &path, user.role) {
        return forbidden_page(lang, "auth.role");
    }
    // CSRF: every state-changing request carries the session's token.
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let (parts, body) = req.into_parts();
        let from_header = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let from_query = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned())
        });
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let (body, from_form) = if is_form && from_header.is_none() {
            let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
                return forbidden_page(lang, "auth.form_too_large");
            };
            let token = form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned());
            (Body::from(bytes), token)
        } else {
            (body, None)
        };
        let given = from_header.or(from_form).or(from_query);
        if given.as_deref() != Some(csrf.as_str()) {
            return forbidden_page(lang, "auth.csrf");
        }
        req = Request::from_parts(parts, body);
    }
    let ip = client_ip(req.extensions());
    let username = user.username.clone();
    let role = user.role;
    // The header's unread badge: one indexed count per page request.
    let unread = auth.store.unread_notifications(user.id).await.unwrap_or(0);
    let session = match Session::open(&auth.store, user, Some(ip)).await {
        Ok(s) => s,
        Err(e) => return error(lang, &e),
    };
    req.extensions_mut().insert(session);
    // The pages render the token into their forms and the sign-out button from this scope.
    SIGNED_IN
        .scope(
            SignedIn {
                username,
                csrf: csrf.clone(),
                role,
                unread,
            },
            next.run(req),
        )
        .await
}

/// Who the page being rendered is for: set by the session layer for the request's task.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    pub username: String,
    pub csrf: String,
    /// For the navigation: only the pages the role may open are offered.
    pub role: Role,
    /// The user's unread notifications when the request came in (the header's badge).
    pub unread: i64,
}

tokio::task_local! {
    static SIGNED_IN: SignedIn;
}

/// The signed-in user of the request being served (none outside the session layer, e.g. in
/// tests that call the pages directly).
pub(crate) fn signed_in_user() -> Option<SignedIn> {
    SIGNED_IN.try_with(SignedIn::clone).ok()
}

/// The hidden CSRF field every POST form of the pages starts with.
pub(crate) fn csrf_field() -> maud::Markup {
    match signed_in_user() {
        Some(s) => html! { input type="hidden" name="csrf" value=(s.csrf); },
        None => html! {},
    }
}

/// `action` with the CSRF token in its query, for multipart forms (whose body the session
/// layer does not read).
pub(crate) fn multipart_action(action: &str) -> String {
    match signed_in_user() {
        Some(s) => {
            let sep = if action.contains('?') { '&' } else { '?' };
            format!("{action}{sep}csrf={}", s.csrf)
        }
        None => action.to_string(),
    }
}

/// Signs `username` in (created as an admin when missing, without a password) and answers
/// `app` with every request carrying that session's cookie and CSRF token: for tests that
/// drive the pages without going through the login form.
pub async fn signed_in(
    app: Router,
    store: &Store,
    username: &str,
) -> Result<Router, patron_store::StoreError> {
    let user = match store.user_by_name(username).await {
        Ok(u) => u,
        Err(_) => {
            store
                .create_user(&patron_store::NewUser {
                    username: username.into(),
                    role: Some(Role::Admin),
                    ..Default::default()
                })
                .await?
        }
    };
    let (secret, csrf) = store.create_session(user.id).await?;
    let cookie = HeaderValue::from_str(&format!("{SESSION_COOKIE}={secret}")).expect("ascii");
    let token = HeaderValue::from_str(&csrf).expect("ascii");
    Ok(
        app.layer(axum::middleware::map_request(move |mut req: Request| {
            let (cookie, token) = (cookie.clone(), token.clone());
            async move {
                req.headers_mut().append(header::COOKIE, cookie);
                req.headers_mut().insert("x-csrf-token", token);
                req
            }
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn forms_carry_the_token_of_the_signed_in_user() {
        let render = || {
            crate::layout::page(
                Lang::En,
                "t",
                "",
                html! {
                    form method="post" action="/x" { (csrf_field()) }
                    form method="post" action=(multipart_action("/import")) enctype="multipart/form-data" {}
                },
            )
            .into_string()
        };
        let me = SignedIn {
            username: "ann<".into(),
            csrf: "TOK".into(),
            role: Role::Admin,
            unread: 0,
        };
        let page = SIGNED_IN.scope(me, async { render() }).await;
        // The language switch, the sign-out button and the page's own form.
        assert_eq!(
            page.matches("name=\"csrf\" value=\"TOK\"").count(),
            3,
            "{page}"
        );
        assert!(page.contains("action=\"/import?csrf=TOK\""), "{page}");
        assert!(
            page.contains(">Sign out</button>") && page.contains("ann&lt;"),
            "{page}"
        );
        let outside = render();
        assert!(
            !outside.contains("csrf") && !outside.contains("logout"),
            "{outside}"
        );
    }

    #[test]
    fn work_pages_by_role() {
        use Role::*;
        for (path, admin, manager, rep, analyst) in [
            ("/work", true, true, true, true),
            ("/work/followup", true, true, true, false),
            ("/work/receivables", true, true, true, false),
            ("/customers/7/brief", true, true, true, false),
            (
                "/work/receivables/holds/3/approve",
                true,
                true,
                false,
                false,
            ),
            ("/work/followup/cadence", true, true, false, false),
            ("/work/service/escalate", true, true, false, false),
            ("/work/review", true, true, false, false),
            ("/my-day", true, true, true, false),
            ("/inbox", true, true, true, true),
            ("/inbox/3/read", true, true, true, true),
            ("/customers/new", true, true, true, false),
            ("/customers/pick", true, true, true, false),
            ("/work/campaigns", true, true, false, true),
            ("/leads", true, true, true, false),
            ("/leads/3/convert", true, true, true, false),
            ("/dashboard", true, true, false, true),
            ("/dashboard/recompute", true, true, false, false),
            ("/score-model", true, true, false, false),
            ("/pool", true, true, true, false),
            ("/pool/claim", true, true, true, false),
            ("/admin/users", true, true, false, false),
            ("/admin/handover", true, true, false, false),
            ("/admin/audit", true, false, false, false),
            ("/admin/audit.csv", true, false, false, false),
            ("/pool/reclaim", true, true, false, false),
            ("/import/7/rejects.csv", true, true, false, false),
        ] {
            for (role, want) in [
                (Admin, admin),
                (Manager, manager),
                (Rep, rep),
                (Analyst, analyst),
            ] {
                assert_eq!(
                    allowed(&Method::GET, path, role),
                    want,
                    "{path} for {role:?}"
                );
            }
        }
    }

    #[test]
    fn creating_a_campaign_is_for_managers() {
        assert!(allowed(&Method::GET, "/work/campaigns", Role::Analyst));
        assert!(!allowed(&Method::POST, "/work/campaigns", Role::Analyst));
        assert!(allowed(&Method::POST, "/work/campaigns", Role::Manager));
    }

    async fn text(resp: Response) -> String {
        let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn sign_in_pages_speak_the_language_of_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; lang=zh"));
        let zh = Lang::from_headers(&headers);
        let page = text(login_form(
            StatusCode::UNAUTHORIZED,
            &headers,
            "/customers",
            Some(zh.t("auth.wrong")),
            "",
        ))
        .await;
        for label in [
            "登录 Patron",
            "用户名",
            "密码",
            "用户名或密码错误。",
            "lang=\"zh-CN\"",
        ] {
            assert!(page.contains(label), "{label}: {page}");
        }
        assert!(
            !page.contains("Sign in") && !page.contains("Password"),
            "{page}"
        );
        let refused = text(forbidden_page(zh, "auth.role")).await;
        assert!(
            refused.contains("无权访问") && refused.contains("返回"),
            "{refused}"
        );
        let en = text(login_form(StatusCode::OK, &HeaderMap::new(), "/", None, "")).await;
        assert!(en.contains("Sign in to Patron") && en.contains("User name"));
    }

    #[test]
    fn only_local_paths_are_followed() {
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "/ /evil.example",
            "/a\u{7f}b",
            "/a\r\nSet-Cookie: x=y",
            "https://evil.example",
            "evil",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(Some("/customers?q=a%20b")), "/customers?q=a%20b");
        assert_eq!(safe_next(None), "/");
    }
}
