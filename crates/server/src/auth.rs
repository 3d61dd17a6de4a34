//! Who is calling the API: every `/api` route but `/api/health` (and `/openapi.json`) needs a
//! bearer token (`Authorization: Bearer ptk_...`, created with `patron token create` or
//! `POST /api/tokens`); without a valid one the answer is 401 JSON. Handlers take [`Me`], the
//! application layer's session: the user, which customers they see, and the audit's actor.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use patron_store::{Role, StoreError, User};

use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller: the application layer's session.
pub type Me = patron_app::Session;

/// Routes anyone may call.
pub fn is_public(path: &str) -> bool {
    path == "/api/health" || path == "/openapi.json" || !path.starts_with("/api/")
}

/// Middleware: authenticates bearer tokens on every non-public route.
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let Some(token) = token else {
        return unauthorized("authentication required: send Authorization: Bearer <token> (create one with `patron token create`)");
    };
    let user = match state.store.token_user(&token).await {
        Ok(Some(u)) => u,
        Ok(None) => return unauthorized("the token is unknown, revoked, or its user is disabled"),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let ip = client_ip(&req);
    let me = match Me::open(&state.store, user, ip).await {
        Ok(me) => me,
        Err(e) => return ApiError::from(e).into_response(),
    };
    req.extensions_mut().insert(me);
    next.run(req).await
}

/// The peer address, when the server was started with connection info.
pub fn client_ip(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

fn unauthorized(message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"patron\""),
    );
    resp
}

impl FromRequestParts<AppState> for Me {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts.extensions.get::<Me>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "authentication required",
            )
        })
    }
}

pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// Creates (when missing) a user with `role` and answers a new API token of theirs: for tests,
/// scripts and demos that need to act as someone.
pub async fn user_with_token(
    store: &patron_store::Store,
    username: &str,
    role: Role,
) -> Result<(User, String), StoreError> {
    let user = match store.user_by_name(username).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => {
            store
                .create_user(&patron_store::NewUser {
                    username: username.into(),
                    role: Some(role),
                    ..Default::default()
                })
                .await?
        }
        Err(e) => return Err(e),
    };
    let (_, secret) = store.create_token(user.id, "test").await?;
    Ok((user, secret))
}
