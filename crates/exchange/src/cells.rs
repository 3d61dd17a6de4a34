//! CSV cells safe for spreadsheets (OWASP "CSV injection"): a text cell that starts with `=`,
//! `+`, `-`, `@`, a tab or a carriage return would be read as a formula by Excel, LibreOffice
//! or Google Sheets, so every CSV Patron writes prefixes such a cell with `'` (shown by the
//! spreadsheets as text, not as part of the value). The importer takes the prefix off again,
//! so an export imports back unchanged. Numeric columns (amounts, which may be negative) are
//! written as they are.

use std::borrow::Cow;

/// Starts a formula in a spreadsheet.
fn risky(first: char) -> bool {
    matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// The text cell as written to a CSV file: prefixed with `'` when a spreadsheet would read it
/// as a formula.
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if risky(c) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// [`safe_cell`] of an owned value.
pub fn safe(cell: String) -> String {
    match safe_cell(&cell) {
        Cow::Borrowed(_) => cell,
        Cow::Owned(s) => s,
    }
}

/// A cell as read back: without the prefix [`safe_cell`] added.
pub fn unsafe_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.chars().next().is_some_and(risky) => rest,
        _ => cell,
    }
}

/// The audit log as CSV (the CLI's `patron audit --csv` and the web's audit download).
pub fn write_audit_csv<W: std::io::Write>(
    out: W,
    rows: &[patron_store::AuditEntry],
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "at",
        "actor_id",
        "actor",
        "action",
        "customer_id",
        "detail",
        "row_count",
        "ip",
    ])?;
    for r in rows {
        w.write_record([
            r.id.to_string(),
            r.at.to_rfc3339(),
            r.actor_id.map(|v| v.to_string()).unwrap_or_default(),
            safe(r.actor.clone()),
            safe(r.action.clone()),
            r.customer_id.map(|v| v.to_string()).unwrap_or_default(),
            safe(r.detail.clone().unwrap_or_default()),
            r.row_count.map(|v| v.to_string()).unwrap_or_default(),
            safe(r.ip.clone().unwrap_or_default()),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Writes an evidence report (one user's views and exports over a period) as one CSV table,
/// each line naming its `section`: `day` (views, distinct customers, list pages, exports and
/// rows exported that day), `customer` (a customer viewed: id, number, name, views, first and
/// last view), `export` (an export's audit row: when, what, rows). Answers the lines written
/// (without the header).
pub fn write_evidence_csv<W: std::io::Write>(
    out: W,
    r: &patron_store::EvidenceReport,
) -> Result<usize, csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "section",
        "user",
        "day",
        "views",
        "customers",
        "list_pages",
        "exports",
        "rows",
        "customer_id",
        "customer_number",
        "customer_name",
        "first_view",
        "last_view",
        "at",
        "detail",
        "audit_id",
    ])?;
    let user = safe(r.username.clone());
    let mut lines = 0;
    for d in &r.days {
        w.write_record([
            "day".to_string(),
            user.clone(),
            d.day.to_string(),
            d.views.to_string(),
            d.customers.to_string(),
            d.list_pages.to_string(),
            d.exports.to_string(),
            d.rows.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ])?;
        lines += 1;
    }
    for c in &r.customers {
        w.write_record([
            "customer".to_string(),
            user.clone(),
            String::new(),
            c.views.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            c.customer_id.to_string(),
            safe(c.number.clone().unwrap_or_default()),
            safe(c.name.clone().unwrap_or_default()),
            c.first.to_rfc3339(),
            c.last.to_rfc3339(),
            String::new(),
            String::new(),
            String::new(),
        ])?;
        lines += 1;
    }
    for e in &r.exports {
        w.write_record([
            "export".to_string(),
            user.clone(),
            e.at.date_naive().to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            e.rows.map(|v| v.to_string()).unwrap_or_default(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            e.at.to_rfc3339(),
            safe(e.detail.clone()),
            e.audit_id.to_string(),
        ])?;
        lines += 1;
    }
    w.flush()?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_come_back() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+86 138 0000 0000", "'+86 138 0000 0000"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Acme", "Acme"),
            ("'quoted", "'quoted"),
            ("", ""),
        ] {
            assert_eq!(safe_cell(cell), written, "{cell:?}");
            assert_eq!(unsafe_cell(&safe_cell(cell)), cell, "{cell:?}");
        }
        // A value that starts with a quote of its own is kept as it is.
        assert_eq!(unsafe_cell("'quoted"), "'quoted");
    }
}
