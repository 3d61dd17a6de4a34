//! Customer list cursors are client input (`?after=`): whatever they decode to, a bad one is
//! `StoreError::Invalid` naming `after`, never a database error (a 500), on both backends.
//! Inputs found by the `query_filters` fuzz target (fuzz/, bench/fuzz.sh).

use patron_domain::CustomerInput;
use patron_store::{
    backend_tests, CustomerFilter, CustomerSort, OrderFilter, PageRequest, Store, StoreError,
};

backend_tests!(
    name_cursor_with_nul_is_refused,
    order_cursor_with_nul_is_refused,
    cursors_of_other_sorts_are_refused
);

/// A cursor as the store writes them: URL-safe base64 (no padding) of JSON.
fn b64(json: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

async fn one_customer(store: &Store) {
    store
        .create_customer(
            CustomerInput {
                name: "Acme".into(),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap();
}

fn page(after: &str) -> PageRequest {
    PageRequest {
        limit: None,
        after: Some(after.to_string()),
    }
}

fn assert_invalid_after<T: std::fmt::Debug>(r: Result<patron_store::Page<T>, StoreError>) {
    match r {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "after", "{e:?}"),
        other => panic!("expected an invalid `after`, got {other:?}"),
    }
}

async fn name_cursor_with_nul_is_refused(store: Store) {
    one_customer(&store).await;
    // ["A\u0000",1]: PostgreSQL refuses NUL in text, so this must not reach the query.
    let cursor = b64("[\"A\\u0000\",1]");
    for sort in [CustomerSort::Name, CustomerSort::NameDesc] {
        assert!(sort.decode_cursor(&cursor).is_err());
        let r = store
            .list_customers(&CustomerFilter::default(), sort, &page(&cursor))
            .await;
        assert_invalid_after(r);
    }
    // A plain name cursor still works.
    let ok = b64("[\"A\",0]");
    let r = store
        .list_customers(&CustomerFilter::default(), CustomerSort::Name, &page(&ok))
        .await
        .unwrap();
    assert_eq!(r.items.len(), 1);
}

async fn order_cursor_with_nul_is_refused(store: Store) {
    one_customer(&store).await;
    let cursor = b64("[\"2024-01-01\",1,\"R\\u0000\"]");
    let r = store
        .list_orders(&OrderFilter::default(), &page(&cursor))
        .await;
    assert_invalid_after(r);
    let ok = b64("[\"2024-01-01\",1,\"R\"]");
    assert!(store
        .list_orders(&OrderFilter::default(), &page(&ok))
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn cursors_of_other_sorts_are_refused(store: Store) {
    one_customer(&store).await;
    let id_cursor = b64("5");
    let name_cursor = b64("[\"A\",1]");
    let filter = CustomerFilter::default();
    assert_invalid_after(
        store
            .list_customers(&filter, CustomerSort::Name, &page(&id_cursor))
            .await,
    );
    assert_invalid_after(
        store
            .list_customers(&filter, CustomerSort::ClvDesc, &page(&name_cursor))
            .await,
    );
    assert_invalid_after(
        store
            .list_customers(&filter, CustomerSort::Id, &page("not base64!"))
            .await,
    );
}
