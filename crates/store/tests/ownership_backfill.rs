//! Migration 0014 on both backends: the changes of owner a database recorded before it (in the
//! customers' change history, field `owner_id`) become its ownership history, from whom to whom,
//! when (with the day) and by whom; other changes of the history do not.

use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::{create_at_schema_version, BackendKind, Store};

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

both!(earlier_changes_of_owner_are_carried_over);

async fn earlier_changes_of_owner_are_carried_over(kind: BackendKind) {
    let Some(url) = fresh_database_url(kind).await else {
        return;
    };
    create_at_schema_version(&url, 13).await.unwrap();
    let rows = [
        (
            "2024-01-10T09:00:00+00:00",
            "claim-er",
            "owner_id",
            None,
            Some("1"),
        ),
        (
            "2024-01-11T09:00:00+00:00",
            "editor",
            "region",
            None,
            Some("North"),
        ),
        (
            "2024-02-15T23:30:00+00:00",
            "admin",
            "owner_id",
            Some("1"),
            Some("2"),
        ),
    ];
    {
        use sqlx::Connection;
        let sql = "INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES (7, $1, $2, $3, $4, $5)";
        match kind {
            BackendKind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{url}"))
                    .await
                    .unwrap();
                for (at, by, field, old, new) in rows {
                    sqlx::query(sql)
                        .bind(at)
                        .bind(by)
                        .bind(field)
                        .bind(old)
                        .bind(new)
                        .execute(&mut c)
                        .await
                        .unwrap();
                }
                c.close().await.unwrap();
            }
            BackendKind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                for (at, by, field, old, new) in rows {
                    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
                    sqlx::query(sql)
                        .bind(at)
                        .bind(by)
                        .bind(field)
                        .bind(old)
                        .bind(new)
                        .execute(&mut c)
                        .await
                        .unwrap();
                }
                c.close().await.unwrap();
            }
        }
    }
    let store = Store::connect(&url).await.unwrap();
    let count = |filter: &'static str| {
        let store = store.clone();
        async move {
            store
                .raw_execute(&format!(
                    "UPDATE ownership_history SET why = why WHERE customer_id = 7 AND {filter}"
                ))
                .await
                .unwrap()
        }
    };
    assert_eq!(count("1 = 1").await, 2);
    assert_eq!(
        count("from_owner IS NULL AND to_owner = 1 AND by_name = 'claim-er' AND on_day = '2024-01-10'").await,
        1
    );
    assert_eq!(
        count("from_owner = 1 AND to_owner = 2 AND by_name = 'admin' AND on_day = '2024-02-15'")
            .await,
        1
    );
    store.close().await;
    if kind == BackendKind::Sqlite {
        // The automatic backup `connect` took before upgrading.
        let path = std::path::Path::new(&url);
        let prefix = format!("{}.schema-", path.file_name().unwrap().to_str().unwrap());
        for e in std::fs::read_dir(path.parent().unwrap()).unwrap().flatten() {
            if e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
            {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
    discard_database(kind, &url).await;
}
