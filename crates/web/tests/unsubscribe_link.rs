//! The one-click unsubscribe of campaign mail (`/u/{token}`) through the whole web app, with no
//! session and no CSRF token, on both backends: GET shows a confirm button, POST (what a mail
//! client sends, RFC 8058) opts the token's customer out and nobody else; a forged or damaged
//! token is a 404 that changes nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use patron_domain::CustomerInput;
use patron_store::{backend_tests, Store};
use tower::ServiceExt;

backend_tests!(
    the_one_click_link_opts_out_its_customer_only,
    the_campaigns_page_shows_the_outbox_to_managers_only
);

async fn call(store: &Store, method: &str, uri: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(if method == "POST" {
            "List-Unsubscribe=One-Click"
        } else {
            ""
        }))
        .unwrap();
    let resp = patron_web::app(store.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn customer(store: &Store, name: &str) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                email: Some(format!("{}@example.com", name.to_lowercase())),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id
}

async fn opted_out(store: &Store, id: i64) -> bool {
    store.customer(id).await.unwrap().data.marketing_opt_out
}

async fn the_one_click_link_opts_out_its_customer_only(store: Store) {
    let ann = customer(&store, "Ann").await;
    let bob = customer(&store, "Bob").await;
    let token = patron_app::mail::unsubscribe_token(&store, bob)
        .await
        .unwrap();

    let (status, page) = call(&store, "GET", &format!("/u/{token}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("action=\"/u/{token}\"")), "{page}");
    assert!(!opted_out(&store, bob).await, "a GET changes nothing");

    // Bob's signature on Ann's id, and a damaged signature: refused, nothing changed.
    let (_, sig) = token.split_once('-').unwrap();
    for bad in [
        format!("{ann}-{sig}"),
        format!("{bob}-{}", "0".repeat(64)),
        "x".into(),
    ] {
        let (status, _) = call(&store, "POST", &format!("/u/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    assert!(!opted_out(&store, ann).await && !opted_out(&store, bob).await);

    let (status, page) = call(&store, "POST", &format!("/u/{token}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("unsubscribed"), "{page}");
    assert!(opted_out(&store, bob).await);
    assert!(!opted_out(&store, ann).await);
    let (status, page) = call(&store, "POST", &format!("/u/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("already"), "{page}");
}

/// The campaigns page shows admins and managers the outbox (with the reason of a failure) and
/// that mail is not configured in this process; analysts do not see recipients.
async fn the_campaigns_page_shows_the_outbox_to_managers_only(store: Store) {
    let mail = |key: &str, to: &str| patron_store::NewMail {
        message_key: key.into(),
        customer_id: None,
        recipient: to.into(),
        kind: "test".into(),
        subject: "Hello".into(),
        body_text: "Hi".into(),
        body_html: None,
        headers: Default::default(),
    };
    store
        .enqueue_mail(
            &[mail("a", "ann@example.com"), mail("b", "bob@example.com")],
            "t",
        )
        .await
        .unwrap();
    let claimed = store.claim_due_mail(1).await.unwrap();
    store
        .mark_mail_failed(claimed[0].id, "550 5.1.1 mailbox unavailable", true)
        .await
        .unwrap();
    let page = |session: patron_app::Session| {
        let store = store.clone();
        async move {
            let app = patron_web::router(store).layer(axum::Extension(session));
            let resp = app
                .oneshot(Request::get("/work/campaigns").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8_lossy(&body).into_owned()
        }
    };
    let admin = page(patron_app::Session::unrestricted("boss")).await;
    assert!(admin.contains("id=\"outbox\""), "{admin}");
    assert!(admin.contains("id=\"mail-off\""), "{admin}");
    assert!(
        admin.contains("1 queued, 0 sending, 0 sent, 1 failed"),
        "{admin}"
    );
    assert!(admin.contains("550 5.1.1 mailbox unavailable"), "{admin}");
    assert!(admin.contains("ann@example.com"), "{admin}");
    let mut analyst = patron_app::Session::unrestricted("numbers");
    analyst.user.role = patron_store::Role::Analyst;
    let seen = page(analyst).await;
    assert!(
        !seen.contains("id=\"outbox\"") && !seen.contains("ann@example.com"),
        "{seen}"
    );
}
