//! The customer search (the list's `q`): substring of name or company in any case, exact number,
//! phone or e-mail, on both backends; answered from the text index of migration 0011 (SQLite
//! FTS5 trigram table kept by triggers, PostgreSQL pg_trgm indexes) for terms of 3 or more
//! characters and by scanning for shorter ones. Every test runs against SQLite and PostgreSQL.

use patron_domain::CustomerInput;
use patron_store::{
    backend_tests, BackendKind, CustomerFilter, CustomerSort, ImportCustomer, NewUser, PageRequest,
    Store, Visibility,
};
use serde_json::json;

fn customer(name: &str, company: Option<&str>) -> CustomerInput {
    CustomerInput {
        name: name.into(),
        company: company.map(str::to_string),
        ..Default::default()
    }
}

/// Ids of every customer the search finds (all pages, id order).
async fn find(store: &Store, q: &str) -> Vec<i64> {
    find_sorted(store, q, CustomerSort::Id, &Visibility::All, 500).await
}

async fn find_sorted(
    store: &Store,
    q: &str,
    sort: CustomerSort,
    visible: &Visibility,
    limit: u32,
) -> Vec<i64> {
    let filter = CustomerFilter {
        q: Some(q.into()),
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut page = PageRequest {
        limit: Some(limit),
        after: None,
    };
    loop {
        let p = store
            .list_visible_customers(&filter, visible, sort, &page)
            .await
            .unwrap_or_else(|e| panic!("search {q:?}: {e}"));
        out.extend(p.items.iter().map(|c| c.id));
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    out
}

/// SQLite: the external-content index agrees with the customers table (FTS5's own check).
async fn index_is_consistent(store: &Store) {
    if store.kind() == BackendKind::Sqlite {
        store
            .raw_execute(
                "INSERT INTO customers_search (customers_search, rank) VALUES ('integrity-check', 1)",
            )
            .await
            .expect("the text index matches the customers table");
    }
}

backend_tests!(
    finds_substrings_in_any_case,
    short_terms_and_special_characters,
    index_follows_update_merge_delete_and_import,
    pages_and_visibility_are_kept,
    common_terms_page_through_every_match
);

async fn finds_substrings_in_any_case(store: Store) {
    let mut zhang = customer("Zhang Wei Trading", Some("Acme Holdings Ltd"));
    zhang.phone = Some("+86 138-0013-8000".into());
    zhang.email = Some("Wei.Zhang@Example.com".into());
    zhang.number = Some("K-7781".into());
    let zhang = store.create_customer(zhang, "t").await.unwrap().id;
    let wang = store
        .create_customer(customer("王小明", Some("北京华为科技有限公司")), "t")
        .await
        .unwrap()
        .id;
    let other = store
        .create_customer(customer("Oak Street Bakery", None), "t")
        .await
        .unwrap()
        .id;
    // Name and company substrings, any case, inside words too.
    assert_eq!(find(&store, "wei tra").await, vec![zhang]);
    assert_eq!(find(&store, "ZHANG").await, vec![zhang]);
    assert_eq!(find(&store, "holdings").await, vec![zhang]);
    assert_eq!(find(&store, "me Hold").await, vec![zhang]);
    assert_eq!(find(&store, "bakery").await, vec![other]);
    // Both fields are searched, a term spanning them is not one substring.
    assert_eq!(find(&store, "Trading Acme").await, Vec::<i64>::new());
    // Chinese: the whole name, a part of the company.
    assert_eq!(find(&store, "王小明").await, vec![wang]);
    assert_eq!(find(&store, "华为科技").await, vec![wang]);
    // Number, phone (any spelling of the same digits) and e-mail (any case): exact keys.
    assert_eq!(find(&store, "K-7781").await, vec![zhang]);
    assert_eq!(find(&store, "13800138000").await, vec![zhang]);
    assert_eq!(find(&store, "+86 138 0013 8000").await, vec![zhang]);
    assert_eq!(find(&store, "wei.zhang@example.com").await, vec![zhang]);
    // No match, and a term matching several.
    assert_eq!(find(&store, "nowhere").await, Vec::<i64>::new());
    let mut both = find(&store, "a").await;
    both.sort_unstable();
    assert_eq!(both, vec![zhang, other]);
    index_is_consistent(&store).await;
}

async fn short_terms_and_special_characters(store: Store) {
    let a = store
        .create_customer(customer("Li Na", Some("Xy Co")), "t")
        .await
        .unwrap()
        .id;
    let b = store
        .create_customer(customer("王伟", None), "t")
        .await
        .unwrap()
        .id;
    let c = store
        .create_customer(customer("100% \"Quoted\" under_score", None), "t")
        .await
        .unwrap()
        .id;
    // One and two characters (no trigram): still substrings in any case.
    assert_eq!(find(&store, "xy").await, vec![a]);
    assert_eq!(find(&store, "LI").await, vec![a]);
    assert_eq!(find(&store, "伟").await, vec![b]);
    assert_eq!(find(&store, "王伟").await, vec![b]);
    // LIKE and FTS5 syntax in the term are literal characters.
    assert_eq!(find(&store, "%").await, vec![c]);
    assert_eq!(find(&store, "0% \"quo").await, vec![c]);
    assert_eq!(find(&store, "\"quoted\"").await, vec![c]);
    assert_eq!(find(&store, "r_s").await, vec![c]);
    assert_eq!(find(&store, "e_s").await, Vec::<i64>::new());
    assert_eq!(find(&store, "quoted OR li").await, Vec::<i64>::new());
    assert_eq!(find(&store, "NEAR(a b)").await, Vec::<i64>::new());
    assert_eq!(find(&store, "*").await, Vec::<i64>::new());
    assert_eq!(find(&store, "und*").await, Vec::<i64>::new());
}

async fn index_follows_update_merge_delete_and_import(store: Store) {
    let id = store
        .create_customer(customer("Old Name Works", Some("First Company")), "t")
        .await
        .unwrap()
        .id;
    let patch = json!({"name": "Fresh Title Works", "company": null});
    store
        .update_customer(id, patch.as_object().unwrap(), None, "t")
        .await
        .unwrap();
    assert_eq!(find(&store, "old name").await, Vec::<i64>::new());
    assert_eq!(find(&store, "first comp").await, Vec::<i64>::new());
    assert_eq!(find(&store, "fresh title").await, vec![id]);
    // A write that leaves name and company alone keeps the entry.
    let patch = json!({"region": "North"});
    store
        .update_customer(id, patch.as_object().unwrap(), None, "t")
        .await
        .unwrap();
    assert_eq!(find(&store, "title works").await, vec![id]);
    index_is_consistent(&store).await;

    // Merge: the merged record leaves the results, the survivor takes the company it lacked.
    let keep = store
        .create_customer(customer("Keeper Person", None), "t")
        .await
        .unwrap()
        .id;
    let drop = store
        .create_customer(customer("Dropped Person", Some("Mergeco Industries")), "t")
        .await
        .unwrap()
        .id;
    assert_eq!(find(&store, "mergeco").await, vec![drop]);
    store.merge_customers(keep, drop, "t").await.unwrap();
    assert_eq!(find(&store, "mergeco").await, vec![keep]);
    assert_eq!(find(&store, "dropped").await, Vec::<i64>::new());
    index_is_consistent(&store).await;

    // Delete.
    store.delete_customer(id).await.unwrap();
    assert_eq!(find(&store, "fresh title").await, Vec::<i64>::new());
    index_is_consistent(&store).await;

    // Bulk import (multi-row inserts), re-running it changes nothing.
    let rows: Vec<ImportCustomer> = (0..450)
        .map(|i| ImportCustomer {
            number: format!("IMP{i:04}"),
            data: customer(
                &format!("Imported Customer {i:04}"),
                Some(if i % 3 == 0 {
                    "上海贸易公司"
                } else {
                    "Plain Imports"
                }),
            ),
        })
        .collect();
    assert_eq!(store.import_customers(&rows, "t").await.unwrap(), 450);
    assert_eq!(store.import_customers(&rows, "t").await.unwrap(), 0);
    assert_eq!(find(&store, "customer 0123").await.len(), 1);
    assert_eq!(find(&store, "上海贸易").await.len(), 150);
    assert_eq!(find(&store, "imported customer").await.len(), 450);
    index_is_consistent(&store).await;
}

async fn pages_and_visibility_are_kept(store: Store) {
    let owner = store
        .create_user(&NewUser {
            username: "rep-a".into(),
            display_name: None,
            role: None,
            scope: None,
            department_id: None,
            manager_id: None,
            password: None,
        })
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..37 {
        let mut c = customer(&format!("Harbour Shop {:02}", 36 - i), Some("Quay Ltd"));
        if i % 2 == 0 {
            c.owner_id = Some(owner.id);
        }
        ids.push(store.create_customer(c, "t").await.unwrap().id);
    }
    store
        .create_customer(customer("Inland Shop", None), "t")
        .await
        .unwrap();
    // Every sort order pages through the same matches, each exactly once, in its order.
    for sort in [
        CustomerSort::Id,
        CustomerSort::IdDesc,
        CustomerSort::Name,
        CustomerSort::NameDesc,
    ] {
        let got = find_sorted(&store, "harbour", sort, &Visibility::All, 5).await;
        let mut expected = ids.clone();
        match sort {
            CustomerSort::Id => {}
            // Names count down as ids go up.
            CustomerSort::IdDesc | CustomerSort::Name => expected.reverse(),
            _ => {}
        }
        assert_eq!(got, expected, "{sort:?}");
    }
    // A rep sees only the matches they own.
    let visible = Visibility::Owners {
        ids: vec![owner.id],
        pool: false,
    };
    let got = find_sorted(&store, "quay", CustomerSort::Id, &visible, 4).await;
    let owned: Vec<i64> = ids.iter().step_by(2).copied().collect();
    assert_eq!(got, owned);
    let got = find_sorted(&store, "ha", CustomerSort::Id, &visible, 4).await;
    assert_eq!(got, owned);
}

/// A term matching more customers than the text index hands over (2,000) is read in the list's
/// order instead: every match is still found, exactly once, and a rare term next to it still
/// comes from the index.
async fn common_terms_page_through_every_match(store: Store) {
    let rows: Vec<ImportCustomer> = (0..2_100)
        .map(|i| ImportCustomer {
            number: format!("N{i:05}"),
            data: customer(&format!("Common Name {i:05}"), None),
        })
        .collect();
    assert_eq!(store.import_customers(&rows, "t").await.unwrap(), 2_100);
    let all = find_sorted(
        &store,
        "COMMON name",
        CustomerSort::Name,
        &Visibility::All,
        500,
    )
    .await;
    assert_eq!(all.len(), 2_100);
    let mut unique = all.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 2_100);
    assert_eq!(find(&store, "name 01234").await.len(), 1);
    assert_eq!(find(&store, "mmon Name 0009").await.len(), 10);
    assert_eq!(find(&store, "N00042").await.len(), 1);
}
