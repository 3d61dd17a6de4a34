//! Leads: list (with the funnel), read, record, move through qualification, convert into a
//! customer. A lead's `owner_id` decides who sees it, as a customer's does: reps see their own
//! (and the unowned ones, read only), managers their department's, analysts only the funnel's
//! counts. Every call leaves an audit row.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_store::{
    ConvertLead, Lead, LeadFilter, LeadInput, LeadStatusChange, StoreError, Visibility,
    LEAD_STATUSES,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::{forbidden, Me};
use crate::error::ApiError;
use crate::extract::{parse_query, ApiJson, ApiJsonOrEmpty, ApiPath, JsonBody};
use crate::routes::customers::query_error;
use crate::routes::page;
use crate::AppState;

impl JsonBody for LeadInput {}
impl JsonBody for LeadStatusChange {}
impl JsonBody for ConvertLead {}
impl JsonBody for LeadAssignment {}

/// Body of `POST /api/leads/{lead_id}/assign`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadAssignment {
    /// The new owner; null: no owner (the unowned leads everyone in scope reads).
    /// Required (null is given explicitly): `{}` is refused rather than read as "no owner".
    #[serde(deserialize_with = "crate::routes::work::required_nullable")]
    owner_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    owner_id: Option<i64>,
    campaign_id: Option<i64>,
    limit: Option<i64>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FunnelQuery {
    owner_id: Option<i64>,
    campaign_id: Option<i64>,
}

/// The lead, when the caller may see it (404 otherwise, like a missing one); with `write`, also
/// may work it (403 for an unowned lead the caller only reads).
async fn visible(state: &AppState, me: &Me, id: i64, write: bool) -> Result<Lead, ApiError> {
    let lead = state
        .store
        .visible_lead(&me.user, &me.visible, id, false)
        .await?;
    if write && !me.visible.allows(lead.owner_id, true) {
        return Err(forbidden(format!(
            "lead {id} has no owner: an administrator or manager assigns it before it is worked"
        )));
    }
    Ok(lead)
}

pub async fn list(
    State(state): State<AppState>,
    me: Me,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q: ListQuery = parse_query(raw.as_deref().unwrap_or_default())?;
    let filter = LeadFilter {
        status: q.status,
        owner_id: q.owner_id,
        campaign_id: q.campaign_id,
    };
    let page = page(q.limit, q.after)?;
    let result = state
        .store
        .list_leads(&filter, &me.visible, &page)
        .await
        .map_err(query_error)?;
    me.audit(
        &state.store,
        "list",
        None,
        Some("leads"),
        Some(result.items.len() as i64),
    )
    .await?;
    Ok(Json(result).into_response())
}

/// Leads per status over the leads the caller sees (analysts: over all leads, counts only).
pub async fn funnel(
    State(state): State<AppState>,
    me: Me,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q: FunnelQuery = parse_query(raw.as_deref().unwrap_or_default())?;
    let filter = LeadFilter {
        status: None,
        owner_id: q.owner_id,
        campaign_id: q.campaign_id,
    };
    let scope = if me.user.sees_records() {
        me.visible.clone()
    } else {
        Visibility::All
    };
    let f = state.store.lead_funnel(&filter, &scope).await?;
    me.audit(&state.store, "list", None, Some("lead funnel"), None)
        .await?;
    Ok(Json(f).into_response())
}

pub async fn get_lead(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let lead = visible(&state, &me, id, false).await?;
    let detail = format!("lead {id}");
    me.audit(
        &state.store,
        "view",
        lead.converted_customer_id,
        Some(&detail),
        None,
    )
    .await?;
    Ok(Json(lead).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    me: Me,
    ApiJson(mut input): ApiJson<LeadInput>,
) -> Result<Response, ApiError> {
    if !me.visible.is_all() {
        // What a rep or manager records is theirs unless they give it to someone they oversee.
        let owner = *input.owner_id.get_or_insert(me.user.id);
        if !me.visible.allows(Some(owner), true) {
            return Err(forbidden(format!(
                "you may not give a lead to user {owner}, who is outside your scope"
            )));
        }
    }
    // One statement, no transaction to share: the audit row follows it.
    let lead = state.store.create_lead(input).await?;
    let detail = format!("lead {} created", lead.id);
    me.audit(&state.store, "create", None, Some(&detail), None)
        .await?;
    Ok((StatusCode::CREATED, Json(lead)).into_response())
}

pub async fn change_status(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(change): ApiJson<LeadStatusChange>,
) -> Result<Response, ApiError> {
    visible(&state, &me, id, true).await?;
    let lead = state.store.set_lead_status(id, &change).await?;
    let detail = format!("lead {id} moved to {}", lead.status);
    me.audit(&state.store, "update", None, Some(&detail), None)
        .await?;
    Ok(Json(lead).into_response())
}

pub async fn convert(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJsonOrEmpty(how): ApiJsonOrEmpty<ConvertLead>,
) -> Result<Response, ApiError> {
    visible(&state, &me, id, true).await?;
    if let Some(into) = how.into {
        me.guard(&state.store, into, true).await.map_err(|e| {
            let e = ApiError::from(e);
            if e.status == StatusCode::NOT_FOUND {
                ApiError::from(StoreError::invalid(
                    "into",
                    format!("customer {into} does not exist"),
                ))
            } else {
                e
            }
        })?;
    }
    let done = state
        .store
        .convert_lead_seen_by(id, &how, &me.actor.name, &me.visible)
        .await?;
    let detail = format!(
        "lead {id} converted into {} customer {}",
        if done.created_customer {
            "new"
        } else {
            "existing"
        },
        done.customer_number
    );
    me.audit(
        &state.store,
        "update",
        Some(done.customer_id),
        Some(&detail),
        None,
    )
    .await?;
    Ok(Json(done).into_response())
}

/// Gives a lead to a user: admins and managers to anyone in their scope (or to no one); a rep
/// takes an unowned lead for themselves.
pub async fn assign(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<LeadAssignment>,
) -> Result<Response, ApiError> {
    let lead = visible(&state, &me, id, false).await?;
    let owner = body.owner_id;
    let lead = patron_app::custody::assign_lead(&state.store, &me, &lead, owner, "").await?;
    Ok(Json(lead).into_response())
}

/// The OpenAPI schemas of these routes.
pub fn schemas() -> Map<String, Value> {
    let text = || json!({"type": ["string", "null"], "maxLength": 500});
    let id = || json!({"type": "integer", "format": "int64"});
    let id_null = || json!({"type": ["integer", "null"], "format": "int64"});
    let ts = || json!({"type": "string", "format": "date-time"});
    let count = || json!({"type": "integer", "minimum": 0});
    let lead_props = json!({
        "id": id(),
        "name": {"type": "string"},
        "company": text(), "title": text(), "phone": text(), "email": text(),
        "region": text(), "industry": text(),
        "source": {"type": ["string", "null"], "description": "Where it came from (trade show, web, referral, ...)."},
        "campaign_id": id_null(),
        "owner_id": id_null(),
        "status": {"type": "string", "enum": LEAD_STATUSES},
        "disqualified_reason": {"type": ["string", "null"]},
        "notes": {"type": ["string", "null"]},
        "converted_customer_id": id_null(),
        "converted_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": ts(),
        "updated_at": ts(),
    });
    let required: Vec<String> = lead_props
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    let lead = json!({
        "type": "object",
        "properties": lead_props,
        "required": required,
        "additionalProperties": false,
    });
    let out = json!({
        "LeadInput": {
            "type": "object",
            "description": "A lead: a person met or who asked (a business card, a web form). Reps and managers own what they record unless they give it to a user in their scope.",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": crate::openapi::non_blank_pattern(), "description": "The person (not blank: it is trimmed, then required)."},
                "company": text(), "title": text(), "phone": crate::openapi::nullable(crate::openapi::phone()),
                "email": crate::openapi::nullable(crate::openapi::email()),
                "region": text(), "industry": text(), "source": text(),
                "campaign_id": id_null(),
                "owner_id": id_null(),
                "notes": {"type": ["string", "null"]},
            },
            "required": ["name"],
            "additionalProperties": false,
        },
        "Lead": lead,
        "LeadPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Lead"}},
                "next": {"type": ["string", "null"], "description": "Cursor of the next page (pass as `after`); null on the last page."},
            },
            "required": ["items", "next"],
            "additionalProperties": false,
        },
        "LeadStatusChange": {
            "description": "new -> contacted -> qualified; any open lead may be disqualified (with a reason); a disqualified lead is reopened with status new. Other moves are refused (409); conversion has its own route.",
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "status": {"const": "disqualified"},
                        "reason": crate::openapi::non_blank(500),
                    },
                    "required": ["status", "reason"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["new", "contacted", "qualified"]},
                        "reason": {"type": ["string", "null"], "pattern": crate::openapi::blank_pattern(), "description": "Given only to disqualify."},
                    },
                    "required": ["status"],
                    "additionalProperties": false,
                },
            ],
        },
        "LeadAssignment": {
            "type": "object",
            "properties": {
                "owner_id": {"type": ["integer", "null"], "format": "int64", "description": "The new owner; null leaves the lead without owner."},
            },
            "required": ["owner_id"],
            "additionalProperties": false,
        },
        "ConvertLead": {
            "type": "object",
            "properties": {
                "into": {"type": ["integer", "null"], "format": "int64", "description": "Convert into this existing customer (one the caller may change) instead of creating one."},
                "allow_duplicate": {"type": "boolean", "description": "Create a new customer even though existing ones share the lead's phone or e-mail (refused 409 otherwise, naming them)."},
            },
            "additionalProperties": false,
        },
        "LeadConversion": {
            "type": "object",
            "properties": {
                "lead": {"$ref": "#/components/schemas/Lead"},
                "customer_id": id(),
                "customer_number": {"type": "string"},
                "created_customer": {"type": "boolean"},
                "contact_id": id(),
                "interaction_id": id(),
            },
            "required": ["lead", "customer_id", "customer_number", "created_customer", "contact_id", "interaction_id"],
            "additionalProperties": false,
        },
        "LeadFunnel": {
            "type": "object",
            "properties": {
                "new": count(), "contacted": count(), "qualified": count(),
                "converted": count(), "disqualified": count(),
            },
            "required": ["new", "contacted", "qualified", "converted", "disqualified"],
            "additionalProperties": false,
        },
    });
    match out {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}
