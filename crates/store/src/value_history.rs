//! Per-customer value history (SPEC R18): one compact `value_history` row per customer per value
//! snapshot (grade, loyalty stage, CLV, P(alive), margin), written by the refresh in its own
//! transaction (see [`Store::replace_customer_values`]) and kept current for the newest snapshot
//! by a one-customer recompute ([`Store::upsert_customer_value`]). Read as one customer's
//! trajectory, as the grade or stage transitions between two snapshots, and by the customer
//! list's course filters ([`ValueCourse`], [`TransitionFilter`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::customers::{bind_all, Bind, Where};
use crate::{with_pool, BackendKind, Store, StoreError, Visibility};

/// The newest snapshot's id, as SQL.
pub(crate) const LATEST_SNAPSHOT: &str = "(SELECT MAX(id) FROM value_snapshots)";
/// The id of the snapshot before the newest, as SQL.
pub(crate) const PREVIOUS_SNAPSHOT: &str =
    "(SELECT MAX(id) FROM value_snapshots WHERE id < (SELECT MAX(id) FROM value_snapshots))";

/// One customer's figures as of one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueHistoryPoint {
    pub snapshot_id: i64,
    /// When the snapshot's refresh ran.
    pub computed_at: DateTime<Utc>,
    /// The day the snapshot analysed up to (absent in snapshots that did not record it).
    pub as_of: Option<NaiveDate>,
    /// Value grade `A`..`E` (absent: not graded).
    pub grade: Option<String>,
    /// Loyalty stage (absent: none).
    pub stage: Option<String>,
    pub clv: Option<f64>,
    pub p_alive: Option<f64>,
    /// CRM gross margin in cents.
    pub margin_cents: i64,
}

/// What a transition table compares: the value grade or the loyalty stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    Grade,
    Stage,
}

impl TransitionKind {
    /// `grade` or `stage`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Grade => "grade",
            TransitionKind::Stage => "stage",
        }
    }

    /// The kind of this name (`grade`, `stage`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "grade" => Some(TransitionKind::Grade),
            "stage" => Some(TransitionKind::Stage),
            _ => None,
        }
    }

    /// The `value_history` column.
    pub(crate) fn column(self) -> &'static str {
        self.as_str()
    }
}

/// The customers that went from one grade (or stage) to another between two snapshots, with
/// their summed figures in each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionRow {
    /// The grade or stage in the earlier snapshot (absent: none, or not in that snapshot: a
    /// customer added since).
    pub from: Option<String>,
    /// The grade or stage in the later snapshot (absent: none).
    pub to: Option<String>,
    pub customers: i64,
    /// Summed CLV of these customers in the earlier and in the later snapshot (absent: none of
    /// them had one).
    pub clv_from: Option<f64>,
    pub clv_to: Option<f64>,
    /// Summed margin in cents in the earlier and in the later snapshot.
    pub margin_from_cents: i64,
    pub margin_to_cents: i64,
}

/// A customer's course over the last two snapshots (a list filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueCourse {
    /// Graded in both the newest snapshot and the one before, and a worse grade now (e.g.
    /// B -> C).
    MovedDown,
    /// Margin below zero in the newest snapshot, and margin or CLV higher than in the snapshot
    /// before (the customer is in both).
    UnprofitableGrowing,
}

impl ValueCourse {
    /// The names of [`ValueCourse::parse`].
    pub const NAMES: [&'static str; 2] = ["moved_down", "unprofitable_growing"];

    /// `moved_down` or `unprofitable_growing`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueCourse::MovedDown => "moved_down",
            ValueCourse::UnprofitableGrowing => "unprofitable_growing",
        }
    }

    /// The course of this name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "moved_down" => Some(ValueCourse::MovedDown),
            "unprofitable_growing" => Some(ValueCourse::UnprofitableGrowing),
            _ => None,
        }
    }
}

/// The customers of one cell of a transition table: `from` in snapshot `from_snapshot` and `to`
/// in `to_snapshot` (`None`: no grade or stage there; for `from`, also not in that snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionFilter {
    pub kind: TransitionKind,
    pub from_snapshot: i64,
    pub from: Option<String>,
    pub to_snapshot: i64,
    pub to: Option<String>,
}

impl TransitionFilter {
    /// As a query value: `kind:from_snapshot:from:to_snapshot:to`, `-` for none
    /// (`grade:3:B:4:C`).
    pub fn to_param(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.kind.as_str(),
            self.from_snapshot,
            self.from.as_deref().unwrap_or("-"),
            self.to_snapshot,
            self.to.as_deref().unwrap_or("-")
        )
    }

    /// Reads [`TransitionFilter::to_param`]'s form; the values are checked by the caller.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let [kind, fs, from, ts, to] = parts.as_slice() else {
            return None;
        };
        let value = |v: &str| (v != "-" && !v.is_empty()).then(|| v.to_string());
        Some(TransitionFilter {
            kind: TransitionKind::parse(kind)?,
            from_snapshot: fs.parse().ok().filter(|n| *n > 0)?,
            from: value(from),
            to_snapshot: ts.parse().ok().filter(|n| *n > 0)?,
            to: value(to),
        })
    }
}

/// Adds the course condition on the list's `customers` table.
pub(crate) fn push_course(w: &mut Where, course: ValueCourse) {
    let cond = match course {
        ValueCourse::MovedDown => "h1.grade > h0.grade",
        ValueCourse::UnprofitableGrowing => {
            "h1.margin_cents < 0 AND (h1.margin_cents > h0.margin_cents OR h1.clv > h0.clv)"
        }
    };
    w.push(
        &format!(
            "EXISTS (SELECT 1 FROM value_history h1 JOIN value_history h0 \
             ON h0.customer_id = h1.customer_id AND h0.snapshot_id = {PREVIOUS_SNAPSHOT} \
             WHERE h1.customer_id = customers.id AND h1.snapshot_id = {LATEST_SNAPSHOT} AND {cond})"
        ),
        [],
    );
}

/// Adds the transition cell's condition on the list's `customers` table.
pub(crate) fn push_transition(w: &mut Where, t: &TransitionFilter) {
    let col = t.kind.column();
    let mut binds = vec![Bind::I64(t.from_snapshot), Bind::I64(t.to_snapshot)];
    let to = match &t.to {
        Some(v) => {
            binds.push(Bind::Text(v.clone()));
            format!("b.{col} = ?")
        }
        None => format!("b.{col} IS NULL"),
    };
    let from = match &t.from {
        Some(v) => {
            binds.push(Bind::Text(v.clone()));
            format!("a.{col} = ?")
        }
        None => format!("a.{col} IS NULL"),
    };
    w.push(
        &format!(
            "EXISTS (SELECT 1 FROM value_history b LEFT JOIN value_history a \
             ON a.customer_id = b.customer_id AND a.snapshot_id = ? \
             WHERE b.customer_id = customers.id AND b.snapshot_id = ? AND {to} AND {from})"
        ),
        binds,
    );
}

type PointRow = (
    i64,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<f64>,
    i64,
);

type TransitionSqlRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<f64>,
    Option<f64>,
    i64,
    i64,
);

/// A value snapshot as a transition table or a picker names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotRef {
    pub id: i64,
    pub computed_at: DateTime<Utc>,
    /// The day it analysed up to (absent in snapshots that did not record it).
    pub as_of: Option<NaiveDate>,
}

fn as_of_sql(kind: BackendKind, table: &str) -> String {
    match kind {
        BackendKind::Sqlite => format!("json_extract({table}.options, '$.as_of')"),
        BackendKind::Postgres => format!("{table}.options->>'as_of'"),
    }
}

impl Store {
    /// The newest `limit` snapshots (1..=1000), newest first, without their reports.
    pub async fn snapshot_refs(&self, limit: i64) -> Result<Vec<SnapshotRef>, StoreError> {
        let sql = format!(
            "SELECT s.id, s.computed_at, CAST({} AS TEXT) FROM value_snapshots s ORDER BY s.id DESC LIMIT $1",
            as_of_sql(self.kind(), "s")
        );
        let rows: Vec<(i64, DateTime<Utc>, Option<String>)> = with_pool!(self, pool =>
            sqlx::query_as(&sql).bind(limit.clamp(1, 1000)).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, computed_at, as_of)| SnapshotRef {
                id,
                computed_at,
                as_of: as_of.and_then(|d| d.parse().ok()),
            })
            .collect())
    }

    /// One snapshot as [`Store::snapshot_refs`] answers it (`None`: no such snapshot).
    pub async fn snapshot_ref(&self, id: i64) -> Result<Option<SnapshotRef>, StoreError> {
        let sql = format!(
            "SELECT s.id, s.computed_at, CAST({} AS TEXT) FROM value_snapshots s WHERE s.id = $1",
            as_of_sql(self.kind(), "s")
        );
        let row: Option<(i64, DateTime<Utc>, Option<String>)> = with_pool!(self, pool =>
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(|(id, computed_at, as_of)| SnapshotRef {
            id,
            computed_at,
            as_of: as_of.and_then(|d| d.parse().ok()),
        }))
    }

    /// One customer's figures per snapshot, oldest first: the newest `limit` snapshots that
    /// hold a row of it (1..=1000).
    pub async fn customer_value_history(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> Result<Vec<ValueHistoryPoint>, StoreError> {
        let as_of = as_of_sql(self.kind(), "s");
        let sql = format!(
            "SELECT h.snapshot_id, s.computed_at, CAST({as_of} AS TEXT), h.grade, h.stage, h.clv, \
             h.p_alive, h.margin_cents FROM value_history h \
             JOIN value_snapshots s ON s.id = h.snapshot_id \
             WHERE h.customer_id = $1 ORDER BY h.snapshot_id DESC LIMIT $2"
        );
        let rows: Vec<PointRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(customer_id).bind(limit.clamp(1, 1000)).fetch_all(pool).await?);
        let mut points: Vec<ValueHistoryPoint> = rows
            .into_iter()
            .map(
                |(snapshot_id, computed_at, as_of, grade, stage, clv, p_alive, margin_cents)| {
                    ValueHistoryPoint {
                        snapshot_id,
                        computed_at,
                        as_of: as_of.and_then(|d| d.parse().ok()),
                        grade,
                        stage,
                        clv: clv.filter(|x| x.is_finite()),
                        p_alive: p_alive.filter(|x| x.is_finite()),
                        margin_cents,
                    }
                },
            )
            .collect();
        points.reverse();
        Ok(points)
    }

    /// The grade and the stage transitions from snapshot `from` to snapshot `to` over the live
    /// customers of the `to` snapshot (those the caller sees when `visible` is given), read in
    /// one pass: per table one row per (from, to) pair with customers, ordered by from, then to
    /// (none last).
    pub async fn value_transitions(
        &self,
        from: i64,
        to: i64,
        visible: Option<&Visibility>,
    ) -> Result<(Vec<TransitionRow>, Vec<TransitionRow>), StoreError> {
        let mut w = Where::default();
        // $1: the LEFT JOIN's snapshot.
        w.binds.push(Bind::I64(from));
        w.push("b.snapshot_id = ?", [Bind::I64(to)]);
        w.push("c.merged_into IS NULL", []);
        if let Some(v) = visible {
            v.push(&mut w, "c.owner_id");
        }
        let sql = format!(
            "SELECT a.grade, b.grade, a.stage, b.stage, COUNT(*), SUM(a.clv), SUM(b.clv), \
             CAST(COALESCE(SUM(a.margin_cents), 0) AS BIGINT), \
             CAST(COALESCE(SUM(b.margin_cents), 0) AS BIGINT) \
             FROM value_history b JOIN customers c ON c.id = b.customer_id \
             LEFT JOIN value_history a ON a.customer_id = b.customer_id AND a.snapshot_id = $1{} \
             GROUP BY a.grade, b.grade, a.stage, b.stage",
            w.sql()
        );
        let rows: Vec<TransitionSqlRow> = with_pool!(self, pool =>
            bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        type Key = (Option<String>, Option<String>);
        let mut grade: BTreeMap<Key, TransitionRow> = BTreeMap::new();
        let mut stage: BTreeMap<Key, TransitionRow> = BTreeMap::new();
        let add = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        for (gf, gt, sf, st, customers, cf, ct, mf, mt) in rows {
            let (cf, ct) = (cf.filter(|x| x.is_finite()), ct.filter(|x| x.is_finite()));
            for (table, key) in [
                (&mut grade, (gf.clone(), gt.clone())),
                (&mut stage, (sf.clone(), st.clone())),
            ] {
                let r = table.entry(key.clone()).or_insert_with(|| TransitionRow {
                    from: key.0,
                    to: key.1,
                    customers: 0,
                    clv_from: None,
                    clv_to: None,
                    margin_from_cents: 0,
                    margin_to_cents: 0,
                });
                r.customers += customers;
                r.clv_from = add(r.clv_from, cf);
                r.clv_to = add(r.clv_to, ct);
                r.margin_from_cents += mf;
                r.margin_to_cents += mt;
            }
        }
        let sorted = |t: BTreeMap<Key, TransitionRow>| {
            let mut out: Vec<TransitionRow> = t.into_values().collect();
            let key = |v: &Option<String>| (v.is_none(), v.clone());
            out.sort_by(|x, y| {
                key(&x.from)
                    .cmp(&key(&y.from))
                    .then(key(&x.to).cmp(&key(&y.to)))
            });
            out
        };
        Ok((sorted(grade), sorted(stage)))
    }
}
