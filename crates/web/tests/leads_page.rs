//! The leads page on both backends: the funnel counts, a rep's own leads only, moving and
//! converting through the forms, refusals shown with their reason (409 / 422), Chinese labels.

use axum::http::StatusCode;
use axum::Router;
use patron_app::Session;
use patron_domain::CustomerInput;
use patron_store::{backend_tests, Actor, LeadInput, LeadStatusChange, NewUser, Role, Store, User};
use patron_testkit::{get_lang as get, post_form as post};

async fn user(store: &Store, name: &str) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(Role::Rep),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn app_as(store: &Store, u: &User) -> Router {
    let viewer = Session {
        user: u.clone(),
        visible: store.visibility(u).await.unwrap(),
        actor: Actor::user(u, None),
    };
    patron_web::router(store.clone()).layer(axum::Extension(viewer))
}

async fn lead(store: &Store, name: &str, owner: i64, phone: Option<&str>) -> i64 {
    store
        .create_lead(LeadInput {
            name: name.into(),
            company: Some(format!("{name} Trading")),
            phone: phone.map(String::from),
            source: Some("Canton Fair".into()),
            owner_id: Some(owner),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

backend_tests!(leads_page_works_a_lead_through);

async fn leads_page_works_a_lead_through(store: Store) {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    let a1 = lead(&store, "Li Wei", ann.id, None).await;
    let a2 = lead(&store, "Zhou Min", ann.id, Some("+86 139 0000 0002")).await;
    let b1 = lead(&store, "Bob's Secret", bob.id, None).await;
    store
        .set_lead_status(
            a1,
            &LeadStatusChange {
                status: "qualified".into(),
                reason: None,
            },
        )
        .await
        .unwrap();
    let app = app_as(&store, &ann).await;

    // The funnel over Ann's leads and her list; Bob's lead is not there.
    let p = get(&app, "/leads", "en").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("Li Wei") && p.body.contains("Zhou Min"));
    assert!(!p.body.contains("Bob&#39;s Secret") && !p.body.contains("Bob's Secret"));
    let count = |body: &str, s: &str| -> String {
        let at = body
            .find(&format!("id=\"funnel-{s}\""))
            .expect("funnel entry");
        let rest = &body[at..];
        let strong = rest.find("<strong>").unwrap() + "<strong>".len();
        rest[strong..strong + rest[strong..].find('<').unwrap()].to_string()
    };
    assert_eq!(count(&p.body, "new"), "1");
    assert_eq!(count(&p.body, "qualified"), "1");
    assert_eq!(count(&p.body, "converted"), "0");
    // Filtered by status.
    let p = get(&app, "/leads?status=qualified", "en").await;
    assert!(p.body.contains("Li Wei") && !p.body.contains("Zhou Min"));
    // Chinese labels.
    let p = get(&app, "/leads", "zh").await;
    for label in ["销售线索", "漏斗", "已确认", "新增线索"] {
        assert!(p.body.contains(label), "{label} missing");
    }

    // Another rep's lead: not found, unchanged.
    let p = post(
        &app,
        &format!("/leads/{b1}/status"),
        &[("status", "contacted")],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(store.lead(b1).await.unwrap().status, "new");
    // An illegal move and a missing reason are shown with their reason.
    let p = post(
        &app,
        &format!("/leads/{a1}/status"),
        &[("status", "contacted")],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
    assert!(p.body.contains("cannot go from"), "{}", p.body);
    let p = post(
        &app,
        &format!("/leads/{a2}/status"),
        &[("status", "disqualified"), ("reason", " ")],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("reason"), "{}", p.body);
    // A legal move goes back to the list it came from.
    let p = post(
        &app,
        &format!("/leads/{a2}/status"),
        &[("status", "contacted"), ("back", "/leads?status=new")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/leads?status=new&ok=moved"));

    // Convert: a new customer of Ann's.
    let p = post(&app, &format!("/leads/{a1}/convert"), &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let converted = store.lead(a1).await.unwrap();
    let c = converted.converted_customer_id.expect("converted");
    assert_eq!(
        p.location.as_deref(),
        Some(&*format!("/leads?ok=converted&customer={c}"))
    );
    let customer = store.customer(c).await.unwrap();
    assert_eq!(customer.data.owner_id, Some(ann.id));
    assert_eq!(customer.data.name, "Li Wei Trading");
    // Twice: refused with the reason.
    let p = post(&app, &format!("/leads/{a1}/convert"), &[]).await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("already"), "{}", p.body);
    let p = get(&app, "/leads?ok=converted", "en").await;
    assert_eq!(count(&p.body, "converted"), "1");
    assert!(p.body.contains(&format!("/customers/{c}")));
    assert!(p.body.contains(customer.data.number.as_deref().unwrap()));

    // Into an existing customer by number; one of Bob's is "does not exist".
    let bobs = store
        .create_customer(
            CustomerInput {
                name: "Bob's customer".into(),
                owner_id: Some(bob.id),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap();
    let anns = store
        .create_customer(
            CustomerInput {
                name: "Zhou Min Trading".into(),
                phone: Some("13900000002".into()),
                owner_id: Some(ann.id),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap();
    store
        .set_lead_status(
            a2,
            &LeadStatusChange {
                status: "qualified".into(),
                reason: None,
            },
        )
        .await
        .unwrap();
    let p = post(&app, &format!("/leads/{a2}/convert"), &[]).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "likely duplicate");
    assert!(
        p.body.contains(anns.data.number.as_deref().unwrap()),
        "{}",
        p.body
    );
    let p = post(
        &app,
        &format!("/leads/{a2}/convert"),
        &[("into", bobs.data.number.as_deref().unwrap())],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    let p = post(
        &app,
        &format!("/leads/{a2}/convert"),
        &[("into", anns.data.number.as_deref().unwrap())],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        store.lead(a2).await.unwrap().converted_customer_id,
        Some(anns.id)
    );

    // An unowned lead: Ann reads it and takes it; she cannot give hers away, nor touch Bob's.
    let free = store
        .create_lead(LeadInput {
            name: "Free Card".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let p = get(&app, "/leads", "en").await;
    assert!(p.body.contains(&format!("action=\"/leads/{free}/assign\"")));
    let ann_id = ann.id.to_string();
    let p = post(
        &app,
        &format!("/leads/{free}/assign"),
        &[("owner", &ann_id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(store.lead(free).await.unwrap().owner_id, Some(ann.id));
    let bob_id = bob.id.to_string();
    let p = post(
        &app,
        &format!("/leads/{free}/assign"),
        &[("owner", &bob_id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = post(&app, &format!("/leads/{b1}/assign"), &[("owner", &ann_id)]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(store.lead(b1).await.unwrap().owner_id, Some(bob.id));

    // Recording a lead makes it the rep's.
    let p = post(
        &app,
        "/leads",
        &[("name", "Qian Duoduo"), ("email", "qian@example.com")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // What was stored: one new lead, as entered, owned by Ann.
    let stored: Vec<_> = store
        .list_leads(
            &Default::default(),
            &patron_store::Visibility::All,
            &patron_store::PageRequest {
                limit: Some(100),
                after: None,
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|l| l.name == "Qian Duoduo")
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let q = &stored[0];
    assert_eq!(
        (q.email.as_deref(), q.owner_id, q.status.as_str()),
        (Some("qian@example.com"), Some(ann.id), "new")
    );
    assert_eq!(
        (q.company.as_deref(), q.converted_customer_id),
        (None, None)
    );
    let p = get(&app, "/leads?status=new", "en").await;
    assert!(p.body.contains("Qian Duoduo"));
    let p = post(&app, "/leads", &[("name", ""), ("email", "nope")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
}
