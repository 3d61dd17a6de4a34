//! The "working the customers" pages through the real session layer, over HTTP on both
//! backends: every form a page shows posts with the CSRF token the layer wrote into it (no
//! header), the role gates answer 403 before any handler runs, and a rep's view holds only
//! their own customers.

mod common;

use common::web::{held_order, user, Server};
use hyper::StatusCode;
use patron_domain::{CustomerInput, Money};
use patron_store::{backend_tests, Role, Store};

backend_tests!(work_forms_over_http);

async fn work_forms_over_http(store: Store) {
    let ann = user(&store, "ann", Role::Rep).await;
    let bob = user(&store, "bob", Role::Rep).await;
    user(&store, "max", Role::Manager).await;
    user(&store, "ana", Role::Analyst).await;
    let mut ids = Vec::new();
    for (name, owner) in [("Ann's Acme", ann), ("Bob's Borealis", bob)] {
        ids.push(
            store
                .create_customer(
                    CustomerInput {
                        name: name.into(),
                        owner_id: Some(owner),
                        credit_limit: Some(Money(10_000)),
                        ..Default::default()
                    },
                    "test",
                )
                .await
                .unwrap()
                .id,
        );
    }
    let acme = ids[0];
    let hold = held_order(&store, acme, "system").await;

    let server = Server::start(&store).await;
    let http = &server.http;
    let ann_s = http.login("ann", "ann-password-1", "/work").await;
    let max_s = http.login("max", "max-password-1", "/work").await;
    let ana_s = http.login("ana", "ana-password-1", "/work").await;

    // Role gates of the session layer.
    for (cookie, path, want) in [
        (&ann_s, "/work", StatusCode::SEE_OTHER),
        (&ann_s, "/work/followup", StatusCode::OK),
        (&ann_s, "/work/review", StatusCode::FORBIDDEN),
        (&ann_s, "/work/campaigns", StatusCode::FORBIDDEN),
        (&ana_s, "/work/followup", StatusCode::FORBIDDEN),
        (&ana_s, "/work/campaigns", StatusCode::OK),
        (&max_s, "/work/review", StatusCode::OK),
    ] {
        let r = http.send("GET", path, cookie, None).await;
        assert_eq!(r.status, want, "{path}");
    }
    let r = http
        .send(
            "POST",
            &format!("/work/receivables/holds/{hold}/approve"),
            &ann_s,
            Some(&[]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Ann's receivables page: her customer, not Bob's; a payment form posted with its token
    // (nothing is owed yet: the amount is refused next to its field, a 4xx).
    let page = http.send("GET", "/work/receivables", &ann_s, None).await;
    assert!(!page.body.contains("Bob's Borealis"));
    let r = http
        .post_form(
            &ann_s,
            "/work/receivables",
            "/work/receivables/payment",
            &[
                ("customer", &format!("#{acme}")),
                ("amount", "10.00"),
                ("paid_on", "2024-06-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-p-amount\""));

    // The manager approves the held order through the queue's form.
    let r = http
        .post_form(
            &max_s,
            "/work/receivables",
            &format!("/work/receivables/holds/{hold}/approve"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(store.credit_hold(hold).await.unwrap().status, "approved");
    // Now Ann records a payment.
    let r = http
        .post_form(
            &ann_s,
            "/work/receivables",
            "/work/receivables/payment",
            &[
                ("customer", &format!("#{acme}")),
                ("amount", "50.00"),
                ("paid_on", "2024-06-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Service: Ann opens a ticket; the manager sweeps.
    let r = http
        .post_form(
            &ann_s,
            "/work/service",
            "/work/service/tickets",
            &[
                ("customer", &format!("#{acme}")),
                ("kind", "complaint"),
                ("priority", "high"),
                ("subject", "Scratched"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = http
        .post_form(&max_s, "/work/service", "/work/service/escalate", &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().starts_with("/work/service?swept="));

    // Follow-up cadence (manager) and a new opportunity (Ann).
    let r = http
        .post_form(
            &max_s,
            "/work/followup",
            "/work/followup/cadence",
            &[("A", "6"), ("B", "25"), ("C", "80")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(store.followup_cadence().await.unwrap()[0].1, 6);
    let r = http
        .post_form(
            &ann_s,
            "/work/pipeline",
            "/work/pipeline",
            &[
                ("customer", &format!("#{acme}")),
                ("name", "Renewal"),
                ("amount", "300"),
                ("expected_close", "2030-01-31"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // A POST without the token is refused by the session layer.
    let r = http
        .send(
            "POST",
            "/work/service/tickets",
            &ann_s,
            Some(&[("customer", "1"), ("kind", "question"), ("subject", "x")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    server.stop().await;
}
