//! The API's error type: every failure becomes JSON `{code, message, field?, errors?,
//! current_version?, reason?}` with the matching status. Store errors map here; so do axum's own
//! rejections (see `extract`) and bare error responses produced by layers (see
//! [`ensure_json_errors`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_domain::FieldError;
use patron_store::StoreError;
use serde::Serialize;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    /// Machine-readable: `bad_request`, `malformed_json`, `bad_query`, `bad_path`, `validation`,
    /// `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `unavailable`, `internal`.
    pub code: &'static str,
    /// For people: what went wrong and, where possible, how to fix it.
    pub message: String,
    /// The offending field (body field path, query parameter, path parameter or header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field error, for validation failures (the first one is also in `field`/`message`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `conflict` on a versioned record: the version it is at now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// For a `conflict` of a known kind, a stable name of it (`credit_refused`, `pool_cap`,
    /// `not_in_pool`), so a client can word it in its own language.
    /// (Boxed: every handler returns this error type, which is kept small.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Box<&'static str>>,
}

/// An error answered to the client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {}", body.message)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                field: None,
                errors: Vec::new(),
                current_version: None,
                reason: None,
            },
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        let f = field.into();
        self.body.field = (!f.is_empty()).then_some(f);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 naming every bad field; `field` and `message` describe the first.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let first = errors
            .first()
            .cloned()
            .unwrap_or_else(|| FieldError::new("", "invalid input"));
        let message = errors
            .iter()
            .map(|e| {
                if e.field.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.field, e.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", message)
            .with_field(first.field);
        e.body.errors = errors;
        e
    }

    pub fn conflict(message: impl Into<String>, current_version: Option<i64>) -> Self {
        let mut e = Self::new(StatusCode::CONFLICT, "conflict", message);
        e.body.current_version = current_version;
        e
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }

    /// A generic error for a bare status (used for responses made by layers and for 405).
    pub fn from_status(status: StatusCode) -> Self {
        let reason = status.canonical_reason().unwrap_or("error");
        match status {
            StatusCode::NOT_FOUND => Self::not_found("no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                "method_not_allowed",
                "this method is not allowed on this resource (see /openapi.json)",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(crate::BODY_LIMIT),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::unsupported_media_type("expected Content-Type: application/json")
            }
            StatusCode::SERVICE_UNAVAILABLE => Self::unavailable("the service is unavailable"),
            s if s.is_server_error() => Self::internal(),
            _ => Self::new(status, "bad_request", reason.to_lowercase()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            return ApiError::unavailable(format!("{e}; try again later"));
        }
        match e {
            StoreError::NotFound { .. } => ApiError::not_found(e.to_string()),
            StoreError::Conflict {
                message,
                current_version,
                code,
            } => {
                let mut e = ApiError::conflict(message, current_version);
                e.body.reason = code.map(|c| Box::new(c.code));
                e
            }
            StoreError::Invalid(errors) => ApiError::validation(errors),
            StoreError::Database(sqlx::Error::Database(db)) if refused_value(db.as_ref()) => {
                // The database refused a value the store let through: still the client's input.
                tracing::warn!(error = %db, "database refused a value");
                let constraint = !matches!(db.kind(), sqlx::error::ErrorKind::Other);
                if constraint {
                    ApiError::conflict(
                        format!(
                            "the change conflicts with stored data: {}",
                            patron_domain::text::bounded(db.message())
                        ),
                        None,
                    )
                } else {
                    ApiError::bad_request(
                        "bad_request",
                        format!(
                            "the database refused a value: {}",
                            patron_domain::text::bounded(db.message())
                        ),
                    )
                }
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

/// Constraint violations (both backends) and PostgreSQL data exceptions (SQLSTATE class 22:
/// out-of-range dates, untranslatable characters, ...) come from values the client sent.
fn refused_value(db: &dyn sqlx::error::DatabaseError) -> bool {
    !matches!(db.kind(), sqlx::error::ErrorKind::Other)
        || db
            .code()
            .is_some_and(|c| c.len() == 5 && c.starts_with("22"))
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        // Messages quote excerpts of input values (patron_domain::text); this is the last guard
        // that no body carries a value whole.
        let b = &mut self.body;
        // A field is named as the client spelled it (JSON escapes it), cut only when too long.
        let field = |f: &str| {
            if f.chars().count() > 200 {
                patron_domain::excerpt_n(f, 200).to_string()
            } else {
                f.to_string()
            }
        };
        b.message = patron_domain::text::bounded(&b.message);
        b.field = b.field.as_deref().map(field);
        b.errors.truncate(100);
        for e in &mut b.errors {
            e.field = field(&e.field);
            e.message = patron_domain::text::bounded(&e.message);
        }
        if self.status.is_server_error() {
            tracing::debug!(status = %self.status, code = self.body.code, "error response");
        }
        (self.status, Json(self.body)).into_response()
    }
}

/// Middleware body: an error response without a JSON body (405 from the router, 413 from the
/// body limit layer, ...) is replaced by the JSON error shape, so clients only ever see JSON.
pub async fn ensure_json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let allow: Option<HeaderValue> = resp.headers().get(header::ALLOW).cloned();
    let mut out = ApiError::from_status(status).into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}

impl From<patron_app::AppError> for ApiError {
    fn from(e: patron_app::AppError) -> Self {
        match e {
            patron_app::AppError::Store(e) => e.into(),
            patron_app::AppError::Forbidden(m) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", m)
            }
        }
    }
}
