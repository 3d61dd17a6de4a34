//! Unusual access alerts and the evidence report.
//!
//! Every customer card opened ([`crate::customers::open_card`]), customer list page and search
//! ([`crate::customers::list_customers`]) and export (an `export` audit row written through
//! [`Session::audit`]) adds to the user's count of the hour: one small upsert per request
//! ([`track`]). When an hour's count goes past both a floor and a multiple of the user's usual
//! level (the median count of the hours in which they did any of it over the last days), one
//! alert is raised for that user, kind and hour, however many requests follow: their manager
//! and every administrator are told (in-app notification), and with the setting on, the user's
//! exports are suspended until an administrator marks the alert reviewed ([`review`]).
//!
//! Defaults ([`AccessWatch`]): 5 times the usual level over 14 days, and at least 100 card
//! views, 50 cards of customers the user does not own, 100 searches, 100 list pages or 1,000
//! exported rows in the hour; exports not suspended. Administrators change them ([`set_watch`]).
//!
//! The evidence report ([`evidence`]) lists, for one user and period, what they viewed and
//! exported, from the audit log: counts per day, the customers viewed, the exports.

use chrono::{DateTime, NaiveDate, Utc};
use patron_domain::task::NotificationKind;
use patron_store::{
    hour_of, hour_start, AccessAlert, AccessCount, AccessWatch, Actor, EvidenceReport, Role, Store,
    StoreError, User,
};

use crate::tasks::{notify, params};
use crate::{Action, AppError, Session};

/// Who the audit log names for what the watch does on its own (suspending exports).
pub const WATCH_ACTOR: &str = "access-watch";

/// The notification of an alert of `kind` (one of [`patron_store::ACCESS_KINDS`]).
pub fn notification_kind(kind: &str) -> Option<NotificationKind> {
    Some(match kind {
        "view" => NotificationKind::UnusualViews,
        "foreign" => NotificationKind::UnusualForeignViews,
        "search" => NotificationKind::UnusualSearches,
        "list" => NotificationKind::UnusualListPages,
        "export" => NotificationKind::UnusualExports,
        _ => return None,
    })
}

/// Counts `n` of `kind` (and of `also`, when given) for the caller in the current hour, and
/// raises the hour's alert when it became unusual. The command line's own operator (not a user
/// account) is not counted. Only the count can fail the call: a failure to compare or to
/// alert is logged.
pub async fn track(
    store: &Store,
    session: &Session,
    kind: &str,
    also: Option<&str>,
    n: i64,
) -> Result<(), StoreError> {
    track_at(store, &session.user, kind, also, n, Utc::now()).await
}

/// [`track`] for `user` at time `at` (tests; counts of an earlier hour are compared with the
/// hours before it).
pub async fn track_at(
    store: &Store,
    user: &User,
    kind: &str,
    also: Option<&str>,
    n: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if user.id == 0 || n <= 0 {
        return Ok(());
    }
    let hour = hour_of(at);
    let counts = store.count_access(user.id, hour, kind, also, n).await?;
    for c in counts.iter().filter(|c| c.due()) {
        if let Err(e) = compare(store, user, c, hour).await {
            tracing::error!(error = %e, user = user.id, kind = c.kind, "unusual-access check failed");
        }
    }
    Ok(())
}

/// The median of `v` (0 when empty).
fn median(v: &mut [i64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m] as f64
    } else {
        (v[m - 1] + v[m]) as f64 / 2.0
    }
}

/// The count an hour of `kind` must go past to be unusual, and the usual level: the floor,
/// or the multiple of the median count of the user's active hours over the baseline when
/// that is higher.
pub async fn threshold(
    store: &Store,
    w: &AccessWatch,
    user_id: i64,
    kind: &str,
    hour: i64,
) -> Result<(i64, f64), StoreError> {
    let floor = w.floors.get(kind).copied().unwrap_or(1);
    let mut history = store
        .access_history(user_id, kind, hour - w.baseline_days * 24, hour)
        .await?;
    let usual = median(&mut history);
    let by_usual = (w.multiple * usual).ceil();
    let limit = if by_usual >= i64::MAX as f64 {
        i64::MAX - 1
    } else {
        (by_usual as i64).max(floor)
    };
    Ok((limit, usual))
}

/// Compares hour `hour` of `c` with the user's usual level; raises its alert when it went
/// past, else sets the count at which to compare again.
async fn compare(store: &Store, user: &User, c: &AccessCount, hour: i64) -> Result<(), AppError> {
    let w = store.access_watch().await?;
    let (limit, usual) = threshold(store, &w, user.id, &c.kind, hour).await?;
    if c.n <= limit {
        store
            .set_access_check(user.id, &c.kind, hour, limit + 1)
            .await?;
        return Ok(());
    }
    let Some(id) = store
        .raise_access_alert(user.id, &c.kind, hour, c.n, usual, limit, w.suspend_exports)
        .await?
    else {
        // Raised already by a concurrent request.
        return Ok(());
    };
    if w.suspend_exports {
        store
            .audited(
                &Actor::system(WATCH_ACTOR),
                "update",
                None,
                Some(format!(
                    "exports of user {} ({}) suspended: unusual access alert {id}",
                    user.id, user.username
                )),
                None,
            )
            .set_exports_suspended(user.id, true)
            .await?;
    }
    tell(store, user, c, hour, usual, id).await
}

/// The usual level as the notifications and pages show it: whole, or with one decimal.
pub fn usual_text(usual: f64) -> String {
    if usual.fract() == 0.0 {
        format!("{usual:.0}")
    } else {
        format!("{usual:.1}")
    }
}

/// The hour as notifications show it (`2026-12-04 13:00 UTC`).
pub fn hour_text(hour: i64) -> String {
    hour_start(hour).format("%Y-%m-%d %H:00 UTC").to_string()
}

/// Tells the user's manager and every administrator (not the user, nor anyone disabled).
async fn tell(
    store: &Store,
    user: &User,
    c: &AccessCount,
    hour: i64,
    usual: f64,
    id: i64,
) -> Result<(), AppError> {
    let Some(kind) = notification_kind(&c.kind) else {
        return Ok(());
    };
    let users = store.users().await?;
    let facts = params(&[
        ("user", user.username.clone()),
        ("n", c.n.to_string()),
        ("hour", hour_text(hour)),
        ("usual", usual_text(usual)),
    ]);
    for u in users.iter().filter(|u| {
        !u.disabled && u.id != user.id && (u.role == Role::Admin || Some(u.id) == user.manager_id)
    }) {
        let link = (u.role == Role::Admin).then(|| format!("/admin/audit/unusual#alert-{id}"));
        notify(store, u.id, kind, None, &facts, link.as_deref()).await;
    }
    Ok(())
}

/// The unusual-access settings (administrators).
pub async fn watch(store: &Store, session: &Session) -> Result<AccessWatch, AppError> {
    session.require(Action::ReadAudit)?;
    Ok(store.access_watch().await?)
}

/// Changes the unusual-access settings (administrators; audited in the same transaction).
/// `via` ends the audit detail (`" (web)"`, or empty).
pub async fn set_watch(
    store: &Store,
    session: &Session,
    w: &AccessWatch,
    via: &str,
) -> Result<AccessWatch, AppError> {
    session.require(Action::ReadAudit)?;
    w.validate()?;
    let floors: Vec<String> = w.floors.iter().map(|(k, f)| format!("{k} {f}")).collect();
    let detail = format!(
        "unusual-access settings: multiple {}, baseline {} days, suspend exports {}, floors {}{via}",
        w.multiple,
        w.baseline_days,
        if w.suspend_exports { "yes" } else { "no" },
        floors.join(", ")
    );
    let audited = session.audited(store, "update", None, detail);
    let saved = audited.set_access_watch(w).await?;
    audited.finish_audit().await?;
    Ok(saved)
}

/// The unusual-access alerts, newest first (only those not reviewed with `open`), at most
/// `limit` (administrators; the reading is audited).
pub async fn alerts(
    store: &Store,
    session: &Session,
    open: bool,
    limit: i64,
) -> Result<Vec<AccessAlert>, AppError> {
    session.require(Action::ReadAudit)?;
    let list = store.access_alerts(open, limit).await?;
    session
        .audit(
            store,
            "list",
            None,
            Some("unusual access alerts"),
            Some(list.len() as i64),
        )
        .await?;
    Ok(list)
}

/// Marks alert `id` reviewed (administrators): the user's exports, when the alert suspended
/// them, are allowed again (unless another open alert suspended them too). Audited in the same
/// transaction; `via` ends the audit detail.
pub async fn review(
    store: &Store,
    session: &Session,
    id: i64,
    via: &str,
) -> Result<AccessAlert, AppError> {
    session.require(Action::ReadAudit)?;
    let alert = store.access_alert(id).await?;
    let detail = format!(
        "unusual access alert {id} of user {} ({}) reviewed{}{via}",
        alert.user_id,
        alert.username,
        if alert.suspended {
            "; exports allowed again unless another open alert suspended them"
        } else {
            ""
        }
    );
    let audited = session.audited(store, "update", None, detail);
    let (reviewed, _) = audited
        .review_access_alert(id, &session.user.username)
        .await?;
    audited.finish_audit().await?;
    Ok(reviewed)
}

/// The evidence report of user `login` from day `from` to day `to` (inclusive, UTC):
/// everything they viewed, listed and exported (administrators; the reading is audited).
pub async fn evidence(
    store: &Store,
    session: &Session,
    login: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<EvidenceReport, AppError> {
    session.require(Action::ReadAudit)?;
    let login = login.trim();
    if login.is_empty() {
        return Err(StoreError::invalid("user", "is required: a user name").into());
    }
    let user = store
        .user_by_name(login)
        .await
        .map_err(|_| StoreError::invalid("user", format!("no user named '{login}'")))?;
    let report = store.evidence(user.id, &user.username, from, to).await?;
    let detail = format!("evidence report of {} from {from} to {to}", user.username);
    session
        .audit(
            store,
            "list",
            None,
            Some(&detail),
            Some(report.customers.len() as i64),
        )
        .await?;
    Ok(report)
}

/// [`evidence`] as CSV (audited as an export of its lines).
pub async fn evidence_csv(
    store: &Store,
    session: &Session,
    login: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(EvidenceReport, Vec<u8>), AppError> {
    session.require(Action::ReadAudit)?;
    let login = login.trim();
    let user = store
        .user_by_name(login)
        .await
        .map_err(|_| StoreError::invalid("user", format!("no user named '{login}'")))?;
    let report = store.evidence(user.id, &user.username, from, to).await?;
    let mut out = Vec::new();
    let lines = patron_exchange::write_evidence_csv(&mut out, &report)
        .map_err(|e| StoreError::Config(format!("writing the CSV: {e}")))?;
    let detail = format!(
        "evidence report of {} from {from} to {to} (CSV)",
        user.username
    );
    session
        .audit(store, "export", None, Some(&detail), Some(lines as i64))
        .await?;
    Ok((report, out))
}

/// A day as typed (`YYYY-MM-DD`); `field` names it in the error.
pub fn parse_day(field: &str, text: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| StoreError::invalid(field, "must be a date written YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_active_hours() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [30]), 30.0);
        assert_eq!(median(&mut [40, 10, 30]), 30.0);
        assert_eq!(median(&mut [10, 40, 30, 20]), 25.0);
        assert_eq!(usual_text(25.0), "25");
        assert_eq!(usual_text(2.5), "2.5");
    }

    #[test]
    fn every_kind_has_its_notification() {
        for k in patron_store::ACCESS_KINDS {
            assert!(notification_kind(k).is_some(), "{k}");
        }
        assert_eq!(hour_text(0), "1970-01-01 00:00 UTC");
    }
}
