//! Extractors that turn every kind of bad input into the API's JSON error shape instead of
//! axum's plain-text rejections: [`ApiJson`] (body), [`ApiQuery`] (query string), [`ApiPath`]
//! (path parameters).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use patron_domain::FieldError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON request body. Refuses (415) a missing or non-JSON `Content-Type`, (413) a body over
/// the limit, (400 `malformed_json`) text that is not JSON, and (422 `validation`) JSON of the
/// wrong shape, naming the field (`lines[0].amount`), including unknown fields. Strings holding
/// NUL characters are refused too (PostgreSQL cannot store them).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// A type accepted as a JSON body. serde's derived structs also accept a JSON array of the field
/// values in order (`["Acme", null]`); the API only accepts objects, so the body and every
/// element of the array fields named by [`JsonBody::OBJECT_ARRAYS`] must be JSON objects.
pub trait JsonBody: DeserializeOwned {
    /// Top-level fields that are arrays of objects (`lines` of an order).
    const OBJECT_ARRAYS: &'static [&'static str] = &[];
}

impl JsonBody for patron_domain::CustomerInput {}
impl JsonBody for patron_domain::CustomerPatch {}
impl JsonBody for patron_domain::ContactInput {}
impl JsonBody for patron_domain::InteractionInput {}
impl JsonBody for patron_domain::OrderInput {
    const OBJECT_ARRAYS: &'static [&'static str] = &["lines"];
}
impl JsonBody for crate::routes::customers::MergeRequest {}
impl JsonBody for crate::routes::customers::PurgeRequest {}
impl JsonBody for crate::value::RefreshOptions {}
impl JsonBody for crate::routes::custody::TokenInput {}
impl JsonBody for crate::routes::custody::HandoverRequest {}
impl JsonBody for crate::routes::custody::ReclaimRequest {}
impl JsonBody for patron_domain::receivable::InvoiceInput {
    const OBJECT_ARRAYS: &'static [&'static str] = &["instalments"];
}
impl JsonBody for patron_domain::receivable::PaymentInput {}
impl JsonBody for patron_domain::service::TicketInput {}
impl JsonBody for patron_domain::service::SurveyInput {}
impl JsonBody for crate::routes::work::TicketComment {}
impl JsonBody for patron_store::OpportunityInput {}
impl JsonBody for patron_store::StageChange {}
impl JsonBody for patron_store::CampaignInput {}
impl JsonBody for crate::routes::work::CreditLimitRequest {}
impl JsonBody for crate::routes::work::CreditOrderRequest {}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: JsonBody,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::unsupported_media_type(
                "expected a JSON body with Content-Type: application/json",
            )
            .with_field("Content-Type"));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: no body at all means `T::default()`; a body is checked like
/// [`ApiJson`] (JSON Content-Type, size, syntax, shape).
#[derive(Debug, Clone)]
pub struct ApiJsonOrEmpty<T>(pub T);

impl<T, S> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: JsonBody + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json_content_type(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        if !json {
            return Err(ApiError::unsupported_media_type(
                "expected a JSON body with Content-Type: application/json (or no body)",
            )
            .with_field("Content-Type"));
        }
        parse_json(&bytes).map(ApiJsonOrEmpty)
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn bytes_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(crate::BODY_LIMIT)
    } else {
        ApiError::bad_request(
            "bad_request",
            format!("cannot read the body: {}", r.body_text()),
        )
    }
}

/// Parses a JSON body into `T`: syntax errors are 400, shape errors 422 naming the field.
pub fn parse_json<T: JsonBody>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    let Value::Object(map) = &value else {
        return Err(ApiError::validation(vec![FieldError::new(
            "",
            format!("the body must be a JSON object, not {}", kind_of(&value)),
        )]));
    };
    for field in T::OBJECT_ARRAYS {
        if let Some(Value::Array(items)) = map.get(*field) {
            if let Some((i, v)) = items.iter().enumerate().find(|(_, v)| !v.is_object()) {
                return Err(ApiError::validation(vec![FieldError::new(
                    format!("{field}[{i}]"),
                    format!("must be a JSON object, not {}", kind_of(v)),
                )]));
            }
        }
    }
    if let Some(path) = find_nul(&value, String::new()) {
        return Err(ApiError::validation(vec![FieldError::new(
            path,
            "must not contain NUL (\\u0000) characters",
        )]));
    }
    serde_path_to_error::deserialize(whole_numbers(value))
        .map_err(|e| ApiError::validation(vec![field_error(e.path().to_string(), e.inner())]))
}

/// JSON Schema, and so the OpenAPI document, counts `3.0` as an integer; serde's integer fields
/// refuse it. Whole-number floats within the i64 range are read as integers (a float field reads
/// an integer just as well).
fn whole_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f)
                if n.is_f64()
                    && f.fract() == 0.0
                    && f >= i64::MIN as f64
                    && f < i64::MAX as f64 =>
            {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(whole_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, whole_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The path (`a.b[2]`) of the first string or key holding a NUL character.
fn find_nul(v: &Value, path: String) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_nul(x, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(p)
            } else {
                find_nul(x, p)
            }
        }),
        _ => None,
    }
}

/// A serde error at `path` as a field error; unknown fields are named by themselves.
fn field_error(path: String, err: &dyn std::fmt::Display) -> FieldError {
    let msg = err.to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let path = if path == "." { String::new() } else { path };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let name = rest.split(',').next().unwrap_or(rest).trim_matches('`');
        let name = patron_domain::excerpt(name).to_string();
        // serde_path_to_error's path already ends with the unknown field.
        let full = if path.is_empty() {
            name.clone()
        } else {
            short_path(&path)
        };
        return FieldError::new(full, format!("unknown field '{name}'{}", expected(rest)));
    }
    if let Some(rest) = msg.strip_prefix("duplicate field ") {
        let name = patron_domain::excerpt(rest.trim_matches('`')).to_string();
        let full = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(full, "is given more than once");
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let name = patron_domain::excerpt(rest.trim_matches('`')).to_string();
        let full = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(full, "is required");
    }
    // serde quotes the value it refused (`invalid type: string "…"`): an excerpt of it only.
    FieldError::new(short_path(&path), patron_domain::text::excerpt_in(&msg))
}

/// A field path as the client spelled it, cut (to an excerpt) only when it is too long.
fn short_path(path: &str) -> String {
    if path.chars().count() > 200 {
        patron_domain::excerpt_n(path, 200).to_string()
    } else {
        path.to_string()
    }
}

fn expected(rest: &str) -> String {
    match rest.split_once(", expected ") {
        Some((_, list)) => format!(" (expected {list})"),
        None => String::new(),
    }
}

/// A query string. Unknown parameters, repeated parameters, and values of the wrong type are
/// refused with 400 `bad_query` naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or_default();
        parse_query(q).map(ApiQuery)
    }
}

/// Parses a query string into `T` (see [`ApiQuery`]).
pub fn parse_query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    if let Some((k, _)) =
        form_urlencoded::parse(q.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::bad_request(
            "bad_query",
            "query parameters must not contain NUL characters",
        )
        .with_field(k.into_owned()));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let fe = field_error(e.path().to_string(), e.inner());
        let message = if fe.field.is_empty() {
            format!("bad query string: {}", fe.message)
        } else {
            format!("bad query parameter '{}': {}", fe.field, fe.message)
        };
        ApiError::bad_request("bad_query", message).with_field(fe.field)
    })
}

/// Path parameters; a value of the wrong type (`/api/customers/abc`) is 400 `bad_path` naming
/// the parameter.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.path().to_ascii_lowercase().contains("%00") {
            return Err(ApiError::bad_request(
                "bad_path",
                "the path must not contain NUL characters",
            ));
        }
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => {
                let mut e = path_rejection(r);
                if e.body.field.is_none() {
                    // A single-value path (`ApiPath<i64>`) reports no key: name the only one.
                    if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await {
                        let keys: Vec<&str> = raw.iter().map(|(k, _)| k).collect();
                        if let [only] = keys[..] {
                            e = e.with_field(only);
                        }
                    }
                }
                Err(e)
            }
        }
    }
}

fn path_rejection(r: PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    let message = r.body_text();
    let field = match &r {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            ErrorKind::ParseErrorAtKey { key, .. }
            | ErrorKind::InvalidUtf8InPathParam { key }
            | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
            _ => None,
        },
        _ => None,
    };
    let status = if r.status().is_server_error() {
        // A route/extractor mismatch is our bug, not the client's.
        tracing::error!(error = %message, "path extractor mismatch");
        return ApiError::internal();
    } else {
        StatusCode::BAD_REQUEST
    };
    let e = ApiError::new(status, "bad_path", message);
    match field {
        Some(f) => e.with_field(f),
        None => e,
    }
}
