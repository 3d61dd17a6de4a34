//! `patron export customers` under the export rules and `patron exports ...` / `patron user
//! leaving`, running the real binary on both backends: a role without the right is refused; a
//! rep (`--as`) over the daily limit writes no file and asks with `--reason`; a manager
//! approves; the rep downloads once; a leaving user's customers go to the receiver on the day;
//! every step is audited.

use std::process::{Command, Output, Stdio};

use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::{AuditFilter, BackendKind, DataScope, NewUser, Role, Store};

fn patron(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .env("USER", "tester")
        .env("PATRON_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("PATRON_AS")
        .stdin(Stdio::null())
        .output()
        .expect("running patron")
}

fn ok(args: &[&str], o: Output) -> String {
    assert!(
        o.status.success(),
        "patron {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fails(args: &[&str], o: Output) -> String {
    assert!(!o.status.success(), "patron {} succeeded", args.join(" "));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn export_rules_from_the_command_line(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::connect(&db).await.unwrap();
        let add = |name: &str, role: Role, manager: Option<i64>| NewUser {
            username: name.into(),
            role: Some(role),
            scope: (role == Role::Manager).then_some(DataScope::Subordinates),
            manager_id: manager,
            ..Default::default()
        };
        let mia = store
            .create_user(&add("mia", Role::Manager, None))
            .await
            .unwrap();
        let ray = store
            .create_user(&add("ray", Role::Rep, Some(mia.id)))
            .await
            .unwrap();
        store
            .create_user(&add("hal", Role::Rep, Some(mia.id)))
            .await
            .unwrap();
        store
            .create_user(&add("ana", Role::Analyst, None))
            .await
            .unwrap();
        for i in 0..3 {
            let input = serde_json::from_value(
                serde_json::json!({"name": format!("Customer {i}"), "owner_id": ray.id}),
            )
            .unwrap();
            store.create_customer(input, "test").await.unwrap();
        }
        store.close().await;
    }
    let file = dir.path().join("out.csv");
    let out = file.to_str().unwrap();
    let run = |args: &[&str]| patron(&db, args);

    let a = ["--as", "ana", "export", "customers"];
    assert!(fails(&a, run(&a)).contains("may not export customer rows"));
    let a = [
        "exports", "set-rule", "rep", "--right", "own", "--daily", "2",
    ];
    ok(&a, run(&a));
    let a = ["exports", "rules"];
    assert!(ok(&a, run(&a)).contains("rep      own       2 rows a day"));
    let a = ["--as", "ray", "export", "customers", "-o", out];
    assert!(fails(&a, run(&a)).contains("daily limit of 2"));
    assert!(!file.exists(), "a refused export wrote a file");
    // The campaign audience is an export of customer rows too.
    let a = ["--as", "ray", "campaign", "audience", "-o", out];
    assert!(fails(&a, run(&a)).contains("daily limit of 2"));
    assert!(!file.exists(), "a refused audience wrote a file");
    let a = ["--as", "ana", "campaign", "audience", "-o", out];
    assert!(fails(&a, run(&a)).contains("may not export customer rows"));
    let a = [
        "--as",
        "ray",
        "export",
        "customers",
        "--reason",
        "trade fair",
    ];
    assert!(ok(&a, run(&a)).contains("export request 1 for 3 rows"));
    let a = ["--as", "mia", "exports", "requests"];
    assert!(ok(&a, run(&a)).contains("trade fair"));
    let a = ["--as", "ray", "exports", "approve", "1"];
    fails(&a, run(&a));
    let a = ["--as", "mia", "exports", "approve", "1"];
    ok(&a, run(&a));
    let a = ["--as", "ray", "exports", "download", "1", "-o", out];
    ok(&a, run(&a));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 4);
    assert!(fails(&a, run(&a)).contains("downloaded already"));

    let a = [
        "user",
        "leaving",
        "ray",
        "--on",
        "2030-01-02",
        "--to",
        "hal",
    ];
    ok(&a, run(&a));
    let a = ["--as", "ray", "export", "customers", "-o", out];
    assert!(fails(&a, run(&a)).contains("leaving"));
    let a = ["exports", "handovers", "--today", "2030-01-01"];
    assert!(ok(&a, run(&a)).contains("no leaving user is due"));
    let a = ["exports", "handovers", "--today", "2030-01-02"];
    assert!(ok(&a, run(&a)).contains("3 customers of ray handed over to hal"));

    let store = Store::connect(&db).await.unwrap();
    let actions: Vec<String> = store
        .audit_log(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for step in [
        "export_denied",
        "export_rule",
        "export_request",
        "export_approve",
        "export",
        "user_leaving",
        "handover",
    ] {
        assert!(actions.iter().any(|a| a == step), "{step} in {actions:?}");
    }
    store.close().await;
    discard_database(kind, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    export_rules_from_the_command_line(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    export_rules_from_the_command_line(BackendKind::Postgres).await;
}
