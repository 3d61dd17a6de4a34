//! `POST /api/customers/{id}/surveys/send`: mail a customer a CSAT or NPS survey now, one
//! signed link per score (`patron_app::surveys_mail`); the answer lands in the survey records.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_domain::service::SurveyKind;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJsonOrEmpty, ApiPath, JsonBody};
use crate::AppState;

impl JsonBody for SurveySend {}

/// The survey to send (every field optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveySend {
    /// `csat` (default) or `nps`.
    #[serde(default = "csat")]
    pub kind: SurveyKind,
    /// `en` or `zh`; default the setting `mail.lang`.
    #[serde(default)]
    pub lang: Option<String>,
    /// The resolved ticket it follows (one survey per ticket).
    #[serde(default)]
    pub ticket_id: Option<i64>,
}

fn csat() -> SurveyKind {
    SurveyKind::Csat
}

impl Default for SurveySend {
    fn default() -> Self {
        SurveySend {
            kind: SurveyKind::Csat,
            lang: None,
            ticket_id: None,
        }
    }
}

pub async fn send_survey(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<SurveySend>,
) -> Result<Response, ApiError> {
    let lang = match body.lang.as_deref() {
        None => None,
        Some(l) => Some(l.parse().map_err(|_| {
            ApiError::from(patron_store::StoreError::invalid(
                "lang",
                "must be en or zh",
            ))
        })?),
    };
    let r = patron_app::surveys_mail::send_survey(
        &state.store,
        &me,
        id,
        body.kind,
        lang,
        body.ticket_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

/// The schemas of this route.
pub fn schemas() -> Map<String, Value> {
    let v = json!({
        "SurveySendRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "kind": {"type": "string", "enum": ["csat", "nps"], "default": "csat", "description": "CSAT (1-5) or NPS (0-10)."},
                "lang": {"type": ["string", "null"], "enum": ["en", "zh", null], "description": "The mail's and the answer page's language; default the setting mail.lang (en)."},
                "ticket_id": {"type": ["integer", "null"], "format": "int64", "minimum": 1, "description": "The customer's ticket it follows (one survey per ticket: 409 for a second)."},
            },
        },
        "SurveyRequest": {
            "type": "object",
            "additionalProperties": false,
            "required": ["id", "customer_id", "ticket_id", "kind", "lang", "requested_by", "requested_at", "answered_at", "survey_id"],
            "properties": {
                "id": {"type": "integer", "format": "int64", "description": "The survey mail; its outbox message key is survey:{id}."},
                "customer_id": {"type": "integer", "format": "int64"},
                "ticket_id": {"type": ["integer", "null"], "format": "int64"},
                "kind": {"type": "string", "enum": ["csat", "nps"]},
                "lang": {"type": "string", "enum": ["en", "zh"]},
                "requested_by": {"type": "string"},
                "requested_at": {"type": "string", "format": "date-time"},
                "answered_at": {"type": ["string", "null"], "format": "date-time", "description": "When the customer answered through a link (once)."},
                "survey_id": {"type": ["integer", "null"], "format": "int64", "description": "The answer among the customer's surveys."},
            },
        },
    });
    let Value::Object(m) = v else { unreachable!() };
    m
}
