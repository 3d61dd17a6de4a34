//! What several servers on one database share (migration 0023): leases, scheduled runs, the
//! sign-in rate limit, the web's import jobs, and the customers noted during a refresh. The
//! cross-process test is `crates/cli/tests/two_servers.rs`; here each rule on both backends.

use std::time::Duration;

use patron_store::{backend_tests, ImportOutcome, NewImportJob, NewUser, Store, ABANDONED};

backend_tests!(
    leases_have_one_holder_until_released_or_expired,
    a_scheduled_period_is_claimed_once,
    sign_in_attempts_are_limited_per_key,
    a_burst_of_sign_ins_passes_only_the_limit,
    import_jobs_are_stored_with_their_files,
    changes_are_noted_only_while_the_lease_is_held
);

const TTL: Duration = Duration::from_secs(60);

async fn leases_have_one_holder_until_released_or_expired(store: Store) {
    assert!(!store.lease_held("refresh").await.unwrap());
    assert!(store.try_lease("refresh", "a", TTL).await.unwrap());
    assert!(store.lease_held("refresh").await.unwrap());
    // Another holder waits; the holder itself may take it again (and renew it).
    assert!(!store.try_lease("refresh", "b", TTL).await.unwrap());
    assert!(store.try_lease("refresh", "a", TTL).await.unwrap());
    assert!(store.renew_lease("refresh", "a", TTL).await.unwrap());
    assert!(!store.renew_lease("refresh", "b", TTL).await.unwrap());
    // Other names are other leases.
    assert!(store.try_lease("rules", "b", TTL).await.unwrap());
    // Releasing by someone else does nothing; by the holder frees it.
    store.release_lease("refresh", "b").await.unwrap();
    assert!(!store.try_lease("refresh", "b", TTL).await.unwrap());
    store.release_lease("refresh", "a").await.unwrap();
    assert!(store.try_lease("refresh", "b", TTL).await.unwrap());
    // A holder that stopped renewing (its process died) loses it when it expires.
    assert!(store
        .try_lease("short", "dead", Duration::from_millis(300))
        .await
        .unwrap());
    assert!(!store.try_lease("short", "alive", TTL).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!store.lease_held("short").await.unwrap());
    assert!(store.try_lease("short", "alive", TTL).await.unwrap());
    assert!(!store.renew_lease("short", "dead", TTL).await.unwrap());
}

async fn a_scheduled_period_is_claimed_once(store: Store) {
    assert!(store
        .claim_run("daily_refresh", "2026-12-04", "a", 30)
        .await
        .unwrap());
    assert!(!store
        .claim_run("daily_refresh", "2026-12-04", "b", 30)
        .await
        .unwrap());
    assert!(!store
        .claim_run("daily_refresh", "2026-12-04", "a", 30)
        .await
        .unwrap());
    assert!(store
        .claim_run("daily_refresh", "2026-12-05", "b", 30)
        .await
        .unwrap());
    assert!(store
        .claim_run("task_rules", "2026-12-04", "b", 30)
        .await
        .unwrap());
}

async fn sign_in_attempts_are_limited_per_key(store: Store) {
    let window = Duration::from_secs(60);
    let keys = |user: &str, ip: &str| vec![format!("user:{user}"), format!("ip:{ip}")];
    for _ in 0..5 {
        assert!(store
            .begin_sign_in(&keys("ann", "1"), 5, window)
            .await
            .unwrap()
            .is_ok());
    }
    let wait = store
        .begin_sign_in(&keys("ann", "1"), 5, window)
        .await
        .unwrap()
        .unwrap_err();
    assert!((1..=60).contains(&wait), "{wait}");
    // The address is used up for other names too; the name from other addresses.
    assert!(store
        .begin_sign_in(&keys("bob", "1"), 5, window)
        .await
        .unwrap()
        .is_err());
    assert!(store
        .begin_sign_in(&keys("ann", "2"), 5, window)
        .await
        .unwrap()
        .is_err());
    // A refused attempt counted nothing: another address and name pass.
    assert!(store
        .begin_sign_in(&keys("bob", "2"), 5, window)
        .await
        .unwrap()
        .is_ok());
    // A successful sign-in takes its attempt back.
    for _ in 0..10 {
        let ids = store
            .begin_sign_in(&keys("cy", "3"), 5, window)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids.len(), 2);
        store.forgive_sign_in(&ids).await.unwrap();
    }
    // Attempts age out of the window.
    let short = Duration::from_millis(500);
    for _ in 0..2 {
        assert!(store
            .begin_sign_in(&keys("dee", "4"), 2, short)
            .await
            .unwrap()
            .is_ok());
    }
    assert!(store
        .begin_sign_in(&keys("dee", "4"), 2, short)
        .await
        .unwrap()
        .is_err());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(store
        .begin_sign_in(&keys("dee", "4"), 2, short)
        .await
        .unwrap()
        .is_ok());
}

/// Concurrent sign-ins (as from several servers) with a key in common: exactly the limit
/// passes to the password check.
async fn a_burst_of_sign_ins_passes_only_the_limit(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let keys = vec!["user:ann".to_string(), format!("ip:10.0.0.{i}")];
            store
                .begin_sign_in(&keys, 5, Duration::from_secs(60))
                .await
                .unwrap()
                .is_ok()
        }));
    }
    let mut through = 0;
    for t in tasks {
        through += usize::from(t.await.unwrap());
    }
    assert_eq!(through, 5);
}

async fn import_jobs_are_stored_with_their_files(store: Store) {
    let user = |name: &str| NewUser {
        username: name.into(),
        ..Default::default()
    };
    let ann = store.create_user(&user("ann")).await.unwrap();
    let bob = store.create_user(&user("bob")).await.unwrap();
    let e = store
        .create_import_job(
            &NewImportJob {
                owner_id: ann.id,
                entity: "invoices".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("entity"), "{e}");

    // Waiting for a mapping: the upload is kept; one request starts it.
    let mapping = store
        .create_import_job(
            &NewImportJob {
                owner_id: ann.id,
                file_name: "c.csv".into(),
                entity: "customers".into(),
                unknown_columns: vec!["Region code".into()],
                total_bytes: 5,
                ..Default::default()
            },
            Some(b"a,b\n1"),
        )
        .await
        .unwrap();
    let job = store.import_job(mapping, ann.id).await.unwrap().unwrap();
    assert_eq!(job.state, "mapping");
    assert_eq!(job.unknown(), vec!["Region code".to_string()]);
    assert!(store.import_job(mapping, bob.id).await.unwrap().is_none());
    assert!(store
        .start_mapped_import(mapping, bob.id, "x")
        .await
        .unwrap()
        .is_none());
    let bytes = store
        .start_mapped_import(mapping, ann.id, "x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bytes, b"a,b\n1");
    assert!(store
        .start_mapped_import(mapping, ann.id, "y")
        .await
        .unwrap()
        .is_none());
    store.import_job_progress(mapping, 3, 5, 1).await.unwrap();
    let job = store.import_job(mapping, ann.id).await.unwrap().unwrap();
    assert_eq!(
        (job.state.as_str(), job.bytes, job.rows_read),
        ("running", 3, 1)
    );
    store
        .finish_import_job(
            mapping,
            &ImportOutcome {
                seconds: 0.5,
                rows: 2,
                inserted: 1,
                rejected: 1,
                ..Default::default()
            },
            Some(b"line,error\n3,bad"),
        )
        .await
        .unwrap();
    let job = store.import_job(mapping, ann.id).await.unwrap().unwrap();
    assert_eq!(
        (job.state.as_str(), job.inserted, job.rejected, job.bytes),
        ("done", 1, 1, 5)
    );
    assert_eq!(
        store.import_job_rejects(mapping, ann.id).await.unwrap(),
        Some(b"line,error\n3,bad".to_vec())
    );
    assert_eq!(
        store.import_job_rejects(mapping, bob.id).await.unwrap(),
        None
    );

    // A running job without a sign of life is shown as failed: its server stopped.
    let running = store
        .create_import_job(
            &NewImportJob {
                owner_id: ann.id,
                file_name: "o.csv".into(),
                entity: "orders".into(),
                holder: "gone".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .import_job(running, ann.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        "running"
    );
    let old = match store.kind() {
        patron_store::BackendKind::Sqlite => "'2001-01-01T00:00:00Z'",
        patron_store::BackendKind::Postgres => "TIMESTAMPTZ '2001-01-01 00:00:00+00'",
    };
    store
        .raw_execute(&format!(
            "UPDATE import_jobs SET heartbeat_at = {old} WHERE id = {running}"
        ))
        .await
        .unwrap();
    let job = store.import_job(running, ann.id).await.unwrap().unwrap();
    assert_eq!(job.state, "failed");
    assert_eq!(job.error.as_deref(), Some(ABANDONED));

    // Newest first, the owner's only; at most the last 20 finished are kept.
    for i in 0..25 {
        let id = store
            .create_import_job(
                &NewImportJob {
                    owner_id: bob.id,
                    file_name: format!("{i}.csv"),
                    entity: "orders".into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        store
            .finish_import_job(id, &ImportOutcome::default(), None)
            .await
            .unwrap();
    }
    let anns = store.import_jobs_of(ann.id).await.unwrap();
    assert_eq!(
        anns.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![running, mapping]
    );
    let bobs = store.import_jobs_of(bob.id).await.unwrap();
    assert!(bobs.len() <= 21 && bobs.len() >= 20, "{}", bobs.len());
    assert_eq!(bobs[0].file_name, "24.csv");
}

async fn changes_are_noted_only_while_the_lease_is_held(store: Store) {
    store
        .note_change_during_lease("value_refresh", &[7])
        .await
        .unwrap();
    assert!(store.take_changes_noted().await.unwrap().is_empty());
    assert!(store.try_lease("value_refresh", "a", TTL).await.unwrap());
    store
        .note_change_during_lease("value_refresh", &[9, 7, 9])
        .await
        .unwrap();
    assert_eq!(store.take_changes_noted().await.unwrap(), vec![7, 9]);
    assert!(store.take_changes_noted().await.unwrap().is_empty());
}
