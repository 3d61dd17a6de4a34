//! Credit and receivables: invoices (per order or standalone) with due dates, instalment plans,
//! payments, and the ageing of what is still open. Amounts are integer cents.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{FieldError, Money};

/// One instalment of a plan: its due date and amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalmentInput {
    pub due_on: NaiveDate,
    pub amount: Money,
}

/// An invoice to record. Without `instalments` the whole amount is due on `due_on`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceInput {
    /// The invoice number; generated when absent. Unique per customer.
    #[serde(default)]
    pub number: Option<String>,
    /// The order it bills, if any (standalone invoices have none).
    #[serde(default)]
    pub order_ref: Option<String>,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub amount: Money,
    /// An instalment plan: amounts must add up to the invoice amount.
    #[serde(default)]
    pub instalments: Vec<InstalmentInput>,
}

impl InvoiceInput {
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.number = self
            .number
            .take()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if self
            .number
            .as_ref()
            .is_some_and(|n| n.chars().count() > 100)
        {
            errors.push(FieldError::new("number", "is longer than 100 characters"));
        }
        self.order_ref = self
            .order_ref
            .take()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if self.amount.cents() <= 0 {
            errors.push(FieldError::new("amount", "must be more than 0"));
        }
        if self.amount.cents() > 1_000_000_000_000 {
            errors.push(FieldError::new("amount", "is larger than 10,000,000,000"));
        }
        if self.due_on < self.issued_on {
            errors.push(FieldError::new(
                "due_on",
                format!(
                    "{} is before the issue date {}",
                    self.due_on, self.issued_on
                ),
            ));
        }
        if !self.instalments.is_empty() {
            let sum: i64 = self.instalments.iter().map(|i| i.amount.cents()).sum();
            if sum != self.amount.cents() {
                errors.push(FieldError::new(
                    "instalments",
                    format!(
                        "add up to {}, not the invoice amount {}",
                        Money(sum),
                        self.amount
                    ),
                ));
            }
            for (k, i) in self.instalments.iter().enumerate() {
                if i.amount.cents() <= 0 {
                    errors.push(FieldError::new(
                        format!("instalments[{k}].amount"),
                        "must be more than 0",
                    ));
                }
                if i.due_on < self.issued_on {
                    errors.push(FieldError::new(
                        format!("instalments[{k}].due_on"),
                        "is before the issue date",
                    ));
                }
            }
            if self.instalments.len() > 120 {
                errors.push(FieldError::new("instalments", "at most 120 instalments"));
            }
            // Errors above name instalments in the order they were given; the plan is kept by due date.
            self.instalments.sort_by_key(|i| i.due_on);
            // The invoice falls due with its last instalment.
            if let Some(last) = self.instalments.last() {
                self.due_on = last.due_on;
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// Splits `total` into `n` instalments `every_days` apart starting on `first_due`; the cents
/// that do not divide evenly go to the first instalments, so the plan adds up exactly.
pub fn even_instalments(
    total: Money,
    n: u32,
    first_due: NaiveDate,
    every_days: u32,
) -> Vec<InstalmentInput> {
    let n = n.max(1) as i64;
    let base = total.cents() / n;
    let rest = total.cents() % n;
    (0..n)
        .map(|k| InstalmentInput {
            due_on: first_due + Days::new(k as u64 * every_days as u64),
            amount: Money(base + i64::from(k < rest)),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    pub seq: i32,
    pub due_on: NaiveDate,
    pub amount: Money,
    /// What of it is paid: payments go to the instalments in due order.
    pub paid: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub customer_id: i64,
    pub id: i64,
    pub number: String,
    pub order_ref: Option<String>,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub amount: Money,
    pub paid: Money,
    pub instalments: Vec<Instalment>,
}

impl Invoice {
    pub fn open(&self) -> Money {
        Money(self.amount.cents() - self.paid.cents())
    }
}

/// Spreads `paid` over instalments (sorted by due date), oldest first.
pub fn allocate(paid: Money, plan: &mut [Instalment]) {
    let mut left = paid.cents();
    for i in plan {
        let take = left.min(i.amount.cents()).max(0);
        i.paid = Money(take);
        left -= take;
    }
}

/// A payment to record: applied to one invoice, or (without `invoice_id`) to the customer's
/// open invoices oldest due first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    #[serde(default)]
    pub invoice_id: Option<i64>,
    pub paid_on: NaiveDate,
    pub amount: Money,
    #[serde(default)]
    pub reference: Option<String>,
}

impl PaymentInput {
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.amount.cents() <= 0 {
            errors.push(FieldError::new("amount", "must be more than 0"));
        }
        self.reference = self
            .reference
            .take()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if self
            .reference
            .as_ref()
            .is_some_and(|n| n.chars().count() > 200)
        {
            errors.push(FieldError::new(
                "reference",
                "is longer than 200 characters",
            ));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub customer_id: i64,
    pub id: i64,
    pub invoice_id: i64,
    pub paid_on: NaiveDate,
    pub amount: Money,
    pub reference: Option<String>,
}

/// Something still to be paid: an invoice without plan, or one instalment of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenItem {
    pub customer_id: i64,
    pub invoice_id: i64,
    pub invoice_number: String,
    /// The instalment's number within its plan; `None` for an invoice without plan.
    pub instalment: Option<i32>,
    pub due_on: NaiveDate,
    /// What is still unpaid.
    pub open: Money,
}

impl OpenItem {
    /// Days past the due date on `as_of` (0 or less: not yet overdue).
    pub fn days_overdue(&self, as_of: NaiveDate) -> i64 {
        (as_of - self.due_on).num_days()
    }
}

/// Ageing buckets by days overdue: not yet due (due today or later), 1-30 ("0-30"), 31-60,
/// 61-90, more than 90.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeingBuckets {
    pub not_due: Money,
    pub d0_30: Money,
    pub d31_60: Money,
    pub d61_90: Money,
    pub d90_plus: Money,
}

impl AgeingBuckets {
    pub fn add(&mut self, days_overdue: i64, amount: Money) {
        let slot = match days_overdue {
            i64::MIN..=0 => &mut self.not_due,
            1..=30 => &mut self.d0_30,
            31..=60 => &mut self.d31_60,
            61..=90 => &mut self.d61_90,
            _ => &mut self.d90_plus,
        };
        slot.0 += amount.0;
    }

    /// Everything overdue.
    pub fn overdue(&self) -> Money {
        Money(self.d0_30.0 + self.d31_60.0 + self.d61_90.0 + self.d90_plus.0)
    }

    pub fn total(&self) -> Money {
        Money(self.not_due.0 + self.overdue().0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerAgeing {
    pub customer_id: i64,
    pub buckets: AgeingBuckets,
}

/// The ageing report on `as_of`: buckets per customer (customers in id order) and in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeingReport {
    pub as_of: NaiveDate,
    pub customers: Vec<CustomerAgeing>,
    pub total: AgeingBuckets,
}

/// Ages open items on `as_of`.
pub fn ageing(items: &[OpenItem], as_of: NaiveDate) -> AgeingReport {
    let mut per: std::collections::BTreeMap<i64, AgeingBuckets> = Default::default();
    let mut total = AgeingBuckets::default();
    for i in items {
        if i.open.cents() <= 0 {
            continue;
        }
        let d = i.days_overdue(as_of);
        per.entry(i.customer_id).or_default().add(d, i.open);
        total.add(d, i.open);
    }
    AgeingReport {
        as_of,
        customers: per
            .into_iter()
            .map(|(customer_id, buckets)| CustomerAgeing {
                customer_id,
                buckets,
            })
            .collect(),
        total,
    }
}

/// Why an order was not accepted outright: it would take the open receivables over the limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditExcess {
    pub customer_id: i64,
    pub limit: Money,
    /// Open receivables before the order.
    pub open: Money,
    pub order_amount: Money,
}

impl CreditExcess {
    pub fn headroom(&self) -> Money {
        Money((self.limit.0 - self.open.0).max(0))
    }

    pub fn message(&self) -> String {
        format!(
            "order of {} refused: customer {} has {} open receivables and a credit limit of {}, \
             so only {} of headroom; the order would exceed the limit by {}",
            self.order_amount,
            self.customer_id,
            self.open,
            self.limit,
            self.headroom(),
            Money(self.open.0 + self.order_amount.0 - self.limit.0)
        )
    }
}

/// The credit rule: an order is within the limit when open receivables plus the order do not
/// exceed it (exactly at the limit is accepted). No limit means no check.
pub fn check_credit(
    customer_id: i64,
    limit: Option<Money>,
    open: Money,
    order_amount: Money,
) -> Result<(), CreditExcess> {
    match limit {
        Some(l) if open.0 + order_amount.0 > l.0 => Err(CreditExcess {
            customer_id,
            limit: l,
            open,
            order_amount,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn credit_boundary() {
        assert!(check_credit(1, Some(Money(1000)), Money(400), Money(600)).is_ok());
        let e = check_credit(1, Some(Money(1000)), Money(400), Money(601)).unwrap_err();
        assert_eq!(e.headroom(), Money(600));
        assert!(
            e.message().contains("exceed the limit by 0.01"),
            "{}",
            e.message()
        );
        assert!(check_credit(1, None, Money(400), Money(1_000_000)).is_ok());
    }

    #[test]
    fn even_split_adds_up() {
        let p = even_instalments(Money(1000), 3, d("2024-01-31"), 30);
        assert_eq!(
            p.iter().map(|i| i.amount.0).collect::<Vec<_>>(),
            [334, 333, 333]
        );
        assert_eq!(p[2].due_on, d("2024-03-31"));
    }

    #[test]
    fn ageing_buckets_edges() {
        let item = |c, due: &str, open| OpenItem {
            customer_id: c,
            invoice_id: 1,
            invoice_number: "I".into(),
            instalment: None,
            due_on: d(due),
            open: Money(open),
        };
        let as_of = d("2024-06-30");
        let r = ageing(
            &[
                item(1, "2024-06-30", 1),      // due today: not due
                item(1, "2024-06-29", 10),     // 1 day
                item(1, "2024-05-31", 100),    // 30 days
                item(2, "2024-05-30", 1000),   // 31 days
                item(2, "2024-04-01", 10000),  // 90 days
                item(2, "2024-03-31", 100000), // 91 days
            ],
            as_of,
        );
        assert_eq!(r.total.not_due, Money(1));
        assert_eq!(r.total.d0_30, Money(110));
        assert_eq!(r.total.d31_60, Money(1000));
        assert_eq!(r.total.d61_90, Money(10000));
        assert_eq!(r.total.d90_plus, Money(100000));
        assert_eq!(r.customers[0].buckets.total(), Money(111));
        assert_eq!(r.customers[1].buckets.overdue(), Money(111000));
    }

    #[test]
    fn instalments_must_add_up() {
        let i = InvoiceInput {
            number: None,
            order_ref: None,
            issued_on: d("2024-01-01"),
            due_on: d("2024-01-31"),
            amount: Money(1000),
            instalments: vec![InstalmentInput {
                due_on: d("2024-02-01"),
                amount: Money(999),
            }],
        };
        assert_eq!(i.validate().unwrap_err()[0].field, "instalments");
    }
}
