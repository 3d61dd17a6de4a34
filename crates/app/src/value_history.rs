//! The customers' course across value snapshots (SPEC R18: judge a customer by its course):
//! one customer's trajectory (for its card, within the caller's scope) and the grade and stage
//! transitions between two snapshots (population figures: the caller's scope, analysts every
//! customer as aggregates). The rows are written by the refresh (see
//! [`patron_store::Store::replace_customer_values`]).

use patron_store::{
    Role, SnapshotRef, Store, StoreError, TransitionFilter, TransitionKind, TransitionRow,
    ValueHistoryPoint,
};
use serde::Serialize;

use crate::{Action, AppError, Session};

/// Points of a card's trajectory at most (the newest).
pub const HISTORY_POINTS: i64 = 60;

/// The grades in order, best first.
pub const GRADES: [&str; 5] = ["A", "B", "C", "D", "E"];

/// The loyalty stages in funnel order.
pub const STAGES: [&str; 5] = [
    "suspect",
    "prospect",
    "first_time_buyer",
    "repeat_buyer",
    "advocate",
];

/// A customer's course: its figures per snapshot, and its figures now when they were
/// recomputed since the newest snapshot (a change to the customer between two refreshes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerHistory {
    /// Oldest first (at most [`HISTORY_POINTS`], the newest).
    pub points: Vec<ValueHistoryPoint>,
    /// The figures recomputed after the newest snapshot its points hold (`snapshot_id`: that
    /// snapshot; `computed_at`: the recompute; `as_of`: the day it analysed up to); absent when
    /// the newest point is the customer's current figures. The card's last point.
    pub current: Option<ValueHistoryPoint>,
}

/// Customer `id`'s figures per snapshot and now, for callers who may read the customer
/// (outside the scope it is "not found"; analysts see no customer).
pub async fn customer_history(
    store: &Store,
    me: &Session,
    id: i64,
) -> Result<CustomerHistory, AppError> {
    me.guard(store, id, false).await?;
    let points = store.customer_value_history(id, HISTORY_POINTS).await?;
    let current = store.customer_value(id).await?.and_then(|r| {
        let last = points.last();
        (last.map(|p| p.computed_at) != Some(r.computed_at)).then(|| ValueHistoryPoint {
            snapshot_id: last.map_or(0, |p| p.snapshot_id),
            computed_at: r.computed_at,
            as_of: Some(r.calibration_end),
            grade: r.grade,
            stage: r.loyalty_stage,
            clv: r.clv.filter(|x| x.is_finite()),
            p_alive: r.p_alive.filter(|x| x.is_finite()),
            margin_cents: r.margin_cents,
        })
    });
    Ok(CustomerHistory { points, current })
}

/// [`customer_history`] read on its own (the API's history of one customer): audited as a view
/// of the customer. The card shows the same figures within its own audited view.
pub async fn view_customer_history(
    store: &Store,
    me: &Session,
    id: i64,
) -> Result<CustomerHistory, AppError> {
    let history = customer_history(store, me, id).await?;
    me.audit(store, "view", Some(id), Some("value history"), None)
        .await?;
    Ok(history)
}

/// The grade and stage transitions between two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transitions {
    /// The earlier snapshot (absent: fewer than two snapshots, nothing to compare).
    pub from: Option<SnapshotRef>,
    /// The later snapshot (absent: no snapshot yet).
    pub to: Option<SnapshotRef>,
    /// Whether the figures cover the caller's scope only (`false`: every customer).
    pub scoped: bool,
    /// Grade from -> to, with customers and summed CLV and margin (from, then to; none last).
    pub grade: Vec<TransitionRow>,
    /// Loyalty stage from -> to, likewise.
    pub stage: Vec<TransitionRow>,
}

/// The grade and stage transitions from snapshot `from` to snapshot `to` (defaults: the newest
/// snapshot, and the one before `to`) over the customers the caller sees (analysts: every
/// customer, aggregates only). Needs [`Action::ViewValueReport`]. An id that names no snapshot
/// is invalid (naming `from` or `to`).
pub async fn transitions(
    store: &Store,
    me: &Session,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Transitions, AppError> {
    me.require(Action::ViewValueReport)?;
    let named = |id: i64| async move {
        store
            .snapshot_ref(id)
            .await?
            .ok_or_else(|| StoreError::not_found("value snapshot", id))
    };
    let to = match to {
        Some(id) => Some(named(id).await?),
        None => store.snapshot_refs(1).await?.into_iter().next(),
    };
    let from = match (from, &to) {
        (Some(id), _) => Some(named(id).await?),
        (None, Some(t)) => previous_snapshot(store, t.id).await?,
        (None, None) => None,
    };
    let visible = (me.user.role != Role::Analyst && !me.visible.is_all()).then_some(&me.visible);
    let (grade, stage) = match (&from, &to) {
        (Some(f), Some(t)) => store.value_transitions(f.id, t.id, visible).await?,
        _ => (Vec::new(), Vec::new()),
    };
    Ok(Transitions {
        from,
        to,
        scoped: visible.is_some(),
        grade,
        stage,
    })
}

/// The snapshot before `id` (`None`: it is the first).
async fn previous_snapshot(store: &Store, id: i64) -> Result<Option<SnapshotRef>, StoreError> {
    // Snapshots are few (one a day): the newest thousand cover any choice on the dashboard.
    Ok(store
        .snapshot_refs(1000)
        .await?
        .into_iter()
        .find(|s| s.id < id))
}

/// Checks a transition cell filter's values (grade `A`..`E`, a known stage, or none; snapshot
/// ids above zero), naming `field` when one is not understood.
pub fn check_transition(field: &'static str, t: &TransitionFilter) -> Result<(), StoreError> {
    let known: &[&str] = match t.kind {
        TransitionKind::Grade => &GRADES,
        TransitionKind::Stage => &STAGES,
    };
    for v in [&t.from, &t.to].into_iter().flatten() {
        if !known.contains(&v.as_str()) {
            return Err(StoreError::invalid(
                field,
                format!("'{v}' is not a {}", t.kind.as_str()),
            ));
        }
    }
    Ok(())
}

/// Parses a transition cell filter (`grade:3:B:4:C`, `-` for none) and checks its values.
pub fn parse_transition(field: &'static str, s: &str) -> Result<TransitionFilter, StoreError> {
    let t = TransitionFilter::parse(s).ok_or_else(|| {
        StoreError::invalid(
            field,
            "is not KIND:FROM_SNAPSHOT:FROM:TO_SNAPSHOT:TO (e.g. grade:3:B:4:C, - for none)",
        )
    })?;
    check_transition(field, &t)?;
    Ok(t)
}
