//! `patron duplicates` and `patron merge`.

use patron_store::Store;

pub async fn duplicates(store: &Store, customer: Option<i64>) -> anyhow::Result<()> {
    let pairs = store.duplicates(customer, 10_000).await?;
    if pairs.is_empty() {
        println!("no likely duplicates");
        return Ok(());
    }
    println!("{:>10}  {:>10}  same", "customer", "customer");
    for p in &pairs {
        println!("{:>10}  {:>10}  {}", p.a, p.b, p.reason);
    }
    println!(
        "{} pairs; merge one with `patron merge KEEP DROP`",
        pairs.len()
    );
    Ok(())
}

pub async fn merge(store: &Store, keep: i64, drop: i64) -> anyhow::Result<()> {
    let m = store
        .merge_customers(keep, drop, &super::custody::operator())
        .await?;
    // The orders moved: the figures follow (the one dropped has none any more).
    patron_app::value::recompute_after_change(store, &[keep, drop]).await;
    println!(
        "merged customer {} into {} ({}): moved {} contacts, {} order lines, {} interactions, {} history rows, {} invoices, {} payments, {} credit holds, {} tickets, {} surveys",
        m.merged_id, m.kept.id, m.kept.data.name, m.moved_contacts, m.moved_order_lines, m.moved_interactions, m.moved_history,
        m.moved_invoices, m.moved_payments, m.moved_credit_holds, m.moved_tickets, m.moved_surveys
    );
    Ok(())
}
