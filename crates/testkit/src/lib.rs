//! The HTTP harness of Patron's integration tests.
//!
//! Every helper sends one request through a clone of an [`axum::Router`] with
//! [`tower::ServiceExt::oneshot`] (no socket, no server) and collects the whole answer into an
//! [`Answer`]: the status, the headers tests look at, and the body as text.
//!
//! - [`send`]: any hand-made request;
//! - [`get`], [`get_lang`]: a page, optionally in a language (the `lang` cookie);
//! - [`post_form`]: a URL-encoded form;
//! - [`call`], [`json_request`]: the JSON API, optionally with a bearer token;
//! - [`prometheus`]: a strict reader of the Prometheus text format (`/metrics`).
//!
//! The crate depends on no Patron crate, so every crate (the web interface, the JSON API, the
//! binary) can take it as a dev-dependency without a cycle.

#![deny(missing_docs)]

pub mod prometheus;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// One collected answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// The `Location` header, if any (redirects).
    pub location: Option<String>,
    /// The first `Set-Cookie` header, if any.
    pub set_cookie: Option<String>,
    /// The `Content-Type` header; empty when there is none.
    pub content_type: String,
    /// Every header, for the checks the fields above do not cover.
    pub headers: HeaderMap,
    /// The body, decoded as UTF-8 (invalid sequences replaced).
    pub body: String,
}

impl Answer {
    /// The body as JSON; [`Value::Null`] when it is empty or not JSON.
    pub fn json(&self) -> Value {
        self.try_json().unwrap_or(Value::Null)
    }

    /// The body as JSON: [`Value::Null`] when it is empty, the parse error when it is not JSON.
    pub fn try_json(&self) -> Result<Value, serde_json::Error> {
        if self.body.is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_str(&self.body)
        }
    }
}

/// Sends `req` through a clone of `app` and collects the answer.
///
/// # Panics
///
/// When the router fails (it never does: axum's error type is infallible), the body cannot be
/// read, or a header this collects is not visible ASCII.
pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = |name: HeaderName| headers.get(name).map(|v| v.to_str().unwrap().to_string());
    let location = text(header::LOCATION);
    let set_cookie = text(header::SET_COOKIE);
    let content_type = text(header::CONTENT_TYPE).unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        location,
        set_cookie,
        content_type,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET uri`, with no cookie of its own.
pub async fn get(app: &Router, uri: &str) -> Answer {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// `GET uri` in a language: the `lang={lang}` cookie, as the language switch sets it.
pub async fn get_lang(app: &Router, uri: &str, lang: &str) -> Answer {
    send(
        app,
        Request::get(uri)
            .header(header::COOKIE, format!("lang={lang}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// `POST uri` with `form` URL-encoded (`application/x-www-form-urlencoded`), pairs in order.
pub async fn post_form(app: &Router, uri: &str, form: &[(&str, &str)]) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    send(
        app,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// A JSON API request: `Authorization: Bearer {token}` when a token is given, and `body` as
/// `application/json` when there is one (otherwise an empty body and no content type).
///
/// For callers that add headers of their own before [`send`]ing it.
pub fn json_request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    req.body(body).unwrap()
}

/// Calls the JSON API: [`json_request`] sent through `app`. [`Answer::json`] reads the result.
pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    send(app, json_request(method, uri, token, body)).await
}
