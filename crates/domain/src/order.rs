//! Orders: a date and one or more lines (amount, product cost, category, quantity).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{FieldError, Money};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLineInput {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default = "one")]
    pub quantity: i64,
    /// What the customer paid for the line.
    pub amount: Money,
    /// Product cost of the line (what it cost us); 0 when unknown.
    #[serde(default)]
    pub cost: Money,
}

fn one() -> i64 {
    1
}

/// Days after today an order date may lie (an order entered late in the evening in a time zone
/// east of the server's is already "tomorrow" there); anything later is a future order.
pub const FUTURE_ORDER_TOLERANCE_DAYS: u64 = 1;

/// Today's date on the server's clock (UTC): the `today` of [`check_order_date`] for the write
/// paths.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The latest order date accepted on `today`: today plus [`FUTURE_ORDER_TOLERANCE_DAYS`].
pub fn latest_order_date(today: NaiveDate) -> NaiveDate {
    today + chrono::Days::new(FUTURE_ORDER_TOLERANCE_DAYS)
}

/// The one rule for an order's date, on every write path (API, web form, credit orders, file
/// imports): years 1900-2200, and not in the future (after [`latest_order_date`] of `today`).
/// `Err` is the reason, naming the date, for the field or column that held it.
pub fn check_order_date(ordered_on: NaiveDate, today: NaiveDate) -> Result<(), String> {
    let year = chrono::Datelike::year(&ordered_on);
    if !(1900..=2200).contains(&year) {
        return Err(format!("{ordered_on} is out of range (years 1900-2200)"));
    }
    let latest = latest_order_date(today);
    if ordered_on > latest {
        return Err(format!(
            "{ordered_on} lies in the future (today is {today}; orders can be dated up to {latest})"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The order's own reference (an invoice or order number); generated when absent.
    /// Unique per customer: sending the same reference twice is refused as a conflict.
    #[serde(default)]
    pub order_ref: Option<String>,
    pub ordered_on: NaiveDate,
    pub lines: Vec<OrderLineInput>,
}

impl OrderInput {
    /// [`OrderInput::validate_on`] today (the server's clock).
    pub fn validate(self) -> Result<Self, Vec<FieldError>> {
        self.validate_on(today())
    }

    /// Checks and normalizes the order; its date by [`check_order_date`] against `today`.
    pub fn validate_on(mut self, today: NaiveDate) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(r) = self.order_ref.take() {
            let r = r.trim().to_string();
            if r.chars().count() > 100 {
                errors.push(FieldError::new(
                    "order_ref",
                    "is longer than 100 characters",
                ));
            }
            if !r.is_empty() {
                self.order_ref = Some(r);
            }
        }
        if self.lines.is_empty() {
            errors.push(FieldError::new("lines", "an order needs at least one line"));
        }
        if self.lines.len() > 1000 {
            errors.push(FieldError::new("lines", "at most 1000 lines per order"));
        }
        if let Err(m) = check_order_date(self.ordered_on, today) {
            errors.push(FieldError::new("ordered_on", m));
        }
        for (i, l) in self.lines.iter_mut().enumerate() {
            l.validate(&format!("lines[{i}]."), &mut errors);
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

impl OrderLineInput {
    /// Checks one line; `prefix` names where it sits (`lines[2].` in an API body, empty in a CSV row).
    pub fn validate(&mut self, prefix: &str, errors: &mut Vec<FieldError>) {
        if let Some(c) = self.category.take() {
            let c = c.trim().to_string();
            if c.chars().count() > 100 {
                errors.push(FieldError::new(
                    format!("{prefix}category"),
                    "is longer than 100 characters",
                ));
            }
            if !c.is_empty() {
                self.category = Some(c);
            }
        }
        if !(0..=1_000_000_000).contains(&self.quantity) {
            errors.push(FieldError::new(
                format!("{prefix}quantity"),
                "must be between 0 and 1,000,000,000",
            ));
        }
        if self.amount.cents() < 0 {
            errors.push(FieldError::new(
                format!("{prefix}amount"),
                "must be 0 or more (record returns as a separate credit)",
            ));
        }
        if self.cost.cents() < 0 {
            errors.push(FieldError::new(
                format!("{prefix}cost"),
                "must be 0 or more",
            ));
        }
        for (field, m) in [("amount", self.amount), ("cost", self.cost)] {
            if m.cents() > 1_000_000_000_000 {
                errors.push(FieldError::new(
                    format!("{prefix}{field}"),
                    "is larger than 10,000,000,000",
                ));
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub line_no: i32,
    pub category: Option<String>,
    pub quantity: i64,
    pub amount: Money,
    pub cost: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub customer_id: i64,
    pub order_ref: String,
    pub ordered_on: NaiveDate,
    pub lines: Vec<OrderLine>,
    /// Sum of the lines' amounts.
    pub amount: Money,
    /// Sum of the lines' product costs.
    pub cost: Money,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rules() {
        let o = OrderInput {
            order_ref: Some("  ".into()),
            ordered_on: NaiveDate::from_ymd_opt(1997, 1, 1).unwrap(),
            lines: vec![OrderLineInput {
                category: None,
                quantity: -1,
                amount: Money(-5),
                cost: Money(0),
            }],
        };
        let errs = o.validate().unwrap_err();
        let f: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(f, ["lines[0].quantity", "lines[0].amount"]);
    }

    #[test]
    fn future_dates_are_refused_beyond_the_tolerance() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let on = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        assert!(check_order_date(on(10), today).is_ok());
        assert!(
            check_order_date(on(11), today).is_ok(),
            "one day of tolerance"
        );
        let e = check_order_date(on(12), today).unwrap_err();
        assert!(e.contains("2026-03-12") && e.contains("future"), "{e}");
        let o = OrderInput {
            order_ref: None,
            ordered_on: on(20),
            lines: vec![OrderLineInput {
                category: None,
                quantity: 1,
                amount: Money(100),
                cost: Money(0),
            }],
        };
        let errs = o.validate_on(today).unwrap_err();
        assert_eq!(errs[0].field, "ordered_on");
        assert!(errs[0].message.contains("2026-03-20"));
    }

    #[test]
    fn needs_a_line() {
        let o = OrderInput {
            order_ref: None,
            ordered_on: NaiveDate::from_ymd_opt(1997, 1, 1).unwrap(),
            lines: vec![],
        };
        assert_eq!(o.validate().unwrap_err()[0].field, "lines");
    }
}
