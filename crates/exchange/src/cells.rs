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
