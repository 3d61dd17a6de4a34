//! Unusual access (migration 0018): per user and UTC hour, how many customer cards they opened,
//! cards of customers they do not own, searches, list pages and exported rows
//! (`access_counts`, one upsert per request); the alerts raised when an hour goes past the
//! user's usual level and a floor (`access_alerts`, at most one per user, kind and hour); the
//! settings admins change; and the evidence report of one user's views and exports over a
//! period, read from the audit log.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::{commit, now, with_pool, BeginWrite, Store, StoreError};

/// What is counted: `view` (customer cards opened), `foreign` (cards of customers the user does
/// not own), `search` (customer list pages with a search text), `list` (customer list pages),
/// `export` (customer rows exported).
pub const ACCESS_KINDS: [&str; 5] = ["view", "foreign", "search", "list", "export"];

/// `check_at` of an hour that raised its alert: never compared again.
const ALERTED: i64 = i64::MAX;

/// The largest multiple of the usual level admins may set.
pub const MULTIPLE_MAX: f64 = 1000.0;
/// The longest baseline, in days.
pub const BASELINE_DAYS_MAX: i64 = 90;
/// The longest evidence report, in days.
pub const EVIDENCE_DAYS_MAX: i64 = 366;

/// The hour `at` falls in: whole hours since 1970-01-01T00:00Z.
pub fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// The start of hour `hour` (see [`hour_of`]).
pub fn hour_start(hour: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(hour.saturating_mul(3600), 0).unwrap_or_default()
}

/// One kind's count of the current hour, as the upsert left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessCount {
    /// One of [`ACCESS_KINDS`].
    pub kind: String,
    /// The hour's count so far.
    pub n: i64,
    /// The count at which the hour is next compared with the user's usual level (`None`: now).
    pub check_at: Option<i64>,
}

impl AccessCount {
    /// Whether this count is due for a comparison with the user's usual level.
    pub fn due(&self) -> bool {
        self.check_at.is_none_or(|c| self.n >= c)
    }
}

/// The unusual-access settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessWatch {
    /// An hour is unusual above this multiple of the user's usual level (default 5).
    pub multiple: f64,
    /// The usual level: the median count of the user's active hours over this many days
    /// before the hour (default 14).
    pub baseline_days: i64,
    /// Whether an alert suspends the user's exports until an administrator reviews it
    /// (default no).
    pub suspend_exports: bool,
    /// Per kind, the count an hour must also reach (defaults: 100 card views, 50 cards of
    /// others' customers, 100 searches, 100 list pages, 1,000 exported rows).
    pub floors: BTreeMap<String, i64>,
}

impl AccessWatch {
    /// The settings' own rules: field names in the errors.
    pub fn validate(&self) -> Result<(), StoreError> {
        if !self.multiple.is_finite() || !(1.0..=MULTIPLE_MAX).contains(&self.multiple) {
            return Err(StoreError::invalid(
                "multiple",
                format!("must be a number from 1 to {MULTIPLE_MAX}"),
            ));
        }
        if !(1..=BASELINE_DAYS_MAX).contains(&self.baseline_days) {
            return Err(StoreError::invalid(
                "baseline_days",
                format!("must be a whole number of days from 1 to {BASELINE_DAYS_MAX}"),
            ));
        }
        for (k, f) in &self.floors {
            if !ACCESS_KINDS.contains(&k.as_str()) {
                return Err(StoreError::invalid(
                    "floor",
                    format!("unknown kind '{k}' (one of {})", ACCESS_KINDS.join(", ")),
                ));
            }
            if !(1..=1_000_000_000).contains(f) {
                return Err(StoreError::invalid(
                    &format!("floor.{k}"),
                    "must be a whole number from 1 to 1,000,000,000",
                ));
            }
        }
        Ok(())
    }
}

/// An unusual-access alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessAlert {
    /// Its id.
    pub id: i64,
    /// Whose access.
    pub user_id: i64,
    /// Their user name.
    pub username: String,
    /// One of [`ACCESS_KINDS`].
    pub kind: String,
    /// The hour (see [`hour_of`]).
    pub hour: i64,
    /// The hour's count when the alert was raised.
    pub n: i64,
    /// The hour's count now.
    pub n_now: i64,
    /// The user's usual level then (median count of their active hours over the baseline).
    pub usual: f64,
    /// The count the hour went past (the floor or the multiple of the usual level).
    pub threshold: i64,
    /// Whether the alert suspended the user's exports.
    pub suspended: bool,
    /// When raised.
    pub created_at: DateTime<Utc>,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// When.
    pub reviewed_at: Option<DateTime<Utc>>,
}

/// One day of an evidence report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceDay {
    /// The (UTC) day.
    pub day: NaiveDate,
    /// Customer views (audit rows `view`).
    pub views: i64,
    /// Distinct customers viewed that day.
    pub customers: i64,
    /// List pages (audit rows `list`).
    pub list_pages: i64,
    /// Exports (audit rows `export`).
    pub exports: i64,
    /// Rows exported.
    pub rows: i64,
}

/// A customer viewed in the period of an evidence report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewedCustomer {
    /// Its id.
    pub customer_id: i64,
    /// Its customer number and name (`None` once purged).
    pub number: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// How many views.
    pub views: i64,
    /// The first and last view in the period.
    pub first: DateTime<Utc>,
    /// The last view.
    pub last: DateTime<Utc>,
}

/// An export in the period of an evidence report (its audit row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedFile {
    /// The audit row's id.
    pub audit_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// What was exported (the audit row's detail).
    pub detail: String,
    /// Rows written.
    pub rows: Option<i64>,
}

/// Everything one user viewed and exported over a period, from the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceReport {
    /// The user.
    pub user_id: i64,
    /// Their user name.
    pub username: String,
    /// The first and last (UTC) day, inclusive.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
    /// Per day with any view, list or export, in order.
    pub days: Vec<EvidenceDay>,
    /// The customers viewed, most viewed first.
    pub customers: Vec<ViewedCustomer>,
    /// The exports, in order.
    pub exports: Vec<ExportedFile>,
}

impl EvidenceReport {
    /// All views in the period.
    pub fn views(&self) -> i64 {
        self.days.iter().map(|d| d.views).sum()
    }
}

type AlertRow = (
    i64,
    i64,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    f64,
    i64,
    bool,
    DateTime<Utc>,
    Option<String>,
    Option<DateTime<Utc>>,
);

const ALERT_SELECT: &str = "SELECT a.id, a.user_id, u.username, a.kind, a.hour, a.n, c.n, a.usual, a.threshold, a.suspended, a.created_at, a.reviewed_by, a.reviewed_at \
     FROM access_alerts a JOIN users u ON u.id = a.user_id \
     LEFT JOIN access_counts c ON c.user_id = a.user_id AND c.kind = a.kind AND c.hour = a.hour";

fn to_alert(r: AlertRow) -> AccessAlert {
    AccessAlert {
        id: r.0,
        user_id: r.1,
        username: r.2,
        kind: r.3,
        hour: r.4,
        n: r.5,
        n_now: r.6.unwrap_or(r.5),
        usual: r.7,
        threshold: r.8,
        suspended: r.9,
        created_at: r.10,
        reviewed_by: r.11,
        reviewed_at: r.12,
    }
}

impl Store {
    /// Adds `n` to user `user_id`'s count of hour `hour` for `kind` and, when given, `also`
    /// (both kinds of [`ACCESS_KINDS`]): one statement. Answers the counts as they now stand.
    pub async fn count_access(
        &self,
        user_id: i64,
        hour: i64,
        kind: &str,
        also: Option<&str>,
        n: i64,
    ) -> Result<Vec<AccessCount>, StoreError> {
        // A new hour starts with its kind's floor as the first count to compare.
        const SQL: &str = "INSERT INTO access_counts (user_id, kind, hour, n, check_at) \
             SELECT $1, kind, $2, $3, floor FROM access_floors WHERE kind = $4 OR kind = $5 \
             ON CONFLICT (user_id, kind, hour) DO UPDATE SET n = access_counts.n + excluded.n \
             RETURNING kind, n, check_at";
        let rows: Vec<(String, i64, Option<i64>)> = with_pool!(self, pool => sqlx::query_as(SQL)
            .bind(user_id).bind(hour).bind(n).bind(kind).bind(also.unwrap_or(kind))
            .fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(kind, n, check_at)| AccessCount { kind, n, check_at })
            .collect())
    }

    /// User `user_id`'s counts of `kind` in the hours with any, from hour `from` up to (not
    /// including) hour `to`.
    pub async fn access_history(
        &self,
        user_id: i64,
        kind: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT n FROM access_counts WHERE user_id = $1 AND kind = $2 AND hour >= $3 AND hour < $4")
            .bind(user_id).bind(kind).bind(from).bind(to).fetch_all(pool).await?))
    }

    /// User `user_id`'s counts per kind and hour from hour `from` up to (not including) `to`.
    pub async fn access_counts(
        &self,
        user_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT kind, hour, n FROM access_counts WHERE user_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour, kind")
            .bind(user_id).bind(from).bind(to).fetch_all(pool).await?))
    }

    /// Sets the count at which user `user_id`'s hour `hour` of `kind` is next compared.
    pub async fn set_access_check(
        &self,
        user_id: i64,
        kind: &str,
        hour: i64,
        check_at: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE access_counts SET check_at = $1 WHERE user_id = $2 AND kind = $3 AND hour = $4 AND (check_at IS NULL OR check_at < $1)")
            .bind(check_at).bind(user_id).bind(kind).bind(hour).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The unusual-access settings.
    pub async fn access_watch(&self) -> Result<AccessWatch, StoreError> {
        let (multiple, baseline_days, suspend_exports): (f64, i64, bool) = with_pool!(self, pool => sqlx::query_as(
            "SELECT multiple, baseline_days, suspend_exports FROM access_watch WHERE id = 1")
            .fetch_one(pool).await?);
        let floors: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT kind, floor FROM access_floors ORDER BY kind").fetch_all(pool).await?);
        Ok(AccessWatch {
            multiple,
            baseline_days,
            suspend_exports,
            floors: floors.into_iter().collect(),
        })
    }

    /// Saves the unusual-access settings (checked; floors of kinds not named stay). The hours
    /// under way are compared again at their next request. The handle's audit row goes in the
    /// same transaction.
    pub async fn set_access_watch(&self, w: &AccessWatch) -> Result<AccessWatch, StoreError> {
        w.validate()?;
        let current = hour_of(now());
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE access_watch SET multiple = $1, baseline_days = $2, suspend_exports = $3 WHERE id = 1")
                .bind(w.multiple).bind(w.baseline_days).bind(w.suspend_exports)
                .execute(&mut *tx).await?;
            for (k, f) in &w.floors {
                sqlx::query("UPDATE access_floors SET floor = $1 WHERE kind = $2")
                    .bind(f).bind(k).execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE access_counts SET check_at = NULL WHERE hour >= $1 AND check_at < $2")
                .bind(current).bind(ALERTED).execute(&mut *tx).await?;
            commit!(self, tx);
        });
        self.access_watch().await
    }

    /// Raises the alert of user `user_id`'s hour `hour` of `kind`, unless it was raised
    /// already: answers its id when this call raised it. The hour is not compared again.
    #[allow(clippy::too_many_arguments)]
    pub async fn raise_access_alert(
        &self,
        user_id: i64,
        kind: &str,
        hour: i64,
        n: i64,
        usual: f64,
        threshold: i64,
        suspended: bool,
    ) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE access_counts SET check_at = $1 WHERE user_id = $2 AND kind = $3 AND hour = $4")
                .bind(ALERTED).bind(user_id).bind(kind).bind(hour).execute(&mut *tx).await?;
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO access_alerts (user_id, kind, hour, n, usual, threshold, suspended, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_id, kind, hour) DO NOTHING RETURNING id")
                .bind(user_id).bind(kind).bind(hour).bind(n).bind(usual).bind(threshold).bind(suspended).bind(now())
                .fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            id
        }))
    }

    /// The unusual-access alerts, newest first (only those not reviewed with `open`).
    pub async fn access_alerts(
        &self,
        open: bool,
        limit: i64,
    ) -> Result<Vec<AccessAlert>, StoreError> {
        let sql = format!(
            "{ALERT_SELECT}{} ORDER BY a.id DESC LIMIT {}",
            if open {
                " WHERE a.reviewed_at IS NULL"
            } else {
                ""
            },
            limit.clamp(1, 10_000)
        );
        let rows: Vec<AlertRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(to_alert).collect())
    }

    /// One unusual-access alert.
    pub async fn access_alert(&self, id: i64) -> Result<AccessAlert, StoreError> {
        let sql = format!("{ALERT_SELECT} WHERE a.id = $1");
        let row: Option<AlertRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(to_alert)
            .ok_or_else(|| StoreError::not_found("alert", id))
    }

    /// Marks alert `id` reviewed by `by` (409 when it was already). When it had suspended the
    /// user's exports and no other alert of theirs that suspended them is still open, their
    /// exports are allowed again, in the same transaction. The handle's audit row goes in it
    /// too. Answers the alert as it now stands and whether exports were allowed again.
    pub async fn review_access_alert(
        &self,
        id: i64,
        by: &str,
    ) -> Result<(AccessAlert, bool), StoreError> {
        let alert = self.access_alert(id).await?;
        let resumed = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("UPDATE access_alerts SET reviewed_by = $1, reviewed_at = $2 WHERE id = $3 AND reviewed_at IS NULL")
                .bind(by).bind(now()).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict {
                    code: None,
                    message: format!(
                        "alert {id} was reviewed already (by {})",
                        alert.reviewed_by.as_deref().unwrap_or("someone")
                    ),
                    current_version: None,
                });
            }
            let others: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM access_alerts WHERE user_id = $1 AND suspended AND reviewed_at IS NULL")
                .bind(alert.user_id).fetch_one(&mut *tx).await?;
            let resumed = alert.suspended && others == 0;
            if resumed {
                sqlx::query("UPDATE users SET exports_suspended = FALSE WHERE id = $1")
                    .bind(alert.user_id).execute(&mut *tx).await?;
            }
            commit!(self, tx);
            resumed
        });
        Ok((self.access_alert(id).await?, resumed))
    }

    /// Everything user `user_id` (`username`) viewed, listed and exported from day `from` to
    /// day `to` (inclusive, UTC), from the audit log: counts per day, the customers viewed
    /// (number and name), the exports.
    pub async fn evidence(
        &self,
        user_id: i64,
        username: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<EvidenceReport, StoreError> {
        if to < from {
            return Err(StoreError::invalid("to", "is before from"));
        }
        if (to - from).num_days() >= EVIDENCE_DAYS_MAX {
            return Err(StoreError::invalid(
                "to",
                format!("a report covers at most {EVIDENCE_DAYS_MAX} days"),
            ));
        }
        let start = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let end = to
            .checked_add_days(Days::new(1))
            .ok_or_else(|| StoreError::invalid("to", "is too far in the future"))?
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        type Row = (
            i64,
            DateTime<Utc>,
            String,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, at, action, customer_id, detail, row_count FROM audit_log \
             WHERE actor = $1 AND actor_id = $2 AND action IN ('view', 'list', 'export') AND at >= $3 AND at < $4 ORDER BY id")
            .bind(username).bind(user_id).bind(start).bind(end).fetch_all(pool).await?);
        let mut days: BTreeMap<NaiveDate, (EvidenceDay, std::collections::HashSet<i64>)> =
            BTreeMap::new();
        let mut viewed: HashMap<i64, (i64, DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
        let mut exports = Vec::new();
        for (audit_id, at, action, customer, detail, rows) in rows {
            let day = at.date_naive();
            let (d, seen) = days.entry(day).or_insert_with(|| {
                (
                    EvidenceDay {
                        day,
                        views: 0,
                        customers: 0,
                        list_pages: 0,
                        exports: 0,
                        rows: 0,
                    },
                    Default::default(),
                )
            });
            match action.as_str() {
                "view" => {
                    d.views += 1;
                    if let Some(c) = customer {
                        seen.insert(c);
                        let v = viewed.entry(c).or_insert((0, at, at));
                        v.0 += 1;
                        v.2 = at;
                    }
                }
                "list" => d.list_pages += 1,
                _ => {
                    d.exports += 1;
                    d.rows += rows.unwrap_or(0);
                    exports.push(ExportedFile {
                        audit_id,
                        at,
                        detail: detail.unwrap_or_default(),
                        rows,
                    });
                }
            }
        }
        let ids: Vec<i64> = viewed.keys().copied().collect();
        let mut labels: HashMap<i64, (Option<String>, String)> = HashMap::new();
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, number, name FROM customers WHERE id IN ({})",
                marks.join(", ")
            );
            let found: Vec<(i64, Option<String>, String)> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            labels.extend(found.into_iter().map(|(id, n, name)| (id, (n, name))));
        }
        let mut customers: Vec<ViewedCustomer> = viewed
            .into_iter()
            .map(|(id, (views, first, last))| {
                let label = labels.remove(&id);
                ViewedCustomer {
                    customer_id: id,
                    number: label.as_ref().and_then(|l| l.0.clone()),
                    name: label.map(|l| l.1),
                    views,
                    first,
                    last,
                }
            })
            .collect();
        customers.sort_by(|a, b| {
            b.views
                .cmp(&a.views)
                .then(a.customer_id.cmp(&b.customer_id))
        });
        Ok(EvidenceReport {
            user_id,
            username: username.to_string(),
            from,
            to,
            days: days
                .into_values()
                .map(|(mut d, seen)| {
                    d.customers = seen.len() as i64;
                    d
                })
                .collect(),
            customers,
            exports,
        })
    }
}
