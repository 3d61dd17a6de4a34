//! Tasks (the caller's to-do list, a customer's tasks), in-app notifications, the customer
//! picker (`GET /api/customers/search`) and activities (an interaction that may make a task or
//! name the customer a referral brought).
//!
//! Scope rules are the application layer's (`patron_app::tasks`): a user works their own tasks;
//! a manager also those of the users whose customers they see; a task about a customer needs the
//! customer in the caller's scope. A task the caller may not work is answered 404, like a
//! missing one. Notifications are the caller's own.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Datelike, Utc};
use patron_domain::task::{TaskInput, MAX_NOTE};
use patron_domain::{FieldError, InteractionInput, InteractionKind};
use patron_store::{CustomerFilter, CustomerSort, PageRequest, StoreError, TaskChange};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiJsonOrEmpty, ApiPath, ApiQuery, JsonBody};
use crate::routes::customers::query_error;
use crate::AppState;

impl JsonBody for TaskInput {}
impl JsonBody for SnoozeRequest {}
impl JsonBody for ReassignRequest {}
impl JsonBody for MarkReadRequest {}
impl JsonBody for ActivityInput {}

/// Most matches the customer picker answers.
pub const SEARCH_LIMIT: u32 = 10;

/// Which tasks a list holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    Open,
    Done,
    All,
}

impl StatusFilter {
    pub const NAMES: [&'static str; 3] = ["open", "done", "all"];

    fn open(self) -> Option<bool> {
        match self {
            StatusFilter::Open => Some(true),
            StatusFilter::Done => Some(false),
            StatusFilter::All => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskListQuery {
    #[serde(default)]
    status: StatusFilter,
}

/// Body of `POST /api/tasks/{task_id}/snooze`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    /// The new due time.
    until: DateTime<Utc>,
}

/// Body of `POST /api/tasks/{task_id}/reassign`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReassignRequest {
    assignee_id: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsQuery {
    /// Only unread ones.
    #[serde(default)]
    unread: bool,
}

/// Body of `POST /api/notifications/read`: one notification, or (no body, no id) all.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkReadRequest {
    #[serde(default)]
    id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: String,
}

/// One match of the customer picker.
#[derive(Debug, Serialize)]
pub struct CustomerMatch {
    pub id: i64,
    pub number: Option<String>,
    pub name: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub owner_id: Option<i64>,
}

/// Body of `POST /api/customers/{id}/activities`: an interaction, with what a promise or a
/// referral also carries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    kind: InteractionKind,
    text: String,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    contact_id: Option<i64>,
    /// A promise: when it is due (a task for the caller, due then).
    #[serde(default)]
    due: Option<DateTime<Utc>>,
    /// A referral: the customer it brought (whose `referred_by` becomes this customer).
    #[serde(default)]
    referred_customer_id: Option<i64>,
}

/// Refuses times the databases cannot all store (years outside 1000-9999).
fn check_year(field: &str, at: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    match at {
        Some(at) if !(1000..=9999).contains(&at.year()) => {
            Err(ApiError::validation(vec![FieldError::new(
                field,
                format!("{at} is out of range (years 1000-9999)"),
            )]))
        }
        _ => Ok(()),
    }
}

/// A user id given as an assignee must name a user (422 naming `assignee_id` otherwise,
/// rather than a foreign-key conflict).
async fn check_assignee(state: &AppState, id: Option<i64>) -> Result<(), ApiError> {
    let Some(id) = id else { return Ok(()) };
    match state.store.user(id).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound { .. }) => Err(ApiError::validation(vec![FieldError::new(
            "assignee_id",
            format!("user {id} does not exist"),
        )])),
        Err(e) => Err(e.into()),
    }
}

fn created(location: String, body: impl Serialize) -> Response {
    let location = HeaderValue::from_str(&location).expect("ascii path");
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

pub async fn list(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<TaskListQuery>,
) -> Result<Response, ApiError> {
    let tasks = patron_app::tasks::my_tasks(&state.store, &me, q.status.open(), Some(500)).await?;
    Ok(Json(tasks).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    me: Me,
    ApiJson(input): ApiJson<TaskInput>,
) -> Result<Response, ApiError> {
    check_year("due_at", Some(input.due_at))?;
    check_assignee(&state, input.assignee_id).await?;
    let task = patron_app::tasks::add_task(&state.store, &me, input, "manual").await?;
    Ok(created(format!("/api/tasks/{}", task.id), task))
}

pub async fn read(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let task = patron_app::tasks::task(&state.store, &me, id).await?;
    Ok(Json(task).into_response())
}

async fn change(
    state: &AppState,
    me: &Me,
    id: i64,
    change: TaskChange,
) -> Result<Response, ApiError> {
    let task = patron_app::tasks::change_task(&state.store, me, id, change).await?;
    Ok(Json(task).into_response())
}

pub async fn done(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    change(&state, &me, id, TaskChange::Done).await
}

pub async fn snooze(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SnoozeRequest>,
) -> Result<Response, ApiError> {
    check_year("until", Some(body.until))?;
    change(&state, &me, id, TaskChange::Snooze(body.until)).await
}

pub async fn reassign(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReassignRequest>,
) -> Result<Response, ApiError> {
    // The task first: one the caller may not see is 404 whoever it would go to.
    patron_app::tasks::task(&state.store, &me, id).await?;
    check_assignee(&state, Some(body.assignee_id)).await?;
    change(&state, &me, id, TaskChange::Reassign(body.assignee_id)).await
}

pub async fn customer_tasks(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<TaskListQuery>,
) -> Result<Response, ApiError> {
    let tasks = patron_app::tasks::customer_tasks(&state.store, &me, id, q.status.open()).await?;
    Ok(Json(tasks).into_response())
}

pub async fn notifications(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<NotificationsQuery>,
) -> Result<Response, ApiError> {
    let out = patron_app::tasks::inbox(&state.store, &me, q.unread).await?;
    Ok(Json(out).into_response())
}

pub async fn unread(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    let n = patron_app::tasks::unread(&state.store, &me).await?;
    Ok(Json(json!({"unread": n})).into_response())
}

pub async fn mark_read(
    State(state): State<AppState>,
    me: Me,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<MarkReadRequest>,
) -> Result<Response, ApiError> {
    if body.id.is_some_and(|id| id < 1) {
        return Err(ApiError::validation(vec![patron_domain::FieldError::new(
            "id",
            "is not a notification id (1 or more)",
        )]));
    }
    let n = patron_app::tasks::mark_read(&state.store, &me, body.id).await?;
    Ok(Json(json!({"marked": n})).into_response())
}

pub async fn search(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Response, ApiError> {
    let text = q.q.trim();
    if text.is_empty() {
        return Ok(Json(Vec::<CustomerMatch>::new()).into_response());
    }
    let filter = CustomerFilter {
        q: Some(text.to_string()),
        ..CustomerFilter::default()
    };
    let page = PageRequest {
        limit: Some(SEARCH_LIMIT),
        after: None,
    };
    let found = state
        .store
        .list_visible_customers(&filter, &me.visible, CustomerSort::default(), &page)
        .await
        .map_err(query_error)?;
    let out: Vec<CustomerMatch> = found
        .items
        .into_iter()
        .take(SEARCH_LIMIT as usize)
        .map(|c| CustomerMatch {
            id: c.id,
            number: c.data.number,
            name: c.data.name,
            company: c.data.company,
            phone: c.data.phone,
            owner_id: c.data.owner_id,
        })
        .collect();
    me.audit(
        &state.store,
        "list",
        None,
        Some("customer search"),
        Some(out.len() as i64),
    )
    .await?;
    Ok(Json(out).into_response())
}

pub async fn create_activity(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(a): ApiJson<ActivityInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    let mut errors = Vec::new();
    match (a.kind, a.due) {
        (InteractionKind::Promise, None) => {
            errors.push(FieldError::new("due", "a promise needs the time it is due"))
        }
        (InteractionKind::Promise, Some(_)) | (_, None) => {}
        (_, Some(_)) => errors.push(FieldError::new("due", "only a promise has a due time")),
    }
    match (a.kind, a.referred_customer_id) {
        (InteractionKind::Referral, None) => errors.push(FieldError::new(
            "referred_customer_id",
            "a referral names the customer it brought",
        )),
        (InteractionKind::Referral, Some(r)) if r == id => errors.push(FieldError::new(
            "referred_customer_id",
            "a customer cannot refer itself",
        )),
        (InteractionKind::Referral, Some(_)) | (_, None) => {}
        (_, Some(_)) => errors.push(FieldError::new(
            "referred_customer_id",
            "only a referral names a referred customer",
        )),
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    check_year("due", a.due)?;
    if let Some(r) = a.referred_customer_id {
        me.guard(&state.store, r, false).await.map_err(|e| {
            let e = ApiError::from(e);
            if e.status == StatusCode::NOT_FOUND {
                ApiError::validation(vec![FieldError::new(
                    "referred_customer_id",
                    format!("customer {r} does not exist"),
                )])
            } else {
                e
            }
        })?;
    }
    let input = InteractionInput {
        kind: a.kind,
        occurred_at: a.occurred_at,
        by: a.by,
        contact_id: a.contact_id,
        text: a.text,
        external_id: None,
    };
    crate::routes::interactions::check(&state, id, &input, true).await?;
    let (interaction, task) = patron_app::tasks::log_interaction(
        &state.store,
        &me,
        id,
        input,
        a.due,
        a.referred_customer_id,
    )
    .await?;
    Ok(created(
        format!("/api/customers/{id}/interactions/{}", interaction.id),
        json!({"interaction": interaction, "task": task}),
    ))
}

/// The schemas of these routes.
pub fn schemas() -> Map<String, Value> {
    let id = || json!({"type": "integer", "format": "int64"});
    let id_null = || json!({"type": ["integer", "null"], "format": "int64"});
    let ts = || json!({"type": "string", "format": "date-time"});
    let ts_null = || json!({"type": ["string", "null"], "format": "date-time"});
    let ts_input = |what: &str| json!({"type": "string", "format": "date-time", "pattern": "^[1-9][0-9]{3}-", "description": format!("{what} (RFC 3339, years 1000-9999).")});
    let kinds = json!({"type": "string", "enum": ["call", "visit", "email", "todo"]});
    let closed = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    let record = |props: Value| {
        let keys: Vec<String> = props.as_object().expect("object").keys().cloned().collect();
        json!({"type": "object", "properties": props, "required": keys, "additionalProperties": false})
    };
    let v = json!({
        "TaskInput": closed(json!({
            "customer_id": {"type": ["integer", "null"], "format": "int64", "minimum": 1, "description": "The customer it is about (in the caller's scope), if any."},
            "assignee_id": {"type": ["integer", "null"], "format": "int64", "description": "Who does it: the caller when absent; another user only for a caller who sees that user's customers (422 otherwise)."},
            "kind": kinds,
            "due_at": ts_input("When it is due"),
            "note": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE, "pattern": crate::openapi::non_blank_pattern(), "description": "What is to be done."},
        }), &["kind", "due_at", "note"]),
        "Task": record(json!({
            "id": id(),
            "customer_id": id_null(),
            "customer_name": {"type": ["string", "null"], "description": "The customer's name, when the task has one."},
            "assignee_id": id(),
            "kind": kinds,
            "due_at": ts(),
            "note": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "done"]},
            "created_at": ts(),
            "created_by": {"type": "string"},
            "done_at": ts_null(),
            "source": {"type": "string", "description": "`manual`, `promise`, or the rule that made it: `reclaim`, `invoice_overdue`, `ticket_breach`, `lead_untouched`, `followup`."},
        })),
        "TaskSnooze": closed(json!({"until": ts_input("The new due time")}), &["until"]),
        "TaskReassign": closed(json!({"assignee_id": {"type": "integer", "format": "int64", "description": "The new assignee: a user the caller may give work to."}}), &["assignee_id"]),
        "Notification": record(json!({
            "id": id(),
            "kind": {"type": "string", "enum": ["hold_approved", "hold_rejected", "ticket_escalated", "lead_assigned", "handed_over", "task_assigned", "export_requested", "export_approved", "export_refused", "unusual_views", "unusual_foreign_views", "unusual_searches", "unusual_list_pages", "unusual_exports"]},
            "customer_id": id_null(),
            "message": {"type": "string", "description": "What happened, in English."},
            "params": {"type": "object", "additionalProperties": {"type": "string"}, "description": "The facts the message was worded from (`by`, `order`, `amount`, `reason`, `ticket`, `subject`, `level`, `lead`, `n`, `from`, `due`, `note`), for wording it in another language."},
            "link": {"type": ["string", "null"], "description": "Where to look (a page of the web interface)."},
            "created_at": ts(),
            "read_at": ts_null(),
        })),
        "UnreadCount": record(json!({"unread": {"type": "integer", "minimum": 0}})),
        "MarkRead": closed(json!({"id": {"type": ["integer", "null"], "format": "int64", "minimum": 1, "description": "One notification of the caller's; all of them when absent."}}), &[]),
        "MarkedRead": record(json!({"marked": {"type": "integer", "minimum": 0, "description": "How many notifications were marked read."}})),
        "CustomerMatch": record(json!({
            "id": id(),
            "number": {"type": ["string", "null"]},
            "name": {"type": "string"},
            "company": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"]},
            "owner_id": id_null(),
        })),
    });
    let more = json!({
        "ActivityInput": closed(json!({
            "kind": {"type": "string", "enum": crate::routes::KINDS},
            "text": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": crate::openapi::non_blank_pattern()},
            "occurred_at": {"type": ["string", "null"], "format": "date-time", "pattern": "^[1-9][0-9]{3}-", "description": "When it happened (years 1000-9999); now when absent."},
            "by": {"type": ["string", "null"], "maxLength": 200, "description": "Who on our side: leave it out (the caller). Naming another user needs a role that may record for others (admins, managers); others get 403."},
            "contact_id": id_null(),
            "due": {"type": ["string", "null"], "format": "date-time", "pattern": "^[1-9][0-9]{3}-", "description": "Required for a promise, refused otherwise: when it is due; the caller gets a task (source `promise`) due then."},
            "referred_customer_id": {"type": ["integer", "null"], "format": "int64", "description": "Required for a referral, refused otherwise: the customer it brought (in the caller's scope), whose `referred_by` becomes this customer."},
        }), &["kind", "text"]),
        "ActivityOutcome": record(json!({
            "interaction": {"$ref": "#/components/schemas/Interaction"},
            "task": {"anyOf": [{"$ref": "#/components/schemas/Task"}, {"type": "null"}], "description": "The task a promise made (null otherwise)."},
        })),
        "HoldDecision": closed(json!({
            "reason": {"type": ["string", "null"], "description": "Why (shown to the rep who placed the order, in their notification)."},
        }), &[]),
    });
    let (Value::Object(mut m), Value::Object(mut more)) = (v, more) else {
        unreachable!()
    };
    m.append(&mut more);
    m
}
