//! Customers: create, read, update with change history and optimistic concurrency, delete, list.

use chrono::{DateTime, Utc};
use patron_domain::normalize::{email_key, name_key, phone_key};
use patron_domain::{Customer, CustomerInput, CustomerPatch, FieldError, HistoryEntry, Money};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::commit;
use crate::error::unique_to_conflict;
use crate::page::{decode_cursor, encode_cursor};
use crate::BeginWrite;
use crate::{now, with_pool, Page, PageRequest, Store, StoreError};

pub(crate) const CUSTOMER_COLUMNS: &str = "id, number, name, company, industry, region, address, phone, fax, email, \
     employees, registered_capital_cents, awards, source, tags, custom_fields, status, loyalty, owner_id, \
     credit_rating, credit_limit_cents, marketing_opt_out, referred_by, merged_into, archived_at, archived_by, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct CustomerRow {
    id: i64,
    number: String,
    name: String,
    company: Option<String>,
    industry: Option<String>,
    region: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    fax: Option<String>,
    email: Option<String>,
    employees: Option<i64>,
    registered_capital_cents: Option<i64>,
    awards: Option<String>,
    source: Option<String>,
    tags: Json<Vec<String>>,
    custom_fields: Json<patron_domain::CustomFields>,
    status: String,
    loyalty: String,
    owner_id: Option<i64>,
    credit_rating: Option<String>,
    credit_limit_cents: Option<i64>,
    marketing_opt_out: bool,
    referred_by: Option<i64>,
    merged_into: Option<i64>,
    archived_at: Option<DateTime<Utc>>,
    archived_by: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<CustomerRow> for Customer {
    fn from(r: CustomerRow) -> Self {
        Customer {
            id: r.id,
            version: r.version,
            data: CustomerInput {
                number: Some(r.number),
                name: r.name,
                company: r.company,
                industry: r.industry,
                region: r.region,
                address: r.address,
                phone: r.phone,
                fax: r.fax,
                email: r.email,
                employees: r.employees,
                registered_capital: r.registered_capital_cents.map(Money),
                awards: r.awards,
                source: r.source,
                tags: r.tags.0,
                custom_fields: r.custom_fields.0,
                // The CHECK constraints only admit valid names.
                status: r.status.parse().unwrap_or_default(),
                loyalty: r.loyalty.parse().unwrap_or_default(),
                owner_id: r.owner_id,
                credit_rating: r.credit_rating,
                credit_limit: r.credit_limit_cents.map(Money),
                marketing_opt_out: r.marketing_opt_out,
                referred_by: r.referred_by,
            },
            merged_into: r.merged_into,
            archived_at: r.archived_at,
            archived_by: r.archived_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A customer row followed by the value figure a list is sorted on (last column).
struct KeyedCustomerRow {
    row: CustomerRow,
    sort_key: Option<f64>,
}

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for KeyedCustomerRow
where
    CustomerRow: sqlx::FromRow<'r, R>,
    Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(KeyedCustomerRow {
            row: CustomerRow::from_row(row)?,
            sort_key: row.try_get(row.len() - 1)?,
        })
    }
}

type HistoryRow = (
    i64,
    i64,
    DateTime<Utc>,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// What a customer list may be narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CustomerFilter {
    pub status: Option<patron_domain::CustomerStatus>,
    pub owner_id: Option<i64>,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub source: Option<String>,
    pub tag: Option<String>,
    /// Matches name or company (substring, any case), customer number, phone or e-mail.
    pub q: Option<String>,
    /// Leave out customers who asked for no marketing (for campaign lists).
    #[serde(default)]
    pub exclude_opted_out: bool,
    /// Stored value figures (see `Store::replace_customer_values`): customers without figures
    /// match none of these. ABC class `A`, `B` or `C`.
    pub abc_class: Option<String>,
    /// RFM segment key (`champions`, `loyal`, `at_risk`, ...).
    pub rfm_segment: Option<String>,
    /// Value grade `A`..`E`.
    pub grade: Option<String>,
    /// Loyalty stage (`first_time_buyer`, `repeat_buyer`, ...).
    pub loyalty_stage: Option<String>,
    /// With (true) or without (false) a churn warning.
    pub churn_risk: Option<bool>,
    /// List the archived customers instead of the live ones (see [`Store::archive_customer`]).
    #[serde(default)]
    pub archived: bool,
    /// Only customers with an owner: the unclaimed pool customers left out (a rep's own list).
    #[serde(default)]
    pub owned: bool,
    /// The customer's course over the last two value snapshots (`value_history`).
    #[serde(default)]
    pub course: Option<crate::ValueCourse>,
    /// The customers of one cell of a transition table between two snapshots.
    #[serde(default)]
    pub transition: Option<crate::TransitionFilter>,
}

impl CustomerFilter {
    /// True when the filter needs the stored value figures.
    fn uses_values(&self) -> bool {
        self.abc_class.is_some()
            || self.rfm_segment.is_some()
            || self.grade.is_some()
            || self.loyalty_stage.is_some()
            || self.churn_risk.is_some()
    }
}

/// Sort orders of a customer list; each is a keyset (sort key, id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerSort {
    #[default]
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "-id")]
    IdDesc,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "-name")]
    NameDesc,
    /// Highest stored CLV first (only customers with a CLV).
    #[serde(rename = "-clv")]
    ClvDesc,
    /// Highest stored value at risk first (only customers with value figures).
    #[serde(rename = "-value_at_risk")]
    ValueAtRiskDesc,
    /// Lowest stored CLV first (only customers with a CLV).
    #[serde(rename = "clv")]
    Clv,
    /// Lowest stored value at risk first (only customers with value figures).
    #[serde(rename = "value_at_risk")]
    ValueAtRisk,
}

impl CustomerSort {
    pub const NAMES: [&'static str; 8] = [
        "id",
        "-id",
        "name",
        "-name",
        "-clv",
        "clv",
        "-value_at_risk",
        "value_at_risk",
    ];

    /// The sort of this name (one of [`CustomerSort::NAMES`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "id" => CustomerSort::Id,
            "-id" => CustomerSort::IdDesc,
            "name" => CustomerSort::Name,
            "-name" => CustomerSort::NameDesc,
            "-clv" => CustomerSort::ClvDesc,
            "clv" => CustomerSort::Clv,
            "-value_at_risk" => CustomerSort::ValueAtRiskDesc,
            "value_at_risk" => CustomerSort::ValueAtRisk,
            _ => return None,
        })
    }

    /// True when the sort key is a stored value figure.
    fn uses_values(self) -> bool {
        matches!(
            self,
            CustomerSort::ClvDesc
                | CustomerSort::ValueAtRiskDesc
                | CustomerSort::Clv
                | CustomerSort::ValueAtRisk
        )
    }

    /// Decodes the `after` cursor of a page in this order; a cursor of another order, or one
    /// no page returned, is [`StoreError::Invalid`] naming `after`.
    pub fn decode_cursor(self, after: &str) -> Result<CustomerCursor, StoreError> {
        Ok(match self {
            CustomerSort::Id | CustomerSort::IdDesc => CustomerCursor::Id(decode_cursor(after)?),
            CustomerSort::Name | CustomerSort::NameDesc => {
                let (name, id): (String, i64) = decode_cursor(after)?;
                CustomerCursor::Name(name, id)
            }
            CustomerSort::ClvDesc
            | CustomerSort::ValueAtRiskDesc
            | CustomerSort::Clv
            | CustomerSort::ValueAtRisk => {
                let (bits, id): (u64, i64) = decode_cursor(after)?;
                CustomerCursor::Figure(bits, id)
            }
        })
    }
}

/// Where a customer list page starts: after this key of its sort order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerCursor {
    Id(i64),
    Name(String, i64),
    /// A stored figure as its `f64` bits (exact, whatever JSON does to floats), and the id.
    Figure(u64, i64),
}

/// Positional binds collected while building dynamic SQL.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    I64(i64),
    F64(f64),
    Bool(bool),
    Text(String),
    Date(chrono::NaiveDate),
}

#[derive(Default)]
pub(crate) struct Where {
    pub clauses: Vec<String>,
    pub binds: Vec<Bind>,
}

impl Where {
    /// Adds a clause whose `?` marks become the next `$n` placeholders.
    pub fn push(&mut self, clause: &str, binds: impl IntoIterator<Item = Bind>) {
        let mut out = String::new();
        let mut binds = binds.into_iter();
        for ch in clause.chars() {
            if ch == '?' {
                self.binds.push(binds.next().expect("a bind for every ?"));
                out.push_str(&format!("${}", self.binds.len()));
            } else {
                out.push(ch);
            }
        }
        self.clauses.push(out);
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                $crate::customers::Bind::I64(v) => q.bind(*v),
                $crate::customers::Bind::F64(v) => q.bind(*v),
                $crate::customers::Bind::Bool(v) => q.bind(*v),
                $crate::customers::Bind::Text(v) => q.bind(v.clone()),
                $crate::customers::Bind::Date(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

/// Normalised phone, e-mail and name keys (duplicates and search).
pub(crate) fn search_keys(c: &CustomerInput) -> (Option<String>, Option<String>, Option<String>) {
    (
        c.phone.as_deref().and_then(phone_key),
        c.email.as_deref().and_then(email_key),
        name_key(&c.name, c.company.as_deref()),
    )
}

impl Store {
    /// Creates a customer from validated input. The number is generated (`C000123`) when absent.
    pub async fn create_customer(
        &self,
        input: CustomerInput,
        by: &str,
    ) -> Result<Customer, StoreError> {
        let input = input.validate().map_err(StoreError::Invalid)?;
        self.check_references(&input, None).await?;
        if let Some(o) = input.owner_id {
            self.check_receiver(o, "owner_id").await?;
        }
        let id = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id = insert_customer!(tx, &input)?;
            sqlx::query("INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES ($1, $2, $3, 'created', NULL, $4)")
                .bind(id).bind(now()).bind(by).bind(&input.name).execute(&mut *tx).await?;
            commit!(self, tx, created_customer = id);
            id
        });
        self.customer(id).await
    }

    /// Reads one customer (merged ones too: they point to the survivor).
    pub async fn customer(&self, id: i64) -> Result<Customer, StoreError> {
        let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1");
        let row: Option<CustomerRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(Customer::from)
            .ok_or_else(|| StoreError::not_found("customer", id))
    }

    pub async fn customer_by_number(&self, number: &str) -> Result<Customer, StoreError> {
        let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE number = $1");
        let row: Option<CustomerRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(number).fetch_optional(pool).await?);
        row.map(Customer::from)
            .ok_or_else(|| StoreError::not_found("customer number", number))
    }

    /// Applies a partial update. With `expected_version`, refuses (409) when the record changed
    /// since the caller read it; every changed field is written to the history in the same
    /// transaction.
    pub async fn update_customer(
        &self,
        id: i64,
        patch: &CustomerPatch,
        expected_version: Option<i64>,
        by: &str,
    ) -> Result<Customer, StoreError> {
        let current = self.customer(id).await?;
        if let Some(v) = expected_version {
            if v != current.version {
                return Err(conflict(&current));
            }
        }
        if patch.contains_key("number") && patch.get("number").is_some_and(|v| v.is_null()) {
            return Err(StoreError::invalid(
                "number",
                "cannot be removed (it identifies the customer)",
            ));
        }
        let new = current.data.patched(patch).map_err(StoreError::Invalid)?;
        self.check_references(&new, Some(id)).await?;
        // A leaver receives no customer (one they already hold may still be edited).
        let new_owner = (new.owner_id != current.data.owner_id).then_some(new.owner_id);
        if let Some(Some(o)) = new_owner {
            self.check_receiver(o, "owner_id").await?;
        }
        let changes = current.data.diff(&new);
        if changes.is_empty() {
            return Ok(current);
        }
        let sets: Vec<String> = CUSTOMER_WRITE_COLUMNS
            .split(',')
            .enumerate()
            .map(|(i, col)| format!("{} = ${}", col.trim(), i + 1))
            .collect();
        let update_sql = format!("UPDATE customers SET {}, version = version + 1, updated_at = $26 WHERE id = $27 AND version = $28", sets.join(", "));
        let at = now();
        let updated = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let res = bind_customer!(sqlx::query(&update_sql), new.number.clone().unwrap_or_else(|| current.data.number.clone().unwrap_or_default()), &new)
                .bind(at)
                .bind(id).bind(current.version)
                .execute(&mut *tx).await
                .map_err(|e| unique_to_conflict(e, || format!("customer number '{}' is already used by another customer", new.number.clone().unwrap_or_default())))?;
            if res.rows_affected() == 0 {
                false
            } else {
                for (field, old, newv) in &changes {
                    sqlx::query(INSERT_HISTORY)
                        .bind(id).bind(at).bind(by).bind(field).bind(old).bind(newv).execute(&mut *tx).await?;
                }
                if let Some(to) = new_owner {
                    crate::pool::record_owner_change!(tx, id, current.data.owner_id, to, at, "owner changed on the customer", by);
                }
                commit!(self, tx);
                true
            }
        });
        if !updated {
            // Lost a race with another writer between our read and our write.
            return Err(conflict(&self.customer(id).await?));
        }
        self.customer(id).await
    }

    /// Purges a customer: deletes it and everything recorded about it, in one transaction: contacts,
    /// orders, interactions, history, value figures, invoices with their instalments and
    /// payments, credit holds, tickets with their events, surveys and opportunities. Referrals to it are
    /// cleared. The audit log (append-only) keeps its rows, which name the customer by id only.
    ///
    /// Refused (409) while the customer still owes money: open receivables are a claim of the
    /// firm that deleting the debtor would silently write off, so they must be paid or settled
    /// first (or the customer archived instead, which keeps everything). Settled invoices are
    /// deleted with it; the books of record are the accounting system's, not the CRM's.
    ///
    /// Users archive customers ([`Store::archive_customer`]); a purge is for a data subject's
    /// erasure request, and the application layer lets administrators only do it, with a reason
    /// written to the audit log in the same transaction.
    pub async fn delete_customer(&self, id: i64) -> Result<(), StoreError> {
        // The customer row is locked first (as the credit check does), so that no order or
        // invoice slips in between the check for open receivables and the delete.
        let lock = match self.kind() {
            crate::BackendKind::Sqlite => {
                "UPDATE customers SET version = version WHERE id = $1 RETURNING id"
            }
            crate::BackendKind::Postgres => "SELECT id FROM customers WHERE id = $1 FOR UPDATE",
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let found: Option<i64> = sqlx::query_scalar(lock).bind(id).fetch_optional(&mut *tx).await?;
            if found.is_none() {
                return Err(StoreError::not_found("customer", id));
            }
            let (open, invoices): (i64, i64) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(amount_cents - paid_cents), 0) AS BIGINT), COUNT(*) FROM invoices \
                 WHERE customer_id = $1 AND paid_cents < amount_cents")
                .bind(id).fetch_one(&mut *tx).await?;
            if open > 0 {
                return Err(StoreError::Conflict {
                    code: None,
                    message: format!(
                        "customer {id} still owes {} on {invoices} open invoice(s); record the payments (or a settlement) first, or archive the customer instead of purging it (archiving keeps its records and hides it from lists)",
                        patron_domain::Money(open)
                    ),
                    current_version: None,
                });
            }
            for sql in [
                "DELETE FROM surveys WHERE customer_id = $1",
                "DELETE FROM survey_requests WHERE customer_id = $1",
                "DELETE FROM opportunities WHERE customer_id = $1",
                "DELETE FROM ticket_events WHERE customer_id = $1",
                "DELETE FROM tickets WHERE customer_id = $1",
                "DELETE FROM payments WHERE customer_id = $1",
                "DELETE FROM instalments WHERE customer_id = $1",
                "DELETE FROM invoices WHERE customer_id = $1",
                "DELETE FROM credit_holds WHERE customer_id = $1",
                "DELETE FROM contacts WHERE customer_id = $1",
                "DELETE FROM interactions WHERE customer_id = $1",
                "DELETE FROM marketing_costs WHERE customer_id = $1",
                "DELETE FROM order_lines WHERE customer_id = $1",
                "DELETE FROM customer_history WHERE customer_id = $1",
                "DELETE FROM ownership_history WHERE customer_id = $1",
                "DELETE FROM tasks WHERE customer_id = $1",
                "DELETE FROM campaign_members WHERE customer_id = $1",
                "DELETE FROM campaign_unsubscribes WHERE customer_id = $1",
                "DELETE FROM outbox WHERE customer_id = $1",
                "DELETE FROM customer_values WHERE customer_id = $1",
                "DELETE FROM value_history WHERE customer_id = $1",
                "UPDATE customers SET referred_by = NULL WHERE referred_by = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM customers WHERE id = $1").bind(id).execute(&mut *tx).await?;
            commit!(self, tx);
        });
        Ok(())
    }

    /// Archives customer `id` as `by` (a user name): it keeps everything recorded about it (its
    /// orders still count in the value figures and the company's totals) but every list,
    /// search, picker, the pool and the plans leave it out; a read by id still finds it.
    /// Recorded in the change history (`archived`: `no` -> `yes`) in the same transaction.
    /// Archiving an archived customer changes nothing (its first archiving stays on record).
    pub async fn archive_customer(&self, id: i64, by: &str) -> Result<Customer, StoreError> {
        self.set_archived(id, true, by).await
    }

    /// Restores an archived customer to the lists (history: `archived`: `yes` -> `no`); a
    /// customer that is not archived is left as it is.
    pub async fn restore_customer(&self, id: i64, by: &str) -> Result<Customer, StoreError> {
        self.set_archived(id, false, by).await
    }

    async fn set_archived(&self, id: i64, archive: bool, by: &str) -> Result<Customer, StoreError> {
        let at = now();
        let (old, new) = if archive {
            ("no", "yes")
        } else {
            ("yes", "no")
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let changed = if archive {
                sqlx::query("UPDATE customers SET archived_at = $1, archived_by = $2, version = version + 1, updated_at = $1 WHERE id = $3 AND archived_at IS NULL")
                    .bind(at).bind(by).bind(id).execute(&mut *tx).await?.rows_affected()
            } else {
                sqlx::query("UPDATE customers SET archived_at = NULL, archived_by = NULL, version = version + 1, updated_at = $1 WHERE id = $2 AND archived_at IS NOT NULL")
                    .bind(at).bind(id).execute(&mut *tx).await?.rows_affected()
            };
            if changed == 0 {
                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
                    .bind(id).fetch_optional(&mut *tx).await?;
                if found.is_none() {
                    return Err(StoreError::not_found("customer", id));
                }
            } else {
                sqlx::query(INSERT_HISTORY)
                    .bind(id).bind(at).bind(by).bind("archived").bind(old).bind(new)
                    .execute(&mut *tx).await?;
            }
            commit!(self, tx);
        });
        self.customer(id).await
    }

    /// The ids of the archived customers (few: read from their partial index). The value
    /// refresh leaves them out of the lists it stores, not out of its totals.
    pub async fn archived_ids(&self) -> Result<std::collections::HashSet<i64>, StoreError> {
        let rows: Vec<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM customers WHERE archived_at IS NOT NULL").fetch_all(pool).await?);
        Ok(rows.into_iter().collect())
    }

    /// The conditions of a customer list (without its page cursor): merged customers left out,
    /// archived ones as the filter says, the caller's visibility, the filter, and the sort's
    /// own condition (a CLV sort lists customers with a CLV only).
    async fn customer_where(
        &self,
        filter: &CustomerFilter,
        visible: &crate::Visibility,
        sort: CustomerSort,
    ) -> Result<Where, StoreError> {
        let mut w = Where::default();
        w.push("merged_into IS NULL", []);
        w.push(
            if filter.archived {
                "archived_at IS NOT NULL"
            } else {
                "archived_at IS NULL"
            },
            [],
        );
        visible.push(&mut w, "owner_id");
        if let Some(s) = filter.status {
            w.push("status = ?", [Bind::Text(s.as_str().into())]);
        }
        if filter.owned {
            w.push("owner_id IS NOT NULL", []);
        }
        if let Some(o) = filter.owner_id {
            w.push("owner_id = ?", [Bind::I64(o)]);
        }
        for (col, v) in [
            ("region", &filter.region),
            ("industry", &filter.industry),
            ("source", &filter.source),
        ] {
            if let Some(v) = v {
                w.push(&format!("{col} = ?"), [Bind::Text(v.clone())]);
            }
        }
        if let Some(t) = &filter.tag {
            // Tags are a JSON array of strings; match the quoted element (as text: jsonb in PostgreSQL).
            w.push(
                "CAST(tags AS TEXT) LIKE ? ESCAPE '\\'",
                [Bind::Text(format!(
                    "%{}%",
                    serde_json::to_string(t)
                        .expect("strings serialize")
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                ))],
            );
        }
        if filter.exclude_opted_out {
            w.push("marketing_opt_out = FALSE", []);
        }
        if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let matched = self.text_matches(q).await?;
            push_search(&mut w, q, matched.as_deref());
        }
        for (col, v) in [
            ("v.abc_class", &filter.abc_class),
            ("v.rfm_segment", &filter.rfm_segment),
            ("v.grade", &filter.grade),
            ("v.loyalty_stage", &filter.loyalty_stage),
        ] {
            if let Some(v) = v {
                w.push(&format!("{col} = ?"), [Bind::Text(v.clone())]);
            }
        }
        if let Some(r) = filter.churn_risk {
            w.push("v.churn_risk = ?", [Bind::Bool(r)]);
        }
        if let Some(c) = filter.course {
            crate::value_history::push_course(&mut w, c);
        }
        if let Some(t) = &filter.transition {
            crate::value_history::push_transition(&mut w, t);
        }
        if matches!(sort, CustomerSort::ClvDesc | CustomerSort::Clv) {
            w.push("v.clv IS NOT NULL", []);
        }
        Ok(w)
    }

    /// How many customers [`Store::list_visible_customers`] lists with this filter and sort,
    /// counting at most `cap + 1` (a `LIMIT` subquery: a million-row table stays fast); a
    /// result above `cap` means "more than `cap`".
    pub async fn count_visible_customers(
        &self,
        filter: &CustomerFilter,
        visible: &crate::Visibility,
        sort: CustomerSort,
        cap: i64,
    ) -> Result<i64, StoreError> {
        let w = self.customer_where(filter, visible, sort).await?;
        let from = if filter.uses_values() || sort.uses_values() {
            "customers JOIN customer_values v ON v.customer_id = customers.id"
        } else {
            "customers"
        };
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 AS one FROM {from}{} LIMIT {}) counted",
            w.sql(),
            cap.max(0) + 1
        );
        let n: i64 = with_pool!(self, pool => bind_all!(sqlx::query_scalar(&sql), &w.binds).fetch_one(pool).await?);
        Ok(n)
    }

    /// The date of the last order of each of these customers (those with orders).
    pub async fn last_order_dates(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::BTreeMap<i64, chrono::NaiveDate>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT customer_id, MAX(ordered_on) FROM order_lines WHERE customer_id IN ({}) GROUP BY customer_id",
            marks.join(", ")
        );
        let rows: Vec<(i64, Option<chrono::NaiveDate>)> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(id, d)| d.map(|d| (id, d)))
            .collect())
    }

    /// Adds `tag` to each of these customers (those that have it already stay as they are) in
    /// one transaction, each change with its history row and an `update` audit row. A tag is
    /// not blank and at most 64 characters. Answers how many customers changed.
    pub async fn add_tag(
        &self,
        ids: &[i64],
        tag: &str,
        actor: &crate::Actor,
    ) -> Result<u64, StoreError> {
        let tag = tag.trim();
        if tag.is_empty() {
            return Err(StoreError::invalid("tag", "is required"));
        }
        if tag.chars().count() > 64 {
            return Err(StoreError::invalid("tag", "is longer than 64 characters"));
        }
        let at = now();
        let detail = format!("tag '{tag}' added");
        let mut changed = 0u64;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for id in ids {
                let row: Option<(Json<Vec<String>>,)> = sqlx::query_as(
                    "SELECT tags FROM customers WHERE id = $1 AND merged_into IS NULL")
                    .bind(id).fetch_optional(&mut *tx).await?;
                let Some((Json(mut tags),)) = row else {
                    return Err(StoreError::not_found("customer", id));
                };
                if tags.iter().any(|t| t == tag) {
                    continue;
                }
                let old = serde_json::to_string(&tags).expect("strings serialize");
                tags.push(tag.to_string());
                let new = serde_json::to_string(&tags).expect("strings serialize");
                sqlx::query("UPDATE customers SET tags = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                    .bind(Json(&tags)).bind(at).bind(id).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES ($1, $2, $3, 'tags', $4, $5)")
                    .bind(id).bind(at).bind(&actor.name).bind(old).bind(new).execute(&mut *tx).await?;
                sqlx::query(crate::audit::INSERT_AUDIT)
                    .bind(at).bind(actor.id).bind(&actor.name).bind("update").bind(Some(*id))
                    .bind(&detail).bind(None::<i64>).bind(&actor.ip)
                    .execute(&mut *tx).await?;
                changed += 1;
            }
            commit!(self, tx);
        });
        Ok(changed)
    }

    /// Lists customers (merged and archived ones left out) in keyset pages.
    pub async fn list_customers(
        &self,
        filter: &CustomerFilter,
        sort: CustomerSort,
        page: &PageRequest,
    ) -> Result<Page<Customer>, StoreError> {
        self.list_visible_customers(filter, &crate::Visibility::All, sort, page)
            .await
    }

    /// Lists the customers a user sees (see [`Store::visibility`]), merged ones left out, and
    /// archived ones too unless the filter asks for them only.
    pub async fn list_visible_customers(
        &self,
        filter: &CustomerFilter,
        visible: &crate::Visibility,
        sort: CustomerSort,
        page: &PageRequest,
    ) -> Result<Page<Customer>, StoreError> {
        let mut w = self.customer_where(filter, visible, sort).await?;
        let limit = page.limit();
        let values = filter.uses_values() || sort.uses_values();
        let (order, key_clause) = match sort {
            // Joined with the value figures, the id order is read from the figures' indexes
            // ((abc_class, customer_id), ...) instead of sorting every matching row.
            CustomerSort::Id if values => ("v.customer_id ASC", "v.customer_id > ?"),
            CustomerSort::IdDesc if values => ("v.customer_id DESC", "v.customer_id < ?"),
            CustomerSort::Id => ("id ASC", "id > ?"),
            CustomerSort::IdDesc => ("id DESC", "id < ?"),
            // The leading `name >= ?` bounds the index range: SQLite does not see that the two
            // names of the OR are the same value and would walk the index from its start.
            CustomerSort::Name => ("name ASC, id ASC", "name >= ? AND (name > ? OR id > ?)"),
            CustomerSort::NameDesc => ("name DESC, id DESC", "name <= ? AND (name < ? OR id < ?)"),
            CustomerSort::ClvDesc => (
                "v.clv DESC, v.customer_id DESC",
                "v.clv <= ? AND (v.clv < ? OR v.customer_id < ?)",
            ),
            CustomerSort::ValueAtRiskDesc => (
                "v.value_at_risk DESC, v.customer_id DESC",
                "v.value_at_risk <= ? AND (v.value_at_risk < ? OR v.customer_id < ?)",
            ),
            CustomerSort::Clv => (
                "v.clv ASC, v.customer_id ASC",
                "v.clv >= ? AND (v.clv > ? OR v.customer_id > ?)",
            ),
            CustomerSort::ValueAtRisk => (
                "v.value_at_risk ASC, v.customer_id ASC",
                "v.value_at_risk >= ? AND (v.value_at_risk > ? OR v.customer_id > ?)",
            ),
        };
        if let Some(after) = &page.after {
            match sort.decode_cursor(after)? {
                CustomerCursor::Id(id) => w.push(key_clause, [Bind::I64(id)]),
                CustomerCursor::Name(name, id) => w.push(
                    key_clause,
                    [Bind::Text(name.clone()), Bind::Text(name), Bind::I64(id)],
                ),
                CustomerCursor::Figure(bits, id) => {
                    let v = f64::from_bits(bits);
                    w.push(key_clause, [Bind::F64(v), Bind::F64(v), Bind::I64(id)]);
                }
            }
        }
        let (from, key_column) = if values {
            (
                "customers JOIN customer_values v ON v.customer_id = customers.id",
                match sort {
                    CustomerSort::ClvDesc | CustomerSort::Clv => ", v.clv",
                    CustomerSort::ValueAtRiskDesc | CustomerSort::ValueAtRisk => {
                        ", v.value_at_risk"
                    }
                    _ => ", CAST(NULL AS DOUBLE PRECISION)",
                },
            )
        } else {
            ("customers", "")
        };
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS}{key_column} FROM {from}{} ORDER BY {order} LIMIT {}",
            w.sql(),
            limit + 1
        );
        let mut rows: Vec<(CustomerRow, Option<f64>)> = if values {
            let rows: Vec<KeyedCustomerRow> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
            rows.into_iter().map(|r| (r.row, r.sort_key)).collect()
        } else {
            let rows: Vec<CustomerRow> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
            rows.into_iter().map(|r| (r, None)).collect()
        };
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let last_key = rows.last().and_then(|r| r.1);
        let items: Vec<Customer> = rows.into_iter().map(|r| Customer::from(r.0)).collect();
        let next = match (more, items.last()) {
            (true, Some(last)) => Some(match sort {
                CustomerSort::Id | CustomerSort::IdDesc => encode_cursor(&last.id),
                CustomerSort::Name | CustomerSort::NameDesc => {
                    encode_cursor(&(&last.data.name, last.id))
                }
                CustomerSort::ClvDesc
                | CustomerSort::ValueAtRiskDesc
                | CustomerSort::Clv
                | CustomerSort::ValueAtRisk => {
                    encode_cursor(&(last_key.unwrap_or(f64::NAN).to_bits(), last.id))
                }
            }),
            _ => None,
        };
        Ok(Page { items, next })
    }

    /// The change history of a customer, newest first.
    pub async fn customer_history(
        &self,
        id: i64,
        limit: i64,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.customer(id).await?;
        let rows: Vec<HistoryRow> = with_pool!(self, pool =>
            sqlx::query_as("SELECT customer_id, id, changed_at, changed_by, field, old_value, new_value FROM customer_history WHERE customer_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(id).bind(limit.clamp(1, 10_000)).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(customer_id, id, changed_at, changed_by, field, old_value, new_value)| {
                    HistoryEntry {
                        customer_id,
                        id,
                        changed_at,
                        changed_by,
                        field,
                        old_value,
                        new_value,
                    }
                },
            )
            .collect())
    }

    /// Checks that owner and referrer exist (they are not foreign keys: see the migrations).
    async fn check_references(
        &self,
        c: &CustomerInput,
        self_id: Option<i64>,
    ) -> Result<(), StoreError> {
        if let Some(r) = c.referred_by {
            if Some(r) == self_id {
                return Err(StoreError::invalid(
                    "referred_by",
                    "a customer cannot refer itself",
                ));
            }
            let n: i64 = with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE id = $1").bind(r).fetch_one(pool).await?);
            if n == 0 {
                return Err(StoreError::Invalid(vec![FieldError::new(
                    "referred_by",
                    format!("customer {r} does not exist"),
                )]));
            }
        }
        if let Some(o) = c.owner_id {
            let n: i64 = with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1").bind(o).fetch_one(pool).await?);
            if n == 0 {
                return Err(StoreError::Invalid(vec![FieldError::new(
                    "owner_id",
                    format!("user {o} does not exist"),
                )]));
            }
        }
        Ok(())
    }
}

/// Search words shorter than this have no trigram in the SQLite text index.
const TRIGRAM: usize = 3;

/// Above this many text matches the search reads the list in its own order instead (see
/// [`Store::text_matches`]).
const TEXT_MATCH_CAP: usize = 2_000;

/// The `LIKE` pattern of a search term: its lower case, with `\`, `%` and `_` escaped.
fn like_pattern(q: &str) -> String {
    format!(
        "%{}%",
        q.to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// The FTS5 query that finds every row containing the term: its words of 3 or more characters,
/// each a quoted phrase (literal but for its quote, which is doubled), joined with AND. `None`
/// when no word is that long.
///
/// Words rather than the whole term as one phrase: FTS5 walks a phrase by its first trigram, so
/// "Customer 192040" walked every row holding "cus" (60 ms at 1 million customers), whereas the
/// AND of "customer" and "192040" leaps through the rows of the rarer word (0.3 ms). The rows
/// found hold every word somewhere in name or company, a superset of the rows holding the term:
/// [`Store::text_matches`] keeps those whose name or company contains it.
fn fts_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split_whitespace()
        .filter(|w| w.chars().count() >= TRIGRAM)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" AND "))
}

impl Store {
    /// The ids of the customers (merged ones too) whose name or company contains `q`, from the
    /// SQLite text index (migration 0011). `None` when the index cannot answer: on PostgreSQL
    /// (its trigram indexes serve the `LIKE` itself), for a term without a word of 3 or more
    /// characters, and for a term with more than [`TEXT_MATCH_CAP`] matches, which is common
    /// enough that reading the list in its own order finds a page of matches sooner than
    /// collecting them all.
    ///
    /// The ids come back as one JSON array (one row: sqlx hands SQLite rows over one by one, and
    /// 2,000 of them cost about 10 ms) for the list's query to read with `json_each`.
    async fn text_matches(&self, q: &str) -> Result<Option<String>, StoreError> {
        if self.kind() != crate::BackendKind::Sqlite {
            return Ok(None);
        }
        let Some(fts) = fts_query(q) else {
            return Ok(None);
        };
        let like = like_pattern(q);
        let sql = format!(
            "SELECT COUNT(*), json_group_array(id) FROM (SELECT customers.id AS id FROM customers_search \
             JOIN customers ON customers.id = customers_search.rowid \
             WHERE customers_search MATCH $1 \
             AND (lower(customers.name) LIKE $2 ESCAPE '\\' OR lower(customers.company) LIKE $2 ESCAPE '\\') \
             LIMIT {})",
            TEXT_MATCH_CAP + 1
        );
        let (n, ids): (i64, String) = with_pool!(self, pool => sqlx::query_as(&sql).bind(fts).bind(like).fetch_one(pool).await?);
        Ok((n <= TEXT_MATCH_CAP as i64).then_some(ids))
    }
}

/// Search clause: substring of name or company (any case), exact number, phone or e-mail key.
///
/// With `matched` (the JSON array of the ids [`Store::text_matches`] found in the SQLite text
/// index), the clause is `id IN` those ids and the customers with that number, phone key or
/// e-mail key (each from its own index), so only the matching rows are read. Without:
/// `lower(name) LIKE '%q%' OR lower(company) LIKE ...`, which reads rows in the list's order
/// until the page is full (fast for the many matches of a common or 1-2 character term; on
/// PostgreSQL the pg_trgm GIN indexes of migration 0011 answer it for terms of 3 or more
/// characters).
pub(crate) fn push_search(w: &mut Where, q: &str, matched: Option<&str>) {
    let number = Bind::Text(q.to_string());
    let phone = phone_key(q).map(Bind::Text);
    let email = email_key(q).filter(|e| e.contains('@')).map(Bind::Text);
    if let Some(ids) = matched {
        let mut clause = String::from(
            "customers.id IN (SELECT value FROM json_each(?) \
             UNION SELECT id FROM customers WHERE number = ?",
        );
        let mut binds = vec![Bind::Text(ids.to_string()), number];
        if let Some(p) = phone {
            clause.push_str(" UNION SELECT id FROM customers WHERE phone_key = ?");
            binds.push(p);
        }
        if let Some(e) = email {
            clause.push_str(" UNION SELECT id FROM customers WHERE email_key = ?");
            binds.push(e);
        }
        clause.push(')');
        w.push(&clause, binds);
        return;
    }
    let like = like_pattern(q);
    let mut clause = String::from(
        "(lower(name) LIKE ? ESCAPE '\\' OR lower(company) LIKE ? ESCAPE '\\' OR number = ?",
    );
    let mut binds = vec![Bind::Text(like.clone()), Bind::Text(like), number];
    if let Some(p) = phone {
        clause.push_str(" OR phone_key = ?");
        binds.push(p);
    }
    if let Some(e) = email {
        clause.push_str(" OR email_key = ?");
        binds.push(e);
    }
    clause.push(')');
    w.push(&clause, binds);
}

fn conflict(current: &Customer) -> StoreError {
    StoreError::Conflict {
        code: None,
        message: format!("customer {} was changed by someone else (now at version {}); reload it and apply your change again", current.id, current.version),
        current_version: Some(current.version),
    }
}

/// The status rule of orders ([`patron_domain::CustomerStatus::after_first_order`]) in SQL, for
/// `ids` customers that just got orders: the history rows (`status`, old, new; binds: changed at,
/// changed by, the ids) and the update (binds: changed at, the ids), in that order, in the
/// transaction that adds the orders. Customers whose status an order does not change are left
/// alone (no history row, no new version). `anon`: `?` placeholders (SQLite imports).
pub(crate) fn status_advance_sql(ids: usize, anon: bool) -> (String, String) {
    let p = |i: usize| {
        if anon {
            "?".to_string()
        } else {
            format!("${i}")
        }
    };
    let (mut from, mut case) = (Vec::new(), String::from("CASE status"));
    for (old, new) in patron_domain::CustomerStatus::advanced_by_order() {
        from.push(format!("'{}'", old.as_str()));
        case.push_str(&format!(" WHEN '{}' THEN '{}'", old.as_str(), new.as_str()));
    }
    case.push_str(" END");
    let from = from.join(", ");
    let list = |first: usize| (first..first + ids).map(p).collect::<Vec<_>>().join(", ");
    (
        format!(
            "INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) \
             SELECT id, {}, {}, 'status', status, {case} FROM customers WHERE status IN ({from}) AND id IN ({})",
            p(1),
            p(2),
            list(3)
        ),
        format!(
            "UPDATE customers SET status = {case}, version = version + 1, updated_at = {} \
             WHERE status IN ({from}) AND id IN ({})",
            p(1),
            list(2)
        ),
    )
}

/// Applies the status rule of orders to customer `$customer_id: i64` inside transaction `$tx`,
/// recording the change as made by `$by: &str` (see [`status_advance_sql`]). Every path that adds
/// a single order calls it right after inserting the lines; imports do the same set-based.
macro_rules! advance_status_on_order {
    ($tx:expr, $customer_id:expr, $by:expr) => {{
        let (history, update) = $crate::customers::status_advance_sql(1, false);
        let customer_id: i64 = $customer_id;
        let by: &str = $by;
        let at = $crate::now();
        sqlx::query(&history)
            .bind(at)
            .bind(by)
            .bind(customer_id)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(&update)
            .bind(at)
            .bind(customer_id)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use advance_status_on_order;

/// The columns a customer write sets, in the order [`bind_customer!`] binds them.
/// One line of a customer's change history: (customer_id, changed_at, changed_by, field, old, new).
pub(crate) const INSERT_HISTORY: &str =
    "INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)";

pub(crate) const CUSTOMER_WRITE_COLUMNS: &str = "number, name, company, industry, region, address, phone, fax, email, employees, \
     registered_capital_cents, awards, source, tags, custom_fields, status, loyalty, owner_id, credit_rating, \
     credit_limit_cents, marketing_opt_out, referred_by, phone_key, email_key, name_key";

/// Binds `number` and the fields of `c: &CustomerInput` (with its search keys) in the order of
/// [`CUSTOMER_WRITE_COLUMNS`]: 25 values. A macro because the query type differs per caller.
macro_rules! bind_customer {
    ($q:expr, $number:expr, $c:expr) => {{
        let c: &patron_domain::CustomerInput = $c;
        let (pk, ek, nk) = $crate::customers::search_keys(c);
        $q.bind($number)
            .bind(&c.name)
            .bind(&c.company)
            .bind(&c.industry)
            .bind(&c.region)
            .bind(&c.address)
            .bind(&c.phone)
            .bind(&c.fax)
            .bind(&c.email)
            .bind(c.employees)
            .bind(c.registered_capital.map(patron_domain::Money::cents))
            .bind(&c.awards)
            .bind(&c.source)
            .bind(sqlx::types::Json(&c.tags))
            .bind(sqlx::types::Json(&c.custom_fields))
            .bind(c.status.as_str())
            .bind(c.loyalty.as_str())
            .bind(c.owner_id)
            .bind(&c.credit_rating)
            .bind(c.credit_limit.map(patron_domain::Money::cents))
            .bind(c.marketing_opt_out)
            .bind(c.referred_by)
            .bind(pk)
            .bind(ek)
            .bind(nk)
    }};
}
pub(crate) use bind_customer;

/// Inserts a validated customer (`$c: &CustomerInput`) on executor `$ex` (a `&mut *tx`),
/// assigning a number (`C000123`) when absent; evaluates to `Result<i64, StoreError>`.
/// A macro rather than a function because the executor type differs per backend.
macro_rules! insert_customer {
    ($ex:expr, $c:expr) => {{
        let c: &patron_domain::CustomerInput = $c;
        let at = $crate::now();
        let provisional = c.number.clone().unwrap_or_else(|| format!("new-{}-{}", at.timestamp_nanos_opt().unwrap_or_default(), c.name.len()));
        let res: Result<i64, $crate::StoreError> = async {
            let sql = format!(
                "INSERT INTO customers ({}, version, created_at, updated_at) VALUES ({}, 1, $26, $26) RETURNING id",
                $crate::customers::CUSTOMER_WRITE_COLUMNS,
                (1..=25).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
            );
            let id: i64 = $crate::customers::bind_customer!(sqlx::query_scalar(&sql), &provisional, c)
                .bind(at)
                .fetch_one(&mut *$ex).await
                .map_err(|e| $crate::error::unique_to_conflict(e, || format!("customer number '{provisional}' is already used by another customer")))?;
            if c.number.is_none() {
                sqlx::query("UPDATE customers SET number = $1 WHERE id = $2")
                    .bind(format!("C{id:06}")).bind(id).execute(&mut *$ex).await?;
            }
            Ok(id)
        }.await;
        res
    }};
}
pub(crate) use insert_customer;
