//! One file row to one record, with errors that name the column.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use patron_domain::{CustomValue, CustomerInput, InteractionKind, Money, OrderLineInput};

use crate::columns::Field;

/// A parsed row of an orders file (customer still by number).
#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    pub customer: String,
    pub order_ref: Option<String>,
    /// The line's number within its order, when the file gives it (as exports do).
    pub line_no: Option<i32>,
    pub date: NaiveDate,
    pub line: OrderLineInput,
}

/// A parsed row of an interactions file.
#[derive(Debug, Clone)]
pub(crate) struct InteractionRow {
    pub customer: String,
    pub external_id: Option<String>,
    pub kind: InteractionKind,
    pub occurred_at: DateTime<Utc>,
    pub by: Option<String>,
    pub text: String,
}

/// A parsed row of a customers file; `referred_by` is a customer number.
#[derive(Debug, Clone)]
pub(crate) struct CustomerRow {
    pub number: String,
    pub referred_by: Option<String>,
    pub data: CustomerInput,
}

/// (column name, reason)
pub(crate) type CellError = (String, String);

/// A NUL character cannot be stored (PostgreSQL refuses it in text): a row error, not a failed
/// batch.
fn no_nul(cell: &str) -> Result<(), String> {
    match cell.find('\0') {
        Some(i) => Err(format!(
            "contains a NUL character (at character {} of the value), which cannot be stored",
            cell[..i].chars().count() + 1
        )),
        None => Ok(()),
    }
}

/// The file's column that held `field` (as the row read it), for an error found after the
/// cells were read (a record's own validation names its fields); the field's name when no
/// column held it.
/// The bad cells of one row as one error: the first cell's column, then `; column X: why` for
/// each further one (`line 4: column email: ...; column employees: ...`).
fn joined(bad: Vec<CellError>) -> CellError {
    let mut it = bad.into_iter();
    let (col, mut msg) = it.next().unwrap_or_default();
    for (c, m) in it {
        msg.push_str(&format!("; column {}: {m}", patron_domain::excerpt(&c)));
    }
    (col, msg)
}

fn column_of(columns: &[(&Field, &str)], field: &str) -> String {
    columns
        .iter()
        .find(|(f, _)| matches!(f, Field::Named(n) if *n == field))
        .map_or(field, |(_, c)| c)
        .to_string()
}

pub(crate) fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    for fmt in ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return Ok(d);
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.date_naive());
    }
    Err(format!(
        "'{}' is not a date (expected YYYY-MM-DD)",
        patron_domain::excerpt(t)
    ))
}

fn parse_datetime(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc());
        }
    }
    parse_date(t)
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| {
            format!(
                "'{}' is not a date or time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
                patron_domain::excerpt(t)
            )
        })
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "是" => Ok(true),
        "0" | "false" | "no" | "n" | "否" | "" => Ok(false),
        other => Err(format!(
            "'{}' is not yes/no (use true/false, yes/no or 1/0)",
            patron_domain::excerpt(other)
        )),
    }
}

fn parse_int(s: &str) -> Result<i64, String> {
    let t = s.trim().replace(',', "");
    t.parse::<i64>().map_err(|_| {
        format!(
            "'{}' is not a whole number",
            patron_domain::excerpt(s.trim())
        )
    })
}

/// Builds an order row from `(field, cell)` pairs.
pub(crate) fn order_row<'a>(
    cells: impl Iterator<Item = (&'a Field, &'a str, &'a str)>,
) -> Result<OrderRow, CellError> {
    let (mut customer, mut order_ref, mut date, mut amount, mut cost, mut category, mut quantity) =
        (None, None, None, None, Money::ZERO, None, 1i64);
    let mut line_no = None;
    let mut columns = Vec::new();
    // Every bad cell of the row is reported, not only the first.
    let mut bad: Vec<CellError> = Vec::new();
    for (field, col, cell) in cells {
        columns.push((field, col));
        let mut err = |m: String| bad.push((col.to_string(), m));
        if *field != Field::Ignore {
            if let Err(m) = no_nul(cell) {
                err(m);
                continue;
            }
        }
        let v = crate::cells::unsafe_cell(cell.trim());
        match field {
            Field::Named("customer") => customer = Some(v.to_string()).filter(|s| !s.is_empty()),
            Field::Named("order_ref") => order_ref = Some(v.to_string()).filter(|s| !s.is_empty()),
            Field::Named("date") => match parse_date(v) {
                Ok(d) => date = Some(d),
                Err(m) => err(m),
            },
            Field::Named("line_no") if !v.is_empty() => {
                match v.parse::<i32>().ok().filter(|n| *n >= 1) {
                    Some(n) => line_no = Some(n),
                    None => err(format!(
                        "'{}' is not a line number (1, 2, ...)",
                        patron_domain::excerpt(v)
                    )),
                }
            }
            Field::Named("amount") => match v.parse::<Money>() {
                Ok(m) => amount = Some(m),
                Err(m) => err(m),
            },
            Field::Named("cost") if !v.is_empty() => match v.parse::<Money>() {
                Ok(m) => cost = m,
                Err(m) => err(m),
            },
            Field::Named("category") => category = Some(v.to_string()).filter(|s| !s.is_empty()),
            Field::Named("quantity") if !v.is_empty() => match parse_int(v) {
                Ok(n) => quantity = n,
                Err(m) => err(m),
            },
            _ => {}
        }
    }
    let has = |bad: &[CellError], field: &str| {
        let c = column_of(&columns, field);
        bad.iter().any(|(b, _)| *b == c)
    };
    if customer.is_none() {
        bad.push((
            column_of(&columns, "customer"),
            "is empty (every order needs its customer's number)".to_string(),
        ));
    }
    if date.is_none() && !has(&bad, "date") {
        bad.push((column_of(&columns, "date"), "is missing".to_string()));
    }
    if amount.is_none() && !has(&bad, "amount") {
        bad.push((column_of(&columns, "amount"), "is missing".to_string()));
    }
    let mut errors = Vec::new();
    let mut line = OrderLineInput {
        category,
        quantity,
        amount: amount.unwrap_or(Money::ZERO),
        cost,
    };
    if amount.is_some() {
        line.validate("", &mut errors);
    }
    // The domain's rule for order dates (range, not in the future), as on the API and the web.
    if let Some(d) = date {
        if let Err(m) = patron_domain::order::check_order_date(d, patron_domain::order::today()) {
            bad.push((column_of(&columns, "date"), m));
        }
    }
    for e in errors {
        let col = column_of(&columns, &e.field);
        if !bad.iter().any(|(c, _)| *c == col) {
            bad.push((col, e.message));
        }
    }
    let (Some(customer), Some(date), Some(_), true) = (customer, date, amount, bad.is_empty())
    else {
        return Err(joined(bad));
    };
    Ok(OrderRow {
        customer,
        order_ref,
        line_no,
        date,
        line,
    })
}

pub(crate) fn interaction_row<'a>(
    cells: impl Iterator<Item = (&'a Field, &'a str, &'a str)>,
) -> Result<InteractionRow, CellError> {
    let (mut customer, mut external_id, mut kind, mut occurred_at, mut by, mut text) =
        (None, None, None, None, None, String::new());
    let mut columns = Vec::new();
    // Every bad cell of the row is reported, not only the first.
    let mut bad: Vec<CellError> = Vec::new();
    for (field, col, cell) in cells {
        columns.push((field, col));
        let mut err = |m: String| bad.push((col.to_string(), m));
        if *field != Field::Ignore {
            if let Err(m) = no_nul(cell) {
                err(m);
                continue;
            }
        }
        let v = crate::cells::unsafe_cell(cell.trim());
        match field {
            Field::Named("customer") => customer = Some(v.to_string()).filter(|s| !s.is_empty()),
            Field::Named("external_id") => {
                external_id = Some(v.to_string()).filter(|s| !s.is_empty())
            }
            Field::Named("kind") => match v.parse::<InteractionKind>() {
                Ok(k) => kind = Some(k),
                Err(m) => err(m),
            },
            Field::Named("occurred_at") if !v.is_empty() => match parse_datetime(v) {
                Ok(t) => occurred_at = Some(t),
                Err(m) => err(m),
            },
            Field::Named("by") => by = Some(v.to_string()).filter(|s| !s.is_empty()),
            Field::Named("text") => text = v.to_string(),
            _ => {}
        }
    }
    if customer.is_none() {
        bad.push((column_of(&columns, "customer"), "is empty".to_string()));
    }
    let kind_col = column_of(&columns, "kind");
    if kind.is_none() && !bad.iter().any(|(c, _)| *c == kind_col) {
        bad.push((kind_col, "is missing".to_string()));
    }
    if text.is_empty() {
        bad.push((
            column_of(&columns, "text"),
            "is empty (what was said or done)".into(),
        ));
    }
    let (Some(customer), Some(kind), true) = (customer, kind, bad.is_empty()) else {
        return Err(joined(bad));
    };
    Ok(InteractionRow {
        customer,
        external_id,
        kind,
        occurred_at: occurred_at.unwrap_or_else(Utc::now),
        by,
        text,
    })
}

pub(crate) fn customer_row<'a>(
    cells: impl Iterator<Item = (&'a Field, &'a str, &'a str)>,
) -> Result<CustomerRow, CellError> {
    let mut c = CustomerInput::default();
    let mut number = None;
    let mut referred_by = None;
    let mut columns = Vec::new();
    // Every bad cell of the row is reported, not only the first.
    let mut bad: Vec<CellError> = Vec::new();
    for (field, col, cell) in cells {
        columns.push((field, col));
        let mut err = |m: String| bad.push((col.to_string(), m));
        if *field != Field::Ignore {
            if let Err(m) = no_nul(cell) {
                err(m);
                continue;
            }
        }
        let v = crate::cells::unsafe_cell(cell.trim());
        let text = || Some(v.to_string()).filter(|s| !s.is_empty());
        match field {
            Field::Named("number") => number = text(),
            Field::Named("name") => c.name = v.to_string(),
            Field::Named("company") => c.company = text(),
            Field::Named("industry") => c.industry = text(),
            Field::Named("region") => c.region = text(),
            Field::Named("address") => c.address = text(),
            Field::Named("phone") => c.phone = text(),
            Field::Named("fax") => c.fax = text(),
            Field::Named("email") => c.email = text(),
            Field::Named("awards") => c.awards = text(),
            Field::Named("source") => c.source = text(),
            Field::Named("credit_rating") => c.credit_rating = text(),
            Field::Named("referred_by") => referred_by = text(),
            Field::Named("employees") if !v.is_empty() => match parse_int(v) {
                Ok(n) => c.employees = Some(n),
                Err(m) => err(m),
            },
            Field::Named("registered_capital") if !v.is_empty() => match v.parse() {
                Ok(m) => c.registered_capital = Some(m),
                Err(m) => err(m),
            },
            Field::Named("credit_limit") if !v.is_empty() => match v.parse() {
                Ok(m) => c.credit_limit = Some(m),
                Err(m) => err(m),
            },
            Field::Named("tags") => {
                c.tags = v
                    .split([';', '|'])
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            Field::Named("status") if !v.is_empty() => match v.parse() {
                Ok(x) => c.status = x,
                Err(m) => err(m),
            },
            Field::Named("loyalty") if !v.is_empty() => match v.parse() {
                Ok(x) => c.loyalty = x,
                Err(m) => err(m),
            },
            Field::Named("marketing_opt_out") => match parse_bool(v) {
                Ok(x) => c.marketing_opt_out = x,
                Err(m) => err(m),
            },
            Field::Custom(name) if !v.is_empty() => {
                let value = if let Ok(n) = v.parse::<f64>() {
                    CustomValue::Number(n)
                } else if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                    CustomValue::Date(d)
                } else {
                    CustomValue::Text(v.to_string())
                };
                c.custom_fields.insert(name.clone(), value);
            }
            _ => {}
        }
    }
    let c = match c.validate() {
        Ok(c) if bad.is_empty() => c,
        Ok(_) => return Err(joined(bad)),
        Err(errs) => {
            for e in errs {
                let col = column_of(&columns, &e.field);
                if !bad.iter().any(|(c, _)| *c == col) {
                    bad.push((col, e.message));
                }
            }
            return Err(joined(bad));
        }
    };
    // Without a number, a stable one from the identity fields keeps re-imports idempotent.
    let number = number.unwrap_or_else(|| {
        let key = format!(
            "{}|{}|{}|{}",
            c.name,
            c.company.as_deref().unwrap_or(""),
            c.email.as_deref().unwrap_or(""),
            c.phone.as_deref().unwrap_or("")
        );
        format!("I{:016x}", fnv1a(key.as_bytes()))
    });
    if number.chars().count() > 100 {
        return Err((
            column_of(&columns, "number"),
            "is longer than 100 characters".into(),
        ));
    }
    Ok(CustomerRow {
        number,
        referred_by,
        data: c,
    })
}

/// FNV-1a, 64 bit: a stable hash (std's hasher is randomly seeded per process).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("19970101").unwrap().to_string(), "1997-01-01");
        assert_eq!(parse_date("1997/01/02").unwrap().to_string(), "1997-01-02");
        assert!(parse_date("1997-13-01").unwrap_err().contains("YYYY-MM-DD"));
        assert_eq!(
            parse_datetime("2024-01-02 10:00").unwrap().to_rfc3339(),
            "2024-01-02T10:00:00+00:00"
        );
    }

    #[test]
    fn order_cell_errors_name_the_column() {
        let fields = [
            Field::Named("customer"),
            Field::Named("date"),
            Field::Named("amount"),
        ];
        let cols = ["cust", "when", "total"];
        let cells = ["7", "2024-01-01", "12,x"];
        let e = order_row(
            fields
                .iter()
                .zip(cols)
                .zip(cells)
                .map(|((f, c), v)| (f, c, v)),
        )
        .unwrap_err();
        assert_eq!(e.0, "total");
        let cells = ["7", "2024-01-01", "12.50"];
        let r = order_row(
            fields
                .iter()
                .zip(cols)
                .zip(cells)
                .map(|((f, c), v)| (f, c, v)),
        )
        .unwrap();
        assert_eq!(r.line.amount, Money(1250));
        // A date in the future is refused by the domain's rule, at the date's column.
        let next_month = (patron_domain::order::today() + chrono::Days::new(31)).to_string();
        let cells = ["7", next_month.as_str(), "12.50"];
        let e = order_row(
            fields
                .iter()
                .zip(cols)
                .zip(cells)
                .map(|((f, c), v)| (f, c, v)),
        )
        .unwrap_err();
        assert_eq!(e.0, "when");
        assert!(
            e.1.contains(&next_month) && e.1.contains("future"),
            "{}",
            e.1
        );
    }
}
