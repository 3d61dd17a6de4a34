//! The customer list's tools (total, sortable headers, chosen columns, kept filters, CSV
//! download, a rep's own list) through `oneshot`, signed in as real users of a fresh database
//! on both backends.

use axum::http::StatusCode;
use axum::Router;
use patron_app::Session;
use patron_domain::{CustomerInput, OrderInput};
use patron_store::{
    backend_tests, Actor, AuditFilter, CustomerValueRow, DataScope, NewSnapshot, NewUser, Role,
    Store, User,
};
use patron_testkit::{get_lang, post_form as post};

backend_tests!(
    sort_columns_and_total,
    kept_filters_and_back_link,
    csv_export_matches_list,
    csv_export_of_many_pages_equals_the_list,
    rep_list_leaves_out_the_pool,
    saved_views_save_apply_share,
    bulk_assign_and_return_within_scope,
    campaign_from_a_selection
);

async fn get(app: &Router, uri: &str) -> patron_testkit::Answer {
    get_lang(app, uri, "en").await
}

async fn user(store: &Store, name: &str, role: Role) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            password: Some(format!("{name}-password-1")),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn app_as(store: &Store, u: &User) -> Router {
    let viewer = Session {
        user: u.clone(),
        visible: store.visibility(u).await.unwrap(),
        actor: Actor::user(u, Some("127.0.0.1".into())),
    };
    patron_web::router(store.clone()).layer(axum::Extension(viewer))
}

async fn customer(store: &Store, name: &str, company: &str, owner: Option<i64>) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                company: Some(company.into()),
                region: Some("East".into()),
                owner_id: owner,
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

/// Three customers with value figures (CLV 10, 30, 20; value at risk 5, 1, 9), Charlie opted
/// out of marketing, Alpha's company a spreadsheet formula, Bravo owned by `owner`.
async fn fixture(store: &Store, owner: &User) -> [i64; 3] {
    let a = customer(store, "Alpha", "=HYPERLINK(\"x\")", None).await;
    let b = customer(store, "Bravo", "Bravo Ltd", Some(owner.id)).await;
    let c = customer(store, "Charlie", "Charlie Ltd", None).await;
    let patch = serde_json::json!({ "marketing_opt_out": true });
    store
        .update_customer(c, patch.as_object().unwrap(), None, "test")
        .await
        .unwrap();
    let order: OrderInput = serde_json::from_value(serde_json::json!({
        "order_ref": "O-1", "ordered_on": "2024-03-07",
        "lines": [{"category": "CDs", "quantity": 1, "amount": 10.0, "cost": 5.0}]
    }))
    .unwrap();
    store.create_order(b, order).await.unwrap();
    let now = chrono::Utc::now();
    let day = chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
    let rows: Vec<CustomerValueRow> = [
        (a, 10.0, 5.0, "C"),
        (b, 30.0, 1.0, "A"),
        (c, 20.0, 9.0, "B"),
    ]
    .into_iter()
    .map(|(id, clv, risk, grade)| {
        let mut r = CustomerValueRow::without_orders(id, now, "day".into(), day);
        r.clv = Some(clv);
        r.value_at_risk = risk;
        r.grade = Some(grade.into());
        r
    })
    .collect();
    store
        .replace_customer_values(
            &rows,
            &NewSnapshot {
                computed_at: now,
                options: serde_json::json!({}),
                report: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
    [a, b, c]
}

/// The names in the order the page lists them.
fn order_of(body: &str, names: &[&str]) -> Vec<String> {
    let mut found: Vec<(usize, String)> = names
        .iter()
        .filter_map(|n| body.find(&format!(">{n}</a>")).map(|i| (i, n.to_string())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}

async fn sort_columns_and_total(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    let rep = user(&store, "rita", Role::Rep).await;
    fixture(&store, &rep).await;
    let app = app_as(&store, &boss).await;
    let names = ["Alpha", "Bravo", "Charlie"];

    let by_name = get(&app, "/customers?sort=-name").await;
    assert_eq!(by_name.status, StatusCode::OK);
    assert_eq!(
        order_of(&by_name.body, &names),
        ["Charlie", "Bravo", "Alpha"]
    );
    // The sorted column says so, and its header sorts the other way.
    assert!(
        by_name.body.contains(
            r#"aria-sort="descending" data-col="name"><a class="sort" href="/customers?sort=name""#
        ),
        "{}",
        by_name.body
    );
    let clv = get(&app, "/customers?sort=-clv").await;
    assert_eq!(order_of(&clv.body, &names), ["Bravo", "Charlie", "Alpha"]);
    assert!(clv.body.contains(r#"href="/customers?sort=clv""#));
    let clv_up = get(&app, "/customers?sort=clv").await;
    assert_eq!(
        order_of(&clv_up.body, &names),
        ["Alpha", "Charlie", "Bravo"]
    );
    assert!(clv_up
        .body
        .contains(r#"aria-sort="ascending" data-col="clv""#));
    let risk = get(&app, "/customers?sort=value_at_risk&cols=value_at_risk").await;
    assert_eq!(order_of(&risk.body, &names), ["Bravo", "Alpha", "Charlie"]);
    let bad = get(&app, "/customers?sort=owner").await;
    assert!(bad.body.contains("&#39;owner&#39;") || bad.body.contains("'owner'"));

    // The exact total, and the range of each page.
    let all = get(&app, "/customers").await;
    assert!(
        all.body.contains("1–3</strong> of 3 customers"),
        "{}",
        all.body
    );
    let first = get(&app, "/customers?sort=name&limit=2").await;
    assert!(first.body.contains("1–2</strong> of 3 customers"));
    let next = first
        .body
        .split(r#"id="next-page" href=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(next.contains("at=2"), "{next}");
    let second = get(&app, &next).await;
    assert!(second.body.contains("3–3</strong> of 3 customers"));
    assert_eq!(order_of(&second.body, &names), ["Charlie"]);
    let east = get(&app, "/customers?q=Bravo").await;
    assert!(east.body.contains("of 1 customers"));

    // Chosen columns: grade, value at risk, owner's name, last order.
    let cols = get(
        &app,
        "/customers?cols=grade,owner,last_order,value_at_risk&sort=name",
    )
    .await;
    let b = &cols.body;
    assert!(b.contains(r#"data-col="grade">Value grade"#), "{b}");
    assert!(b.contains(r#"data-col="owner">Owner"#));
    assert!(b.contains(r#"data-col="last_order">Last order"#));
    assert!(b.contains(r#"data-col="value_at_risk""#));
    assert!(!b.contains(r#"data-col="company""#), "not chosen");
    assert!(b.contains(">rita<") && b.contains("2024-03-07"));
    assert!(b.contains(r#"value="grade" checked"#));
    assert!(!b.contains(r#"value="company" checked"#));
    // The columns travel with the sort links and the next page.
    assert!(b.contains("cols=owner%2Cgrade%2Cvalue_at_risk%2Clast_order"));
    // One checkbox per column (the form's way) means the same.
    let form = get(&app, "/customers?cols=grade&cols=owner").await;
    assert!(
        form.body.contains(r#"data-col="owner""#) && !form.body.contains(r#"data-col="company""#)
    );
    let unknown = get(&app, "/customers?cols=password").await;
    assert!(unknown.body.contains("Unknown column"));
    assert!(
        unknown.body.contains(r#"data-col="company""#),
        "the default columns"
    );
}

async fn kept_filters_and_back_link(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    let [a, ..] = fixture(&store, &boss).await;
    let app = app_as(&store, &boss).await;
    let list = get(&app, "/customers?region=East&sort=-name&cols=grade").await;
    // The rows link to the card with the list's query.
    let back = "back=%2Fcustomers%3Fregion%3DEast%26sort%3D-name%26cols%3Dgrade";
    assert!(
        list.body.contains(&format!("/customers/{a}?{back}")),
        "{}",
        list.body
    );
    let card = get(&app, &format!("/customers/{a}?{back}")).await;
    assert_eq!(card.status, StatusCode::OK);
    assert!(
        card.body.contains(
            r#"id="back-to-list" href="/customers?region=East&amp;sort=-name&amp;cols=grade""#
        ),
        "{}",
        card.body
    );
    // Only a same-site customer list is a way back.
    for bad in [
        "%2F%2Fevil.example%2Fcustomers",
        "https%3A%2F%2Fevil.example%2F",
        "%2Flogout",
        "%2F%5Cevil.example",
    ] {
        let card = get(&app, &format!("/customers/{a}?back={bad}")).await;
        assert!(
            card.body.contains(r#"id="back-to-list" href="/customers""#),
            "{bad}"
        );
    }
}

async fn csv_export_matches_list(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    fixture(&store, &boss).await;
    let app = app_as(&store, &boss).await;
    let query = "sort=-clv&cols=company,owner,clv";
    let list = get(&app, &format!("/customers?{query}")).await;
    assert!(
        list.body.contains(&format!(
            r#"href="/customers.csv?{}""#,
            query.replace('&', "&amp;").replace(',', "%2C")
        )),
        "{}",
        list.body
    );
    let csv = get(&app, &format!("/customers.csv?{query}")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));
    let mut r = csv::Reader::from_reader(csv.body.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        ["number", "name", "company", "owner", "clv", "opted_out"]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let names: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    // Same rows, same order as the list.
    assert_eq!(names, order_of(&list.body, &["Alpha", "Bravo", "Charlie"]));
    assert_eq!(names, ["Bravo", "Charlie", "Alpha"]);
    assert_eq!(&rows[2][2], "'=HYPERLINK(\"x\")", "formula neutralised");
    assert_eq!(&rows[0][3], "boss");
    assert_eq!(&rows[0][4], "30.00");
    assert_eq!(&rows[1][5], "true", "Charlie opted out");
    assert_eq!(&rows[0][5], "false");
    // A filter narrows the download as it narrows the list.
    let one = get(&app, "/customers.csv?q=Charlie").await;
    assert_eq!(one.body.lines().count(), 2, "{}", one.body);
    let bad = get(&app, "/customers.csv?sort=nope").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // One audit row per download, with the filter and the row count.
    let exports = store
        .audit_log(&AuditFilter {
            actor: Some("boss".into()),
            action: Some("export".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(exports.len(), 2, "{exports:?}");
    let full = exports.iter().find(|e| e.row_count == Some(3)).unwrap();
    assert!(
        full.detail.as_deref().unwrap().contains("sort=-clv"),
        "{full:?}"
    );
    assert!(exports.iter().any(|e| e.row_count == Some(1)));
}

async fn rep_list_leaves_out_the_pool(store: Store) {
    let ann = user(&store, "ann", Role::Rep).await;
    let bob = user(&store, "bob", Role::Rep).await;
    let boss = user(&store, "boss", Role::Admin).await;
    customer(&store, "Anns Own", "A Ltd", Some(ann.id)).await;
    customer(&store, "Bobs Own", "B Ltd", Some(bob.id)).await;
    customer(&store, "Pooled", "P Ltd", None).await;
    let app = app_as(&store, &ann).await;
    let list = get(&app, "/customers").await;
    assert!(list.body.contains("Anns Own"));
    assert!(!list.body.contains("Pooled"), "{}", list.body);
    assert!(!list.body.contains("Bobs Own"));
    assert!(list.body.contains("of 1 customers"));
    assert!(list.body.contains(r#"id="mine-note""#));
    let csv = get(&app, "/customers.csv").await;
    assert!(csv.body.contains("Anns Own") && !csv.body.contains("Pooled"));
    // The pool has its own page.
    let pool = get(&app, "/pool").await;
    assert!(pool.body.contains("Pooled"));
    // Whoever sees everything sees the pool customers in the list too.
    let mgr = get(&app_as(&store, &boss).await, "/customers").await;
    assert!(mgr.body.contains("Pooled") && mgr.body.contains("Bobs Own"));
}

async fn saved_views_save_apply_share(store: Store) {
    let mia = user(&store, "mia", Role::Manager).await;
    let ann = user(&store, "ann", Role::Rep).await;
    let boss = user(&store, "boss", Role::Admin).await;
    customer(&store, "Zed", "Z Ltd", Some(ann.id)).await;
    customer(&store, "Amy", "A Ltd", Some(ann.id)).await;
    let ann_app = app_as(&store, &ann).await;
    let mia_app = app_as(&store, &mia).await;

    // Saved without the page cursor; the answer opens the view.
    let saved = post(
        &ann_app,
        "/customers/views",
        &[
            ("name", "East by name"),
            (
                "query",
                "?region=East&sort=-name&cols=grade&after=abc&at=25",
            ),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        saved.location.as_deref(),
        Some("/customers?region=East&sort=-name&cols=grade&done=view_saved")
    );
    let list = get(&ann_app, "/customers").await;
    assert!(
        list.body.contains(
            r#"href="/customers?region=East&amp;sort=-name&amp;cols=grade">East by name</a>"#
        ),
        "{}",
        list.body
    );
    // Applying it lists as it says.
    let applied = get(&ann_app, "/customers?region=East&sort=-name&cols=grade").await;
    assert_eq!(order_of(&applied.body, &["Amy", "Zed"]), ["Zed", "Amy"]);
    assert!(applied.body.contains(r#"data-col="grade""#));
    // The form saves what the list shows.
    assert!(applied
        .body
        .contains(r#"name="query" value="region=East&amp;sort=-name&amp;cols=grade""#));
    // Reps may not share; the checkbox is not offered to them.
    assert!(!list.body.contains(r#"name="shared""#));
    let refused = post(
        &ann_app,
        "/customers/views",
        &[
            ("name", "Everyone"),
            ("query", "sort=name"),
            ("shared", "1"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let blank = post(
        &ann_app,
        "/customers/views",
        &[("name", "  "), ("query", "")],
    )
    .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.body.contains("name"), "{}", blank.body);

    // A manager shares one with everyone and keeps another to herself.
    let shared = post(
        &mia_app,
        "/customers/views",
        &[
            ("name", "Team at risk"),
            ("query", "churn=yes"),
            ("shared", "1"),
        ],
    )
    .await;
    assert_eq!(shared.status, StatusCode::SEE_OTHER);
    post(
        &mia_app,
        "/customers/views",
        &[("name", "Mia private"), ("query", "sort=name")],
    )
    .await;
    let list = get(&ann_app, "/customers").await;
    assert!(list.body.contains("Team at risk") && list.body.contains("shared"));
    assert!(!list.body.contains("Mia private"));
    let views = store.saved_views_for(mia.id).await.unwrap();
    let id_of = |n: &str| views.iter().find(|v| v.name == n).unwrap().id;
    // Only the owner or an admin deletes.
    let no = post(
        &ann_app,
        &format!("/customers/views/{}/delete", id_of("Team at risk")),
        &[],
    )
    .await;
    assert_eq!(no.status, StatusCode::FORBIDDEN);
    let hidden = post(
        &ann_app,
        &format!("/customers/views/{}/delete", id_of("Mia private")),
        &[],
    )
    .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let ok = post(
        &mia_app,
        &format!("/customers/views/{}/delete", id_of("Mia private")),
        &[("back", "/customers?sort=name")],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        ok.location.as_deref(),
        Some("/customers?sort=name&done=view_deleted")
    );
    let admin = post(
        &app_as(&store, &boss).await,
        &format!("/customers/views/{}/delete", id_of("Team at risk")),
        &[],
    )
    .await;
    assert_eq!(admin.status, StatusCode::SEE_OTHER);
    let left: Vec<String> = store
        .saved_views_for(ann.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(left, ["East by name"]);
}

async fn bulk_assign_and_return_within_scope(store: Store) {
    let mia = store
        .create_user(&NewUser {
            username: "mia".into(),
            role: Some(Role::Manager),
            scope: Some(DataScope::Subordinates),
            password: Some("mia-password-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ann = store
        .create_user(&NewUser {
            username: "ann".into(),
            role: Some(Role::Rep),
            manager_id: Some(mia.id),
            password: Some("ann-password-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let bob = user(&store, "bob", Role::Rep).await;
    let a1 = customer(&store, "Ann One", "A1 Ltd", Some(ann.id)).await;
    let a2 = customer(&store, "Ann Two", "A2 Ltd", Some(ann.id)).await;
    let b1 = customer(&store, "Bob One", "B1 Ltd", Some(bob.id)).await;
    let owner = |id: i64| {
        let store = store.clone();
        async move { store.customer(id).await.unwrap().data.owner_id }
    };
    let mia_app = app_as(&store, &mia).await;
    let ann_app = app_as(&store, &ann).await;

    let list = get(&mia_app, "/customers").await;
    assert!(
        list.body
            .contains(&format!(r#"name="ids" value="{a1}" form="bulk""#)),
        "{}",
        list.body
    );
    assert!(list.body.contains(r#"<option value="assign">"#));
    let (s1, s2, sb) = (a1.to_string(), a2.to_string(), b1.to_string());
    let mia_id = mia.id.to_string();

    // Within scope: moved, one audit row per customer, back to the same list.
    let done = post(
        &mia_app,
        "/customers/bulk",
        &[
            ("ids", &s1),
            ("action", "assign"),
            ("user_id", &mia_id),
            ("back", "/customers?sort=name"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("/customers?sort=name&done=bulk_1")
    );
    assert_eq!(owner(a1).await, Some(mia.id));
    let audit = store
        .audit_log(&AuditFilter {
            action: Some("assign".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].customer_id, Some(a1));
    let shown = get(&mia_app, "/customers?sort=name&done=bulk_1").await;
    assert!(shown.body.contains("1 customers changed."));

    // One customer outside the scope refuses the whole selection, saying how many.
    let refused = post(
        &mia_app,
        "/customers/bulk",
        &[
            ("ids", &s2),
            ("ids", &sb),
            ("action", "assign"),
            ("user_id", &mia_id),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .body
            .contains("1 of the 2 selected customers are outside your scope"),
        "{}",
        refused.body
    );
    assert_eq!(owner(a2).await, Some(ann.id), "nothing changed");
    assert_eq!(owner(b1).await, Some(bob.id));
    // Nor to a user outside the scope.
    let bob_id = bob.id.to_string();
    let outside = post(
        &mia_app,
        "/customers/bulk",
        &[("ids", &s2), ("action", "assign"), ("user_id", &bob_id)],
    )
    .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);

    // A rep may not assign, but returns their customers to the pool with a reason.
    let ann_list = get(&ann_app, "/customers").await;
    assert!(!ann_list.body.contains(r#"<option value="assign">"#));
    let rep = post(
        &ann_app,
        "/customers/bulk",
        &[("ids", &s2), ("action", "assign"), ("user_id", &mia_id)],
    )
    .await;
    assert_eq!(rep.status, StatusCode::FORBIDDEN);
    assert_eq!(owner(a2).await, Some(ann.id));
    // Tagging: within scope, audited per customer; outside it refused.
    let tagged = post(
        &ann_app,
        "/customers/bulk",
        &[("ids", &s2), ("action", "tag"), ("tag", "vip")],
    )
    .await;
    assert_eq!(tagged.status, StatusCode::SEE_OTHER, "{}", tagged.body);
    assert_eq!(store.customer(a2).await.unwrap().data.tags, ["vip"]);
    let again = post(
        &ann_app,
        "/customers/bulk",
        &[("ids", &s2), ("action", "tag"), ("tag", "vip")],
    )
    .await;
    assert_eq!(again.location.as_deref(), Some("/customers?done=bulk_0"));
    let tag_audit = store
        .audit_log(&AuditFilter {
            action: Some("update".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        tag_audit
            .iter()
            .filter(|e| e.detail.as_deref() == Some("tag 'vip' added"))
            .count(),
        1
    );
    let foreign = post(
        &ann_app,
        "/customers/bulk",
        &[("ids", &s1), ("ids", &s2), ("action", "tag"), ("tag", "x")],
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(foreign.body.contains("1 of the 2 selected customers"));
    assert_eq!(store.customer(a2).await.unwrap().data.tags, ["vip"]);
    let no_reason = post(
        &ann_app,
        "/customers/bulk",
        &[("ids", &s2), ("action", "return")],
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    let page = format!("{a2}");
    let returned = post(
        &ann_app,
        "/customers/bulk",
        &[
            ("all", "1"),
            ("page", &page),
            ("action", "return"),
            ("reason", "moved abroad"),
        ],
    )
    .await;
    assert_eq!(returned.status, StatusCode::SEE_OTHER, "{}", returned.body);
    assert_eq!(owner(a2).await, None);
    let back = store
        .audit_log(&AuditFilter {
            action: Some("return".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert!(back[0]
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("moved abroad"));
    // A rep's return of a customer they do not own is refused.
    let other = post(
        &ann_app,
        "/customers/bulk",
        &[("ids", &s1), ("action", "return"), ("reason", "x")],
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(owner(a1).await, Some(mia.id));
}

/// The names of a list walked page by page through its next-page links.
async fn walk_list(app: &Router, first: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut uri = Some(first.to_string());
    while let Some(u) = uri.take() {
        let page = get(app, &u).await;
        for row in page.body.split("<tr>").skip(2) {
            // The second link of a row is the name.
            let name = row
                .split("</a>")
                .nth(1)
                .and_then(|s| s.rsplit('>').next())
                .unwrap();
            names.push(name.to_string());
        }
        uri = page
            .body
            .split(r#"id="next-page" href=""#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(|s| s.replace("&amp;", "&"));
    }
    names
}

async fn csv_export_of_many_pages_equals_the_list(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    // More rows than one page of the download (500) and of the list (200).
    for i in 0..530 {
        let name = format!("Cust {:03}", (i * 37) % 530);
        let company = if i % 100 == 7 {
            "@SUM(A1)".to_string()
        } else {
            format!("Co {i}")
        };
        customer(&store, &name, &company, None).await;
    }
    let app = app_as(&store, &boss).await;
    let listed = walk_list(&app, "/customers?sort=-name&limit=200").await;
    assert_eq!(listed.len(), 530);
    let csv = get(&app, "/customers.csv?sort=-name&limit=200").await;
    let mut r = csv::Reader::from_reader(csv.body.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let names: Vec<String> = rows.iter().map(|r| r[1].to_string()).collect();
    assert_eq!(names, listed, "same rows in the same order");
    assert_eq!(
        rows.iter().filter(|r| &r[2] == "'@SUM(A1)").count(),
        6,
        "every formula cell neutralised"
    );
    let total = get(&app, "/customers?sort=-name").await;
    assert!(total.body.contains("of 530 customers"));
    let exports = store
        .audit_log(&AuditFilter {
            action: Some("export".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].row_count, Some(530));
}

/// "Start a campaign on them": managers record a campaign whose members are the ticked
/// customers (within scope, else nothing is recorded), audited once; reps are not offered it.
async fn campaign_from_a_selection(store: Store) {
    let mia = store
        .create_user(&NewUser {
            username: "mia".into(),
            role: Some(Role::Manager),
            scope: Some(DataScope::Subordinates),
            ..Default::default()
        })
        .await
        .unwrap();
    let ann = store
        .create_user(&NewUser {
            username: "ann".into(),
            role: Some(Role::Rep),
            manager_id: Some(mia.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let bob = user(&store, "bob", Role::Rep).await;
    let b1 = customer(&store, "Bob One", "B1 Ltd", Some(bob.id)).await;
    let a1 = customer(&store, "Ann One", "A1 Ltd", Some(ann.id)).await;
    let a2 = customer(&store, "Ann Two", "A2 Ltd", Some(ann.id)).await;
    let m1 = customer(&store, "Mia One", "M1 Ltd", Some(mia.id)).await;
    let mia_app = app_as(&store, &mia).await;
    let ann_app = app_as(&store, &ann).await;
    assert!(get(&mia_app, "/customers")
        .await
        .body
        .contains(r#"<option value="campaign">"#));
    assert!(!get(&ann_app, "/customers")
        .await
        .body
        .contains(r#"<option value="campaign">"#));
    let (s1, s2, sm) = (a1.to_string(), a2.to_string(), m1.to_string());

    let started = post(
        &mia_app,
        "/customers/bulk",
        &[
            ("ids", &s1),
            ("ids", &sm),
            ("action", "campaign"),
            ("campaign", "Spring mailing"),
            ("cost", "1,200.50"),
        ],
    )
    .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let campaigns = store.campaigns().await.unwrap();
    assert_eq!(campaigns.len(), 1);
    let c = &campaigns[0];
    assert_eq!(c.name, "Spring mailing");
    assert_eq!(c.cost, patron_domain::Money(120_050));
    assert_eq!(
        started.location.as_deref(),
        Some(format!("/work/campaigns?ok=created#campaign-{}", c.id).as_str())
    );
    let mut members = vec![a1, m1];
    members.sort_unstable();
    assert_eq!(store.campaign_member_ids(c.id).await.unwrap(), members);
    let audit = store
        .audit_log(&AuditFilter {
            action: Some("campaign".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].row_count, Some(2));

    // A name taken, a missing name, a bad cost, a rep, a customer outside the scope: refused,
    // nothing recorded.
    let sb = b1.to_string();
    for (who, form, status) in [
        (
            &mia_app,
            vec![
                ("ids", s2.as_str()),
                ("ids", sb.as_str()),
                ("action", "campaign"),
                ("campaign", "Other"),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            &mia_app,
            vec![
                ("ids", s2.as_str()),
                ("action", "campaign"),
                ("campaign", "Spring mailing"),
            ],
            StatusCode::CONFLICT,
        ),
        (
            &mia_app,
            vec![
                ("ids", s2.as_str()),
                ("action", "campaign"),
                ("campaign", " "),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            &mia_app,
            vec![
                ("ids", s2.as_str()),
                ("action", "campaign"),
                ("campaign", "X"),
                ("cost", "abc"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            &ann_app,
            vec![
                ("ids", s2.as_str()),
                ("action", "campaign"),
                ("campaign", "Mine"),
            ],
            StatusCode::FORBIDDEN,
        ),
    ] {
        let r = post(who, "/customers/bulk", &form).await;
        assert_eq!(r.status, status, "{form:?}: {}", r.body);
    }
    assert_eq!(store.campaigns().await.unwrap().len(), 1);
    // A merge moves the membership (and a campaign opt-out) to the kept customer.
    let twin = customer(&store, "Mia One Twin", "M1 Ltd", Some(mia.id)).await;
    store
        .raw_execute(&format!(
            "INSERT INTO campaign_members (customer_id, campaign_id, added_at, added_by) VALUES ({twin}, {}, '2026-01-01T00:00:00Z', 'test')",
            c.id
        ))
        .await
        .unwrap();
    store
        .raw_execute(&format!(
            "INSERT INTO campaign_unsubscribes (customer_id, campaign_id, at) VALUES ({twin}, {}, '2026-01-01T00:00:00Z')",
            c.id
        ))
        .await
        .unwrap();
    store.merge_customers(a2, twin, "test").await.unwrap();
    let mut members = vec![a1, a2, m1];
    members.sort_unstable();
    assert_eq!(store.campaign_member_ids(c.id).await.unwrap(), members);
    // The purge of a member removes its membership and campaign opt-out too.
    let admin = user(&store, "root", Role::Admin).await;
    let admin_session = Session {
        user: admin.clone(),
        visible: store.visibility(&admin).await.unwrap(),
        actor: Actor::user(&admin, None),
    };
    patron_app::customers::purge_customer(&store, &admin_session, a1, "erasure request", "test")
        .await
        .unwrap();
    patron_app::customers::purge_customer(&store, &admin_session, a2, "erasure request", "test")
        .await
        .unwrap();
    assert_eq!(store.campaign_member_ids(c.id).await.unwrap(), vec![m1]);
}
