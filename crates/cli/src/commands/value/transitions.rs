//! `patron value transitions [--from ID --to ID]`: grade and loyalty-stage movements between two
//! value snapshots (default: the latest two): per (from, to) pair the customers and their
//! summed CLV and margin in each snapshot, as tables or JSON.

use clap::Args;
use patron_app::breakdown::cents_text;
use patron_app::value_history::Transitions;
use patron_store::{SnapshotRef, TransitionRow};

#[derive(Args, Debug)]
pub struct TransitionsArgs {
    /// The earlier snapshot's id (default: the one before --to).
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
    pub from: Option<i64>,
    /// The later snapshot's id (default: the latest).
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
    pub to: Option<i64>,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(database: &str, a: TransitionsArgs) -> anyhow::Result<()> {
    let store = super::super::open(database).await?;
    let me = super::super::custody::cli_session();
    let t = patron_app::value_history::transitions(&store, &me, a.from, a.to).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&t)?);
    } else {
        print!("{}", text(&t));
    }
    Ok(())
}

fn snapshot(s: &SnapshotRef) -> String {
    match s.as_of {
        Some(d) => format!(
            "snapshot {} (as of {d}, {})",
            s.id,
            s.computed_at.format("%Y-%m-%d %H:%M")
        ),
        None => format!(
            "snapshot {} ({})",
            s.id,
            s.computed_at.format("%Y-%m-%d %H:%M")
        ),
    }
}

fn clv(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

fn table(title: &str, rows: &[TransitionRow]) -> String {
    let head = [
        "from",
        "to",
        "customers",
        "clv_from",
        "clv_to",
        "margin_from",
        "margin_to",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.from.clone().unwrap_or_else(|| "(none)".into()),
                r.to.clone().unwrap_or_else(|| "(none)".into()),
                r.customers.to_string(),
                clv(r.clv_from),
                clv(r.clv_to),
                cents_text(r.margin_from_cents),
                cents_text(r.margin_to_cents),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = format!("{title}\n");
    let line = |cols: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            if i < 2 {
                l.push_str(&format!("{c:<w$}  "));
            } else {
                l.push_str(&format!("{c:>w$}  "));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    out.push_str(&line(head.to_vec()));
    for row in &cells {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if cells.is_empty() {
        out.push_str("(no customers)\n");
    }
    out
}

/// Both tables under a line naming the snapshots.
fn text(t: &Transitions) -> String {
    let (Some(from), Some(to)) = (&t.from, &t.to) else {
        return match &t.to {
            None => "no value snapshot yet: run `patron value refresh`\n".into(),
            Some(to) => format!(
                "only one value snapshot ({}): transitions need two, run `patron value refresh` again later\n",
                snapshot(to)
            ),
        };
    };
    format!(
        "from {} to {}{}\n\n{}\n{}",
        snapshot(from),
        snapshot(to),
        if t.scoped { " (your scope)" } else { "" },
        table("Grade transitions", &t.grade),
        table("Stage transitions", &t.stage)
    )
}
