//! Schema versions on connect, both backends: a database from a newer release is refused with
//! both versions named and nothing changed; an older one is migrated in one transaction, after
//! an automatic backup (SQLite); a failing upgrade leaves the old version as it was.

use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::{create_at_schema_version, inspect, known_schema_version, BackendKind, Store};

/// The automatic backups `Store::connect` wrote next to SQLite file `db`.
fn upgrade_backups(db: &str) -> Vec<std::path::PathBuf> {
    let path = std::path::Path::new(db);
    let prefix = format!("{}.schema-", path.file_name().unwrap().to_str().unwrap());
    let mut found: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    found.sort();
    found
}

macro_rules! both {
    ($($name:ident),+) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(patron_store::BackendKind::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(patron_store::BackendKind::Postgres).await;
            }
        }
    )+};
}

both!(
    a_newer_schema_is_refused_and_left_alone,
    an_older_schema_is_backed_up_and_migrated,
    a_failing_upgrade_keeps_the_old_version
);

async fn a_newer_schema_is_refused_and_left_alone(kind: BackendKind) {
    let Some(url) = fresh_database_url(kind).await else {
        return;
    };
    let ours = known_schema_version(kind);
    let future = ours + 1;
    let store = Store::connect(&url).await.unwrap();
    store
        .raw_execute(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({future}, 'from a newer release', TRUE, '', 0)"
        ))
        .await
        .unwrap();
    store.close().await;
    let before = inspect(&url).await.unwrap();
    assert_eq!(before.schema_version(), Some(future));

    let e = Store::connect(&url).await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("schema is version {future}"))
            && e.contains(&format!("(version {ours})"))
            && e.contains("newer")
            && e.contains("Nothing was changed"),
        "unclear refusal: {e}"
    );
    assert_eq!(
        inspect(&url).await.unwrap(),
        before,
        "the refusal changed the database"
    );
    if kind == BackendKind::Sqlite {
        assert!(
            upgrade_backups(&url).is_empty(),
            "a refused database is not backed up"
        );
    }
    discard_database(kind, &url).await;
}

async fn an_older_schema_is_backed_up_and_migrated(kind: BackendKind) {
    let Some(url) = fresh_database_url(kind).await else {
        return;
    };
    let ours = known_schema_version(kind);
    let old = ours - 2;
    create_at_schema_version(&url, old).await.unwrap();
    assert_eq!(inspect(&url).await.unwrap().schema_version(), Some(old));

    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), ours);
    // The upgraded database works: a customer can be recorded.
    store
        .create_customer(
            patron_domain::CustomerInput {
                name: "After the upgrade".into(),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    store.close().await;

    if kind == BackendKind::Sqlite {
        let backups = upgrade_backups(&url);
        assert_eq!(backups.len(), 1, "one automatic backup: {backups:?}");
        let name = backups[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            name.contains(&format!(".schema-{old}.")) && name.ends_with("Z.bak"),
            "named with the old version and a timestamp: {name}"
        );
        let copy = inspect(backups[0].to_str().unwrap()).await.unwrap();
        assert_eq!(
            copy.schema_version(),
            Some(old),
            "the backup is the old database"
        );
        // A second connect has nothing to upgrade and takes no second backup.
        Store::connect(&url).await.unwrap().close().await;
        assert_eq!(upgrade_backups(&url).len(), 1);
        std::fs::remove_file(&backups[0]).unwrap();
    }
    discard_database(kind, &url).await;
}

async fn a_failing_upgrade_keeps_the_old_version(kind: BackendKind) {
    let Some(url) = fresh_database_url(kind).await else {
        return;
    };
    // Version 10, with a table in the way of migration 12 (which creates `tasks`): migration 11
    // applies, 12 fails, and both are rolled back together.
    create_at_schema_version(&url, 10).await.unwrap();
    {
        use sqlx::Connection;
        match kind {
            BackendKind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{url}"))
                    .await
                    .unwrap();
                sqlx::query("CREATE TABLE tasks (x INTEGER)")
                    .execute(&mut c)
                    .await
                    .unwrap();
                c.close().await.unwrap();
            }
            BackendKind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query("CREATE TABLE tasks (x INTEGER)")
                    .execute(&mut c)
                    .await
                    .unwrap();
                c.close().await.unwrap();
            }
        }
    }
    let before = inspect(&url).await.unwrap();
    let e = Store::connect(&url).await.unwrap_err().to_string();
    assert!(e.contains("12"), "the failing migration is named: {e}");
    let after = inspect(&url).await.unwrap();
    assert_eq!(
        after.applied,
        (1..=10).collect::<Vec<i64>>(),
        "half migrated"
    );
    assert_eq!(after, before, "the failed upgrade left changes behind");
    if kind == BackendKind::Sqlite {
        for b in upgrade_backups(&url) {
            std::fs::remove_file(b).unwrap();
        }
    }
    discard_database(kind, &url).await;
}
