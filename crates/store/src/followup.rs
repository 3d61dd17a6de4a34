//! Follow-up planning by value tier: each customer with stored value figures is due for a visit
//! or call a cadence after the last one (by its ABC class in `customer_values.abc_class`:
//! settings `followup.days.A|B|C`, defaults 7, 30 and 91 days; a prospect, without orders, by
//! its grade from its attributes instead: `followup.prospect_days.A..E`, defaults 14, 30, 61,
//! 91 and 182 days, ungraded 91), and the "before the visit" brief of a customer.

use chrono::{DateTime, Days, NaiveDate, Utc};
use patron_domain::service::Ticket;
use patron_domain::{Customer, Interaction, InteractionKind, Order};
use serde::Serialize;

use crate::{
    with_pool, CreditPosition, CustomerValueRow, OrderFilter, PageRequest, Store, StoreError,
};

/// One planned contact: who, with whom, when it is due.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedContact {
    pub customer_id: i64,
    pub customer_name: String,
    pub owner_id: Option<i64>,
    pub abc_class: String,
    /// The customer's grade (A..E).
    pub grade: Option<String>,
    /// A prospect (no orders yet): the cadence goes by its grade, not by its ABC class.
    pub prospect: bool,
    pub cadence_days: i64,
    /// The last visit, call or meeting.
    pub last_contact: Option<DateTime<Utc>>,
    /// The last contact plus the cadence (`as_of` when never contacted).
    pub due_on: NaiveDate,
    /// Days past `due_on` on `as_of` (0 or less: not yet overdue).
    pub days_overdue: i64,
}

/// The one-page brief before visiting a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitBrief {
    pub customer: Customer,
    pub value: Option<CustomerValueRow>,
    pub last_orders: Vec<Order>,
    /// Promises made to the customer (interactions of kind promise), newest first.
    pub promises: Vec<Interaction>,
    /// Complaints recorded as interactions, newest first.
    pub complaints: Vec<Interaction>,
    /// Open service tickets.
    pub open_tickets: Vec<Ticket>,
    pub credit: CreditPosition,
}

impl Store {
    /// Days between contacts per ABC class.
    pub async fn followup_cadence(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        for (class, default) in [("A", 7), ("B", 30), ("C", 91)] {
            let d = self
                .setting(&format!("followup.days.{class}"))
                .await?
                .and_then(|v| v.parse().ok())
                .filter(|d: &i64| *d > 0)
                .unwrap_or(default);
            out.push((class.to_string(), d));
        }
        Ok(out)
    }

    /// Days between contacts with a prospect (no orders yet) per grade A..E.
    pub async fn followup_prospect_cadence(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        for (grade, default) in [("A", 14), ("B", 30), ("C", 61), ("D", 91), ("E", 182)] {
            let d = self
                .setting(&format!("followup.prospect_days.{grade}"))
                .await?
                .and_then(|v| v.parse().ok())
                .filter(|d: &i64| *d > 0)
                .unwrap_or(default);
            out.push((grade.to_string(), d));
        }
        Ok(out)
    }

    /// The follow-up plan on `as_of` (of one rep, or everyone's): every live customer with
    /// value figures and the day its next visit or call is due, most overdue first.
    pub async fn followup_plan(
        &self,
        as_of: NaiveDate,
        owner_id: Option<i64>,
        visible: &crate::Visibility,
    ) -> Result<Vec<PlannedContact>, StoreError> {
        let cadence = self.followup_cadence().await?;
        let by_grade = self.followup_prospect_cadence().await?;
        type Row = (
            i64,
            String,
            Option<i64>,
            String,
            Option<String>,
            i64,
            Option<DateTime<Utc>>,
        );
        let mut w = crate::customers::Where::default();
        w.push("c.merged_into IS NULL AND c.archived_at IS NULL", []);
        if let Some(o) = owner_id {
            w.push("c.owner_id = ?", [crate::customers::Bind::I64(o)]);
        }
        visible.push(&mut w, "c.owner_id");
        let sql = format!(
            "SELECT c.id, c.name, c.owner_id, v.abc_class, v.grade, v.orders, \
                    (SELECT MAX(i.occurred_at) FROM interactions i WHERE i.customer_id = c.id AND i.kind IN ('visit', 'call', 'meeting')) \
             FROM customers c JOIN customer_values v ON v.customer_id = c.id{} ORDER BY c.id",
            w.sql()
        );
        let rows: Vec<Row> = with_pool!(self, pool => crate::customers::bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let mut out: Vec<PlannedContact> = rows
            .into_iter()
            .map(|(id, name, owner, class, grade, orders, last)| {
                let prospect = orders == 0;
                let days = if prospect {
                    by_grade
                        .iter()
                        .find(|(g, _)| Some(g) == grade.as_ref())
                        .map_or(91, |(_, d)| *d)
                } else {
                    cadence
                        .iter()
                        .find(|(c, _)| *c == class)
                        .map_or(91, |(_, d)| *d)
                };
                let due_on = last.map_or(as_of, |l| l.date_naive() + Days::new(days as u64));
                PlannedContact {
                    customer_id: id,
                    customer_name: name,
                    owner_id: owner,
                    abc_class: class,
                    grade,
                    prospect,
                    cadence_days: days,
                    last_contact: last,
                    due_on,
                    days_overdue: (as_of - due_on).num_days(),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.days_overdue
                .cmp(&a.days_overdue)
                .then(a.abc_class.cmp(&b.abc_class))
                .then(a.customer_id.cmp(&b.customer_id))
        });
        Ok(out)
    }

    /// The "before the visit" brief on `as_of`.
    pub async fn visit_brief(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<VisitBrief, StoreError> {
        let customer = self.customer(customer_id).await?;
        let filter = OrderFilter {
            customer_id: Some(customer_id),
            ..Default::default()
        };
        let five = PageRequest {
            limit: Some(5),
            after: None,
        };
        let ten = PageRequest {
            limit: Some(10),
            after: None,
        };
        let last_orders = self.list_orders(&filter, &five).await?.items;
        let promises = self
            .list_interactions(Some(customer_id), Some(InteractionKind::Promise), &ten)
            .await?
            .items;
        let complaints = self
            .list_interactions(Some(customer_id), Some(InteractionKind::Complaint), &ten)
            .await?
            .items;
        let open_tickets = self
            .customer_tickets(customer_id, now)
            .await?
            .into_iter()
            .filter(|t| t.status == "open")
            .collect();
        Ok(VisitBrief {
            value: self.customer_value(customer_id).await?,
            credit: self.credit_position(customer_id, now.date_naive()).await?,
            customer,
            last_orders,
            promises,
            complaints,
            open_tickets,
        })
    }
}
