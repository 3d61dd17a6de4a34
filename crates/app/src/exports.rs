//! Exporting customer rows as a controlled right: the one rule ([`gate`]) that the web list's
//! CSV, the API's CSV and the command line's export all obey, the approval queue for larger
//! exports, their one-time expiring downloads, and leaving staff.
//!
//! - Each role has an export right (`none`, `own`: within the user's scope up to a daily limit,
//!   `approval`: every export approved) and a daily row limit, in a table admins edit
//!   ([`set_rule`]); defaults: admin own/unlimited, manager own/5,000, rep own/200, analyst none.
//! - Over the limit (or with `approval`, or while the user is leaving or their exports are
//!   suspended) an export becomes a request with a reason ([`request`]) in the approval queue of
//!   the managers over the requester ([`queue`], [`decide`]); an approved one is downloaded once
//!   within [`DOWNLOAD_HOURS`] hours ([`download`]), produced from the stored filter then.
//! - A user marked as leaving ([`mark_leaving`]) exports with approval only, and their
//!   customers go to the named receiver on the day ([`run_leaving_handovers`]).
//!
//! Every step is audited in the same transaction as its change, and the people concerned are
//! told (the in-app notifications).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use patron_domain::task::NotificationKind;
use patron_store::{
    CustomerFilter, CustomerSort, ExportRequest, ExportRight, ExportRule, Role, Store, StoreError,
};

use crate::tasks::{excerpt, notify, params};
use crate::{Action, AppError, Session};

/// Hours an approved export may be downloaded (once).
pub const DOWNLOAD_HOURS: i64 = 24;
/// The longest reason of a request or a refusal, in characters.
pub const REASON_MAX: usize = 1000;
/// Rows counted exactly for the gate (an export matching more is counted as this many).
const COUNT_CAP: i64 = 100_000_000;

/// What the rule says of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Export at once.
    Allowed,
    /// Ask a manager first (why, in English).
    NeedsApproval(String),
    /// Never (why, in English).
    Refused(String),
}

/// The start of today (UTC), from which the daily limit counts.
fn day_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

/// The one export rule: may `session` export `rows` customer rows now? The command line's own
/// operator (not a user account) exports freely; otherwise the role's right and daily limit
/// (the rows exported since midnight UTC count), suspended exports and leaving users decide.
pub async fn gate(store: &Store, session: &Session, rows: i64) -> Result<Gate, AppError> {
    if session.user.id == 0 {
        return Ok(Gate::Allowed);
    }
    let role = session.user.role;
    let rule = store.export_rule(role).await?;
    if rule.right == ExportRight::None || !session.user.sees_records() {
        return Ok(Gate::Refused(format!(
            "your role ({}) may not export customer rows",
            role.as_str()
        )));
    }
    let standing = store.export_standing(session.user.id).await?;
    if standing.exports_suspended {
        return Ok(Gate::NeedsApproval(
            "your exports are suspended until a manager reviews unusual access: this export needs a manager's approval".into(),
        ));
    }
    if let Some(on) = standing.leaving_on {
        return Ok(Gate::NeedsApproval(format!(
            "you are marked as leaving on {on}: your exports need a manager's approval"
        )));
    }
    if rule.right == ExportRight::Approval {
        return Ok(Gate::NeedsApproval(format!(
            "exports of your role ({}) need a manager's approval",
            role.as_str()
        )));
    }
    let Some(limit) = rule.daily_rows else {
        return Ok(Gate::Allowed);
    };
    let used = store
        .exported_rows_since(session.user.id, day_start(Utc::now()))
        .await?;
    if used + rows > limit {
        return Ok(Gate::NeedsApproval(format!(
            "{rows} rows would take you over your daily limit of {limit} rows ({used} exported today): this export needs a manager's approval"
        )));
    }
    Ok(Gate::Allowed)
}

/// How many customers an export of `filter` writes for the caller (their scope).
pub async fn count_rows(
    store: &Store,
    session: &Session,
    filter: &CustomerFilter,
    sort: CustomerSort,
) -> Result<i64, AppError> {
    crate::customers::count_customers(store, session, filter, sort, COUNT_CAP).await
}

/// Counts an export of `filter` and asks [`gate`]: the rows and the answer, or 403 with the
/// reason when it is refused (audited as `export_denied`; `what` names the export). The
/// command line's own operator, whom the rule does not limit, is not counted (0 rows).
pub async fn check(
    store: &Store,
    session: &Session,
    filter: &CustomerFilter,
    sort: CustomerSort,
    what: &str,
) -> Result<(i64, Gate), AppError> {
    if session.user.id == 0 {
        return Ok((0, gate(store, session, 0).await?));
    }
    if let Gate::Refused(why) = gate(store, session, 0).await? {
        session
            .audit(
                store,
                "export_denied",
                None,
                Some(&format!("{what}: {why}")),
                None,
            )
            .await?;
        return Err(AppError::Forbidden(why));
    }
    let rows = count_rows(store, session, filter, sort).await?;
    Ok((rows, gate(store, session, rows).await?))
}

/// Records an export the gate allowed: one `export` audit row with the rows written.
pub async fn record_export(
    store: &Store,
    session: &Session,
    what: &str,
    rows: i64,
) -> Result<(), AppError> {
    session
        .audit(store, "export", None, Some(what.trim_end()), Some(rows))
        .await?;
    Ok(())
}

/// A reason, trimmed: required, at most [`REASON_MAX`] characters (`field` names it).
fn reason_text(field: &str, reason: &str) -> Result<String, StoreError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(StoreError::invalid(field, "is required: say why"));
    }
    if r.chars().count() > REASON_MAX {
        return Err(StoreError::invalid(
            field,
            format!("is longer than {REASON_MAX} characters"),
        ));
    }
    Ok(r.to_string())
}

/// Asks for an export of `filter` (`described`: the filter as the requester wrote it) with a
/// reason (required): a pending request in the approval queue, audited (`export_request`) in
/// the same transaction; the requester's manager (else every manager and admin over them) is
/// told. Refused (403) for a role that may not export at all.
pub async fn request(
    store: &Store,
    session: &Session,
    filter: &CustomerFilter,
    sort: CustomerSort,
    described: &str,
    reason: &str,
    via: &str,
) -> Result<ExportRequest, AppError> {
    session.require_records()?;
    if session.user.id == 0 {
        return Err(StoreError::invalid(
            "user",
            "name the user who asks (the operator exports without approval)",
        )
        .into());
    }
    let reason = reason_text("reason", reason)?;
    let (rows, _) = check(store, session, filter, sort, "export request").await?;
    if rows == 0 {
        return Err(StoreError::invalid("filter", "matches no customer: nothing to export").into());
    }
    let filter_json = patron_store::filter_json(filter, sort)?;
    let described = described.trim();
    let detail = format!(
        "export request {{id}}: {rows} rows of customers {}{via}; reason: {reason}",
        if described.is_empty() {
            "(all)"
        } else {
            described
        }
    );
    let audited = session.audited(store, "export_request", None, detail);
    let r = audited
        .create_export_request(session.user.id, &filter_json, described, rows, &reason)
        .await?;
    audited.finish_audit().await?;
    let facts = params(&[
        ("by", session.user.username.clone()),
        ("n", rows.to_string()),
        ("request", r.id.to_string()),
        ("reason", excerpt(&reason, 300)),
    ]);
    for approver in approvers(store, session.user.id).await? {
        notify(
            store,
            approver,
            NotificationKind::ExportRequested,
            None,
            &facts,
            Some("/exports/queue"),
        )
        .await;
    }
    Ok(r)
}

/// Who is told of a request of `user_id`: their manager when they have an active one who
/// manages users, else every active manager and admin whose scope covers them.
async fn approvers(store: &Store, user_id: i64) -> Result<Vec<i64>, StoreError> {
    let users = store.users().await?;
    let requester = store.user(user_id).await?;
    let manages = |u: &patron_store::User| {
        !u.disabled && u.id != user_id && matches!(u.role, Role::Admin | Role::Manager)
    };
    if let Some(m) = requester
        .manager_id
        .and_then(|m| users.iter().find(|u| u.id == m))
        .filter(|u| manages(u))
    {
        return Ok(vec![m.id]);
    }
    let mut out = Vec::new();
    for u in users.iter().filter(|u| manages(u)) {
        if store.visibility(u).await?.allows(Some(user_id), true) {
            out.push(u.id);
        }
    }
    Ok(out)
}

/// The pending requests the caller may decide: of users within their scope, not their own.
pub async fn queue(store: &Store, session: &Session) -> Result<Vec<ExportRequest>, AppError> {
    session.require(Action::ManageUsers)?;
    Ok(store
        .export_requests(None, Some("pending"), 1000)
        .await?
        .into_iter()
        .filter(|r| r.user_id != session.user.id && session.visible.allows(Some(r.user_id), true))
        .collect())
}

/// The caller's own requests, newest first.
pub async fn mine(store: &Store, session: &Session) -> Result<Vec<ExportRequest>, AppError> {
    Ok(store
        .export_requests(Some(session.user.id), None, 200)
        .await?)
}

/// Approves or refuses request `id` (managers and admins, over requesters within their scope;
/// never their own): a refusal needs a reason. Audited (`export_approve` / `export_refuse`) in
/// the same transaction; the requester is told, with the reason. An approved request may be
/// downloaded once within [`DOWNLOAD_HOURS`] hours.
pub async fn decide(
    store: &Store,
    session: &Session,
    id: i64,
    approve: bool,
    reason: Option<&str>,
    via: &str,
) -> Result<ExportRequest, AppError> {
    session.require(Action::ManageUsers)?;
    let r = store.export_request(id).await?;
    if !session.visible.allows(Some(r.user_id), true) {
        return Err(StoreError::not_found("export request", id).into());
    }
    if r.user_id == session.user.id {
        return Err(AppError::Forbidden(
            "you may not decide your own export request: another manager does".into(),
        ));
    }
    let reason = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(reason_text("reason", r)?),
        None if approve => None,
        None => {
            return Err(
                StoreError::invalid("reason", "is required: say why the export is refused").into(),
            )
        }
    };
    let (action, verb) = if approve {
        ("export_approve", "approved")
    } else {
        ("export_refuse", "refused")
    };
    let mut detail = format!(
        "export request {id} of {} ({} rows) {verb}{via}",
        r.username, r.row_count
    );
    if let Some(why) = &reason {
        detail.push_str(&format!("; reason: {why}"));
    }
    let expires = approve.then(|| Utc::now() + Duration::hours(DOWNLOAD_HOURS));
    let audited = session.audited(store, action, None, detail);
    let decided = audited
        .decide_export_request(
            id,
            approve,
            &session.user.username,
            reason.as_deref(),
            expires,
        )
        .await?;
    audited.finish_audit().await?;
    let mut facts = params(&[
        ("by", session.user.username.clone()),
        ("request", id.to_string()),
    ]);
    if let Some(why) = &reason {
        facts.insert("reason".into(), excerpt(why, 300));
    }
    notify(
        store,
        r.user_id,
        if approve {
            NotificationKind::ExportApproved
        } else {
            NotificationKind::ExportRefused
        },
        None,
        &facts,
        Some("/exports"),
    )
    .await;
    Ok(decided)
}

/// Downloads approved request `id` of the caller, once, before it expires: the CSV of its
/// stored filter over the caller's scope now (text cells neutralised), produced whole before
/// the request is marked downloaded and the `export` audit row (with the rows) is written in
/// one transaction. A second fetch, an expired, refused or pending request, or a filter that
/// now matches more customers than were approved: 409 saying which; a role that lost the right
/// to export: 403.
/// Answers the request and the file.
pub async fn download(
    store: &Store,
    session: &Session,
    id: i64,
) -> Result<(ExportRequest, Vec<u8>), AppError> {
    session.require_records()?;
    let r = store.export_request(id).await?;
    if r.user_id != session.user.id {
        return Err(StoreError::not_found("export request", id).into());
    }
    let now = Utc::now();
    if let Some(why) = r.why_not_downloadable(now) {
        session
            .audit(
                store,
                "export_denied",
                None,
                Some(&format!("download: {why}")),
                None,
            )
            .await?;
        return Err(StoreError::Conflict {
            message: why,
            current_version: None,
            code: None,
        }
        .into());
    }
    // The role's right may have been taken away since the approval.
    if let Gate::Refused(why) = gate(store, session, 0).await? {
        return Err(AppError::Forbidden(why));
    }
    let (filter, sort) = r.filter()?;
    let (file, rows) = csv_file(store, session, &filter, sort).await?;
    if rows as i64 > r.row_count {
        return Err(StoreError::Conflict {
            message: format!(
                "the filter now matches {rows} customers, more than the {} approved: ask again",
                r.row_count
            ),
            current_version: None,
            code: None,
        }
        .into());
    }
    let audited = store.audited(
        &session.actor,
        "export",
        None,
        Some(format!(
            "customers of export request {id} (approved by {})",
            r.decided_by.as_deref().unwrap_or("-")
        )),
        Some(rows as i64),
    );
    audited.claim_export_download(id, now).await?;
    audited.finish_audit().await?;
    crate::access::track(store, session, "export", None, rows as i64).await?;
    Ok((store.export_request(id).await?, file))
}

/// The CSV of every customer matching `filter` that the caller sees, in `sort` order (the
/// columns of `patron export customers`; text cells neutralised against spreadsheet formulas),
/// produced whole: the file and its rows. The gate is the caller's to ask first ([`check`]).
pub async fn csv_file(
    store: &Store,
    session: &Session,
    filter: &CustomerFilter,
    sort: CustomerSort,
) -> Result<(Vec<u8>, u64), AppError> {
    session.require_records()?;
    let mut file = Vec::new();
    let rows = patron_exchange::export_visible_customers(
        store,
        filter,
        &session.visible,
        sort,
        patron_exchange::ExportFormat::Csv,
        &mut file,
    )
    .await
    .map_err(|e| match e {
        patron_exchange::ImportError::Store(e) => AppError::Store(e),
        e => AppError::Store(StoreError::Config(e.to_string())),
    })?;
    Ok((file, rows))
}

/// The export rule of every role.
pub async fn rules(store: &Store) -> Result<Vec<ExportRule>, AppError> {
    Ok(store.export_rules().await?)
}

/// Sets a role's export right and daily limit (`None`: no limit): admins only
/// ([`Action::AdministerUsers`]); audited (`export_rule`) in the same transaction.
pub async fn set_rule(
    store: &Store,
    session: &Session,
    rule: ExportRule,
    via: &str,
) -> Result<(), AppError> {
    session.require(Action::AdministerUsers)?;
    let limit = match rule.daily_rows {
        Some(n) => format!("{n} rows a day"),
        None => "no daily limit".into(),
    };
    let detail = format!(
        "export rule of {}: {}, {limit}{via}",
        rule.role.as_str(),
        rule.right.as_str()
    );
    let audited = session.audited(store, "export_rule", None, detail);
    audited.set_export_rule(&rule).await?;
    audited.finish_audit().await?;
    Ok(())
}

/// Marks user `user_id` as leaving on `on`, their customers going to `to` that day (managers
/// and admins, both users within their scope; `to` active and another user); `None` clears it.
/// From now on the user's exports need approval. Audited (`user_leaving`) in the same
/// transaction.
pub async fn mark_leaving(
    store: &Store,
    session: &Session,
    user_id: i64,
    leaving: Option<(NaiveDate, i64)>,
    via: &str,
) -> Result<(), AppError> {
    session.require(Action::ManageUsers)?;
    let user = match store.user(user_id).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => {
            return Err(
                StoreError::invalid("user", format!("user {user_id} does not exist")).into(),
            )
        }
        Err(e) => return Err(e.into()),
    };
    if !session.visible.allows(Some(user_id), true) {
        return Err(AppError::Forbidden(format!(
            "user {} is outside your data scope",
            user.username
        )));
    }
    let detail = match leaving {
        Some((on, to)) => {
            let receiver = match store.user(to).await {
                Ok(u) => u,
                Err(StoreError::NotFound { .. }) => {
                    return Err(
                        StoreError::invalid("to", format!("user {to} does not exist")).into(),
                    )
                }
                Err(e) => return Err(e.into()),
            };
            if to == user_id {
                return Err(StoreError::invalid(
                    "to",
                    "name another user to receive the customers",
                )
                .into());
            }
            if receiver.disabled {
                return Err(StoreError::invalid(
                    "to",
                    format!("user {} is disabled", receiver.username),
                )
                .into());
            }
            if !session.visible.allows(Some(to), true) {
                return Err(AppError::Forbidden(format!(
                    "user {} is outside your data scope",
                    receiver.username
                )));
            }
            format!(
                "{} leaves on {on}; their customers go to {} that day{via}",
                user.username, receiver.username
            )
        }
        None => format!("{} is no longer leaving{via}", user.username),
    };
    let audited = session.audited(store, "user_leaving", None, detail);
    audited.set_leaving(user_id, leaving).await?;
    audited.finish_audit().await?;
    Ok(())
}

/// A leaving user's customers handed over on their day: who, to whom, how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaverHandedOver {
    /// The leaving user.
    pub from: String,
    /// The receiver.
    pub to: String,
    /// Customers moved.
    pub customers: usize,
}

/// Hands the customers (and open leads, tickets, tasks) of every user leaving on or before
/// `today` over to their named receiver, once, as the `system` operator (the custody
/// hand-over: audited, the receiver told). A hand-over that fails is logged and tried again on
/// the next run.
pub async fn run_leaving_handovers(
    store: &Store,
    today: NaiveDate,
) -> Result<Vec<LeaverHandedOver>, AppError> {
    let system = Session::unrestricted("system");
    let mut done = Vec::new();
    for (from, to) in store.leavers_due(today).await? {
        match crate::custody::handover(store, &system, from, to, None).await {
            Ok(moved) => {
                store.set_handed_over(from).await?;
                let name = |id: i64| async move {
                    store
                        .user(id)
                        .await
                        .map(|u| u.username)
                        .unwrap_or_else(|_| format!("user {id}"))
                };
                done.push(LeaverHandedOver {
                    from: name(from).await,
                    to: name(to).await,
                    customers: moved.len(),
                });
            }
            Err(e) => tracing::warn!(error = %e, from, to, "leaving hand-over failed"),
        }
    }
    Ok(done)
}
