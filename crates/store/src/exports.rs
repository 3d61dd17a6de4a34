//! Export control (see migration 0017_export_control): the export right and daily row limit of
//! each role, the requests for larger exports with their decision and one-time download, and per
//! user whether exports are suspended and when a leaving user's customers are handed over. Who
//! may export what is the application layer's rule (`patron_app::exports`); this is storage.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::commit;
use crate::BeginWrite;
use crate::{now, with_pool, CustomerFilter, CustomerSort, Role, Store, StoreError};

/// How a role may export customer rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportRight {
    /// Never.
    None,
    /// Within the user's data scope, up to the daily limit without approval.
    Own,
    /// Every export needs a manager's approval.
    Approval,
}

impl ExportRight {
    /// Every right, by name.
    pub const NAMES: [&'static str; 3] = ["none", "own", "approval"];

    /// Its name (`none`, `own`, `approval`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportRight::None => "none",
            ExportRight::Own => "own",
            ExportRight::Approval => "approval",
        }
    }

    /// The right named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "none" => Some(ExportRight::None),
            "own" => Some(ExportRight::Own),
            "approval" => Some(ExportRight::Approval),
            _ => None,
        }
    }
}

/// The export rule of one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportRule {
    /// The role it applies to.
    pub role: Role,
    /// How the role may export.
    pub right: ExportRight,
    /// Rows a user may export per (UTC) day without approval; `None`: no limit.
    pub daily_rows: Option<i64>,
}

/// A user's export standing: suspended, leaving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ExportStanding {
    /// Exports suspended (an unusual-access alert; cleared on review).
    pub exports_suspended: bool,
    /// The day the user leaves (their exports need approval from the moment it is set).
    pub leaving_on: Option<NaiveDate>,
    /// Who receives their customers on that day.
    pub leaving_to: Option<i64>,
    /// When their customers were handed over (the leaving day's job ran).
    pub handed_over_at: Option<DateTime<Utc>>,
}

/// Export request states.
pub const EXPORT_REQUEST_STATES: [&str; 3] = ["pending", "approved", "refused"];

/// A request to export more customer rows than the requester may without approval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRequest {
    /// Its id.
    pub id: i64,
    /// Who asked.
    pub user_id: i64,
    /// Their user name.
    pub username: String,
    /// The filter the file is produced from (JSON; see [`ExportRequest::filter`]).
    #[serde(skip)]
    pub filter_json: String,
    /// The filter as the requester wrote it (a query string), for people to read.
    pub described: String,
    /// How many rows the filter matched when asked.
    pub row_count: i64,
    /// Why (required).
    pub reason: String,
    /// `pending`, `approved` or `refused`.
    pub status: String,
    /// When asked.
    pub created_at: DateTime<Utc>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's reason (required for a refusal).
    pub decision_reason: Option<String>,
    /// Until when an approved request may be downloaded.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was downloaded (once).
    pub downloaded_at: Option<DateTime<Utc>>,
}

impl ExportRequest {
    /// The stored filter and sort.
    pub fn filter(&self) -> Result<(CustomerFilter, CustomerSort), StoreError> {
        let v: serde_json::Value = serde_json::from_str(&self.filter_json)
            .map_err(|e| StoreError::invalid("filter", e.to_string()))?;
        let filter: CustomerFilter = serde_json::from_value(v["filter"].clone())
            .map_err(|e| StoreError::invalid("filter", e.to_string()))?;
        let sort: CustomerSort = serde_json::from_value(v["sort"].clone()).unwrap_or_default();
        Ok((filter, sort))
    }

    /// May it be downloaded at `at` (approved, not downloaded, not expired)?
    pub fn downloadable(&self, at: DateTime<Utc>) -> bool {
        self.why_not_downloadable(at).is_none()
    }

    /// Why it may not be downloaded at `at` (not approved, fetched already, expired); `None`
    /// when it may.
    pub fn why_not_downloadable(&self, at: DateTime<Utc>) -> Option<String> {
        let id = self.id;
        if self.status != "approved" {
            Some(format!(
                "export request {id} is {}, not approved",
                self.status
            ))
        } else if self.downloaded_at.is_some() {
            Some(format!(
                "export request {id} was downloaded already (a download is fetched once)"
            ))
        } else if self.expires_at.is_none_or(|e| e <= at) {
            Some(format!("the download of export request {id} has expired"))
        } else {
            None
        }
    }
}

/// The JSON kept for a request's filter and sort; refused (naming `filter`) when it would not
/// read back as the very same filter (a kind of filter requests cannot keep), so that an
/// approved file never holds more than was asked for.
pub fn filter_json(f: &CustomerFilter, sort: CustomerSort) -> Result<String, StoreError> {
    let json = filter_text(f, sort);
    let back: Option<CustomerFilter> = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| serde_json::from_value(v["filter"].clone()).ok());
    if back.as_ref() != Some(f) {
        return Err(StoreError::invalid(
            "filter",
            "this filter cannot be kept for an export request: narrow the list with the usual filters",
        ));
    }
    Ok(json)
}

fn filter_text(f: &CustomerFilter, sort: CustomerSort) -> String {
    serde_json::json!({
        "filter": {
            "status": f.status.map(|s| s.as_str()),
            "owner_id": f.owner_id,
            "region": f.region,
            "industry": f.industry,
            "source": f.source,
            "tag": f.tag,
            "q": f.q,
            "exclude_opted_out": f.exclude_opted_out,
            "abc_class": f.abc_class,
            "rfm_segment": f.rfm_segment,
            "grade": f.grade,
            "loyalty_stage": f.loyalty_stage,
            "churn_risk": f.churn_risk,
            "archived": f.archived,
            "owned": f.owned,
        },
        "sort": sort,
    })
    .to_string()
}

type RequestRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn request(r: RequestRow) -> ExportRequest {
    ExportRequest {
        id: r.0,
        user_id: r.1,
        username: r.2,
        filter_json: r.3,
        described: r.4,
        row_count: r.5,
        reason: r.6,
        status: r.7,
        created_at: r.8,
        decided_by: r.9,
        decided_at: r.10,
        decision_reason: r.11,
        expires_at: r.12,
        downloaded_at: r.13,
    }
}

const REQUEST_SELECT: &str = "SELECT r.id, r.user_id, u.username, r.filter, r.described, \
     r.row_count, r.reason, r.status, r.created_at, r.decided_by, r.decided_at, \
     r.decision_reason, r.expires_at, r.downloaded_at \
     FROM export_requests r JOIN users u ON u.id = r.user_id";

fn role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::invalid("role", format!("unknown role '{s}'")))
}

impl Store {
    /// The export rule of every role (admin, manager, rep, analyst).
    pub async fn export_rules(&self) -> Result<Vec<ExportRule>, StoreError> {
        let rows: Vec<(String, String, Option<i64>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT role, export_right, daily_rows FROM export_rules")
            .fetch_all(pool).await?);
        let mut out = Vec::with_capacity(4);
        for name in Role::NAMES {
            let r = role(name)?;
            let rule = rows.iter().find(|(n, _, _)| n == name);
            out.push(match rule {
                Some((_, right, daily)) => ExportRule {
                    role: r,
                    right: ExportRight::parse(right).unwrap_or(ExportRight::None),
                    daily_rows: *daily,
                },
                // A missing row exports nothing (never more than the table says).
                None => ExportRule {
                    role: r,
                    right: ExportRight::None,
                    daily_rows: Some(0),
                },
            });
        }
        Ok(out)
    }

    /// The export rule of `role`.
    pub async fn export_rule(&self, role: Role) -> Result<ExportRule, StoreError> {
        Ok(self
            .export_rules()
            .await?
            .into_iter()
            .find(|r| r.role == role)
            .expect("every role has a rule"))
    }

    /// Sets the export rule of a role (a negative limit is refused naming `daily_rows`); the
    /// handle's audit row (see [`Store::audited`]) is written in the same transaction.
    pub async fn set_export_rule(&self, rule: &ExportRule) -> Result<(), StoreError> {
        if rule.daily_rows.is_some_and(|n| n < 0) {
            return Err(StoreError::invalid(
                "daily_rows",
                "must be 0 or more (leave empty for no limit)",
            ));
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO export_rules (role, export_right, daily_rows) VALUES ($1, $2, $3) \
                 ON CONFLICT (role) DO UPDATE SET export_right = excluded.export_right, daily_rows = excluded.daily_rows")
                .bind(rule.role.as_str()).bind(rule.right.as_str()).bind(rule.daily_rows)
                .execute(&mut *tx).await?;
            commit!(self, tx);
        });
        Ok(())
    }

    /// Customer rows user `user_id` exported since `since` (the `export` rows of the audit log).
    pub async fn exported_rows_since(
        &self,
        user_id: i64,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let n: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT CAST(SUM(row_count) AS BIGINT) FROM audit_log WHERE actor_id = $1 AND action = 'export' AND at >= $2")
            .bind(user_id).bind(since).fetch_one(pool).await?);
        Ok(n.unwrap_or(0))
    }

    /// Whether user `user_id`'s exports are suspended, and their leaving day.
    pub async fn export_standing(&self, user_id: i64) -> Result<ExportStanding, StoreError> {
        type Row = (bool, Option<NaiveDate>, Option<i64>, Option<DateTime<Utc>>);
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT exports_suspended, leaving_on, leaving_to, handed_over_at FROM users WHERE id = $1")
            .bind(user_id).fetch_optional(pool).await?);
        let r = row.ok_or_else(|| StoreError::not_found("user", user_id))?;
        Ok(ExportStanding {
            exports_suspended: r.0,
            leaving_on: r.1,
            leaving_to: r.2,
            handed_over_at: r.3,
        })
    }

    /// Suspends (or, with `false`, allows again) user `user_id`'s exports: while suspended,
    /// every export of theirs needs a manager's approval. The handle's audit row goes in the
    /// same transaction.
    pub async fn set_exports_suspended(
        &self,
        user_id: i64,
        suspended: bool,
    ) -> Result<(), StoreError> {
        let n = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("UPDATE users SET exports_suspended = $1 WHERE id = $2")
                .bind(suspended).bind(user_id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("user", user_id));
            }
            commit!(self, tx);
            n
        });
        debug_assert_eq!(n, 1);
        Ok(())
    }

    /// Marks user `user_id` as leaving on `on`, their customers going to `to` that day (`None`
    /// for both: no longer leaving). The handle's audit row goes in the same transaction.
    pub async fn set_leaving(
        &self,
        user_id: i64,
        leaving: Option<(NaiveDate, i64)>,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("UPDATE users SET leaving_on = $1, leaving_to = $2, handed_over_at = NULL WHERE id = $3")
                .bind(leaving.map(|l| l.0)).bind(leaving.map(|l| l.1)).bind(user_id)
                .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("user", user_id));
            }
            commit!(self, tx);
        });
        Ok(())
    }

    /// Users leaving on or before `today` whose customers were not handed over yet:
    /// `(user, receiver)`.
    pub async fn leavers_due(&self, today: NaiveDate) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT id, leaving_to FROM users WHERE leaving_on IS NOT NULL AND leaving_on <= $1 \
             AND leaving_to IS NOT NULL AND handed_over_at IS NULL ORDER BY id")
            .bind(today).fetch_all(pool).await?))
    }

    /// Users marked as leaving: `(user, day, receiver, handed over at)`.
    pub async fn leavers(
        &self,
    ) -> Result<Vec<(i64, NaiveDate, Option<i64>, Option<DateTime<Utc>>)>, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT id, leaving_on, leaving_to, handed_over_at FROM users WHERE leaving_on IS NOT NULL ORDER BY leaving_on, id")
            .fetch_all(pool).await?))
    }

    /// Records that a leaving user's customers were handed over (the day's job ran).
    pub async fn set_handed_over(&self, user_id: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("UPDATE users SET handed_over_at = $1 WHERE id = $2")
            .bind(now()).bind(user_id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Stores a pending export request; the handle's audit row (`{id}`: the request's id) goes
    /// in the same transaction.
    pub async fn create_export_request(
        &self,
        user_id: i64,
        filter_json: &str,
        described: &str,
        row_count: i64,
        reason: &str,
    ) -> Result<ExportRequest, StoreError> {
        let id: i64 = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO export_requests (user_id, filter, described, row_count, reason, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id")
                .bind(user_id).bind(filter_json).bind(described).bind(row_count).bind(reason).bind(now())
                .fetch_one(&mut *tx).await?;
            commit!(self, tx, Some(id));
            id
        });
        self.export_request(id).await
    }

    /// An export request by id.
    pub async fn export_request(&self, id: i64) -> Result<ExportRequest, StoreError> {
        let sql = format!("{REQUEST_SELECT} WHERE r.id = $1");
        let row: Option<RequestRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(request)
            .ok_or_else(|| StoreError::not_found("export request", id))
    }

    /// Export requests, newest first: of one user, or in one state (`pending`...), or all.
    pub async fn export_requests(
        &self,
        user_id: Option<i64>,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ExportRequest>, StoreError> {
        let sql = format!(
            "{REQUEST_SELECT} WHERE ($1 IS NULL OR r.user_id = $1) AND ($2 IS NULL OR r.status = $2) \
             ORDER BY r.id DESC LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let rows: Vec<RequestRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(user_id).bind(status).fetch_all(pool).await?);
        Ok(rows.into_iter().map(request).collect())
    }

    /// Approves (with the time the download expires) or refuses a pending request; 409 when it
    /// was decided already. The handle's audit row goes in the same transaction.
    pub async fn decide_export_request(
        &self,
        id: i64,
        approve: bool,
        by: &str,
        reason: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ExportRequest, StoreError> {
        self.export_request(id).await?;
        let status = if approve { "approved" } else { "refused" };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE export_requests SET status = $1, decided_by = $2, decided_at = $3, \
                 decision_reason = $4, expires_at = $5 WHERE id = $6 AND status = 'pending'")
                .bind(status).bind(by).bind(now()).bind(reason).bind(expires_at).bind(id)
                .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict {
                    message: format!("export request {id} was decided already"),
                    current_version: None,
                    code: None,
                });
            }
            commit!(self, tx);
        });
        self.export_request(id).await
    }

    /// Marks approved request `id` as downloaded, once, before it expires at `at`; 409 when it
    /// was downloaded already, has expired or is not approved. The handle's audit row (the
    /// export, with its row count) goes in the same transaction.
    pub async fn claim_export_download(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let r = self.export_request(id).await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE export_requests SET downloaded_at = $1 WHERE id = $2 AND status = 'approved' \
                 AND downloaded_at IS NULL AND expires_at > $1")
                .bind(at).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                let why = r.why_not_downloadable(at).unwrap_or_else(|| {
                    format!("export request {id} was downloaded already (a download is fetched once)")
                });
                return Err(StoreError::Conflict { message: why, current_version: None, code: None });
            }
            commit!(self, tx);
        });
        Ok(())
    }
}
