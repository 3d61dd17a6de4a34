//! `patron campaign audience` and `patron export`: a list meant for a campaign never holds a
//! customer who opted out of marketing, and every export is in the audit log.

use std::process::Command;

use patron_store::{AuditFilter, Store};

fn patron(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .output()
        .expect("running patron")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_audience_leaves_out_the_opted_out_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("patron.db");
    let db = db.to_str().unwrap();
    let customers = dir.path().join("customers.csv");
    std::fs::write(
        &customers,
        "number,name,email,region,marketing_opt_out\n\
         C1,Ada Mail,ada@example.com,East,false\n\
         C2,Bo Nomail,bo@example.com,East,true\n\
         C3,Cy West,cy@example.com,West,no\n",
    )
    .unwrap();
    let o = patron(db, &["import", "customers", customers.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let list = dir.path().join("audience.csv");
    let o = patron(
        db,
        &[
            "campaign",
            "audience",
            "--region",
            "East",
            "-o",
            list.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(text.contains("Ada Mail"), "{text}");
    assert!(
        !text.contains("Bo Nomail"),
        "an opted-out customer is on the list: {text}"
    );
    assert!(
        !text.contains("Cy West"),
        "the region filter was ignored: {text}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 customers on the mailing list"));

    // A bad filter value is refused with the allowed values named.
    let o = patron(db, &["campaign", "audience", "--status", "sleeping"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--status"), "{err}");
    assert!(
        err.contains("'sleeping' is not one of: lead, tracking, intent, won"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "no list is written for a bad filter");

    // A plain export keeps everyone unless asked; both exports are audited with their counts.
    let all = dir.path().join("all.csv");
    let o = patron(db, &["export", "customers", "-o", all.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&all).unwrap().contains("Bo Nomail"));

    let store = Store::connect(db).await.unwrap();
    let exports = store
        .audit_log(&AuditFilter {
            action: Some("export".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let found: Vec<(Option<&str>, Option<i64>)> = exports
        .iter()
        .map(|e| (e.detail.as_deref(), e.row_count))
        .collect();
    assert_eq!(
        found,
        vec![
            (Some("customers"), Some(3)),
            (
                Some("campaign audience (opted-out customers left out)"),
                Some(1)
            ),
        ]
    );
    assert!(exports.iter().all(|e| e.actor.starts_with("cli:")));
}
