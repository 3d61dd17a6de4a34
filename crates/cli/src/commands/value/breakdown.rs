//! `patron value breakdown --by region|industry|category|owner`: the value figures per group
//! with the period comparison, as a table or CSV (money exact to the cent).

use clap::{Args, ValueEnum};
use patron_app::breakdown::{cents_text, Breakdown, Dimension, Group};
use patron_app::period::Period;

/// What the groups are.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByArg {
    Region,
    Industry,
    Category,
    Owner,
}

/// Length of the compared periods.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodArg {
    Month,
    Quarter,
    Half,
    Year,
}

#[derive(Args, Debug)]
pub struct BreakdownArgs {
    /// Group the customers by region, industry or owner, or the order lines by product category.
    #[arg(long, value_enum)]
    pub by: ByArg,
    /// The period comparison: this period (ending at the last order date) against the one before.
    #[arg(long, value_enum, default_value = "quarter")]
    pub period: PeriodArg,
    /// Write CSV (one row per group) instead of a table.
    #[arg(long)]
    pub csv: bool,
}

pub async fn run(database: &str, a: BreakdownArgs) -> anyhow::Result<()> {
    let by = match a.by {
        ByArg::Region => Dimension::Region,
        ByArg::Industry => Dimension::Industry,
        ByArg::Category => Dimension::Category,
        ByArg::Owner => Dimension::Owner,
    };
    let period = match a.period {
        PeriodArg::Month => Period::Month,
        PeriodArg::Quarter => Period::Quarter,
        PeriodArg::Half => Period::Half,
        PeriodArg::Year => Period::Year,
    };
    let store = super::super::open(database).await?;
    let me = super::super::custody::cli_session();
    let b = patron_app::breakdown::breakdown(&store, &me, by, period).await?;
    let out = if a.csv { csv(&b) } else { text(&b) };
    print!("{out}");
    Ok(())
}

fn label(b: &Breakdown, g: &Group) -> String {
    match (b.by, &g.key) {
        (Dimension::Owner, None) => "(pool)".into(),
        (Dimension::Owner, Some(k)) => g.owner_name.clone().unwrap_or_else(|| format!("#{k}")),
        (_, Some(k)) => k.clone(),
        (_, None) => "(none)".into(),
    }
}

fn clv(g: &Group) -> String {
    g.clv.map(|v| format!("{v:.2}")).unwrap_or_default()
}

fn opt(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// The header and the cells of each group (money as exact decimals).
fn rows(b: &Breakdown) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "group",
        "customers",
        "revenue",
        "margin",
        "clv",
        "churn_risk",
        "abc_a",
        "abc_b",
        "abc_c",
        "revenue_this",
        "revenue_prev",
        "margin_this",
        "margin_prev",
        "active_this",
        "active_prev",
        "new_this",
        "new_prev",
    ];
    let rows = b
        .groups
        .iter()
        .map(|g| {
            let abc = |i: usize| opt(g.abc.map(|a| [a.a, a.b, a.c][i]));
            vec![
                label(b, g),
                g.customers.to_string(),
                cents_text(g.revenue_cents),
                cents_text(g.margin_cents),
                clv(g),
                opt(g.churn_risk),
                abc(0),
                abc(1),
                abc(2),
                cents_text(g.this.revenue),
                cents_text(g.prev.revenue),
                cents_text(g.this.margin),
                cents_text(g.prev.margin),
                g.this.active.to_string(),
                g.prev.active.to_string(),
                g.this.new.to_string(),
                g.prev.new.to_string(),
            ]
        })
        .collect();
    (head, rows)
}

fn csv_line(cells: &[String]) -> String {
    let mut out = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        super::csv_field(c, &mut out);
    }
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_default()
}

/// One CSV row per group; `group` is the key as stored (empty: none, or the pool), owners
/// also with `owner_id` and `owner_name`.
fn csv(b: &Breakdown) -> String {
    let (head, rows) = rows(b);
    let owner = b.by == Dimension::Owner;
    let mut header: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    header[0] = b.by.code().into();
    if owner {
        header.insert(1, "owner_name".into());
    }
    let mut out = csv_line(&header);
    for (g, mut r) in b.groups.iter().zip(rows) {
        r[0] = g.key.clone().unwrap_or_default();
        if owner {
            r.insert(1, g.owner_name.clone().unwrap_or_default());
        }
        out.push_str(&csv_line(&r));
    }
    out
}

fn text(b: &Breakdown) -> String {
    use std::fmt::Write;
    let (head, rows) = rows(b);
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    match (b.this, b.prev) {
        (Some(t), Some(p)) => {
            let _ = writeln!(
                out,
                "value by {}; {} {} to {} against {} to {}",
                b.by.code(),
                b.period.code(),
                t.0,
                t.1,
                p.0,
                p.1
            );
        }
        _ => {
            let _ = writeln!(out, "value by {} (no orders yet)", b.by.code());
        }
    }
    if !b.not_applicable.is_empty() {
        let _ = writeln!(
            out,
            "order lines by category: {} do not apply",
            b.not_applicable.join(", ")
        );
    }
    let line = |cells: &[String], out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(
        &head.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        &mut out,
    );
    for r in &rows {
        line(r, &mut out);
    }
    if rows.is_empty() {
        let _ = writeln!(out, "(no customers)");
    }
    out
}
