//! API tokens: found by their secret only while valid, and their last use recorded to the
//! minute (not on every request: that would turn every read into a write).

use patron_store::{backend_tests, NewUser, Store};

backend_tests!(token_lookup_and_last_use);

async fn token_lookup_and_last_use(store: Store) {
    let ann = store
        .create_user(&NewUser {
            username: "ann".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (token, secret) = store.create_token(ann.id, "laptop").await.unwrap();
    assert!(store.token_user("ptk_wrong").await.unwrap().is_none());
    let last_used =
        |store: Store| async move { store.tokens(Some(ann.id)).await.unwrap()[0].last_used_at };
    assert_eq!(last_used(store.clone()).await, None);

    assert_eq!(store.token_user(&secret).await.unwrap().unwrap().id, ann.id);
    let first = last_used(store.clone())
        .await
        .expect("the first use is recorded");
    // A second use within the minute leaves the recorded time as it is.
    store.token_user(&secret).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(first));
    // An older last use is brought up to date.
    let earlier = match store.kind() {
        patron_store::BackendKind::Sqlite => "'2001-01-01T00:00:00Z'",
        patron_store::BackendKind::Postgres => "TIMESTAMPTZ '2001-01-01 00:00:00+00'",
    };
    store
        .raw_execute(&format!(
            "UPDATE api_tokens SET last_used_at = {earlier} WHERE id = {}",
            token.id
        ))
        .await
        .unwrap();
    let old = last_used(store.clone()).await.unwrap();
    assert!(old < first);
    store.token_user(&secret).await.unwrap().unwrap();
    assert!(last_used(store.clone()).await.unwrap() >= first);

    // Revoked or disabled: no user.
    store.set_disabled(ann.id, true).await.unwrap();
    assert!(store.token_user(&secret).await.unwrap().is_none());
}
