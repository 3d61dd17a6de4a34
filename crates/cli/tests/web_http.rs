//! Sign-in, session cookie flags, CSRF and login rate limiting over real HTTP: the server bound
//! to 127.0.0.1:0 and driven by hyper's client, on both backends.

mod common;

use common::web::{cookie_value, Server};
use hyper::StatusCode;
use patron_domain::CustomerInput;
use patron_store::{backend_tests, NewUser, Role, Store};

backend_tests!(signin_cookies_csrf_and_rate_limit);

async fn signin_cookies_csrf_and_rate_limit(store: Store) {
    store
        .create_user(&NewUser {
            username: "ann".into(),
            role: Some(Role::Rep),
            password: Some("ann-password-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ann = store.user_by_name("ann").await.unwrap();
    let other = store
        .create_user(&NewUser {
            username: "other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mine = store
        .create_customer(
            CustomerInput {
                name: "Ann's customer".into(),
                owner_id: Some(ann.id),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap();
    let theirs = store
        .create_customer(
            CustomerInput {
                name: "Someone else's".into(),
                owner_id: Some(other.id),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap();
    let server = Server::start(&store).await;
    let http = &server.http;

    // Without a session: pages redirect to the login, forms are refused, the API is 401.
    let r = http.send_with("GET", "/customers", &[], None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location().starts_with("/login?next=%2Fcustomers"),
        "{}",
        r.location()
    );
    assert_eq!(
        http.send_with("POST", "/lang", &[], Some(&[("lang", "zh")]))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        http.send_with("GET", "/api/customers", &[], None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // The login form's own token must come with its cookie.
    let page = http.send_with("GET", "/login", &[], None).await;
    let login_cookie = page.cookie("patron_login").unwrap();
    assert!(
        login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"),
        "{login_cookie}"
    );
    let r = http
        .send_with(
            "POST",
            "/login",
            &[],
            Some(&[
                ("csrf", &page.csrf()),
                ("username", "ann"),
                ("password", "ann-password-1"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no login cookie, no login");

    // Sign in: an HttpOnly, SameSite=Lax session cookie, not Secure over plain http...
    let r = http
        .login_answer("ann", "ann-password-1", "/customers", &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/customers");
    let set = r.cookie("patron_session").expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    // ...and Secure behind an https proxy.
    let r2 = http
        .login_answer(
            "ann",
            "ann-password-1",
            "/customers",
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert!(r2.cookie("patron_session").unwrap().contains("; Secure"));
    let session = cookie_value(&set);
    let auth = [("cookie", session.as_str())];

    // Pages: own customer yes, another user's is 404; every POST form carries the token.
    let list = http.send_with("GET", "/customers", &auth, None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Ann&#39;s customer") || list.body.contains("Ann's customer"));
    assert!(!list.body.contains("Someone else"));
    let card = http
        .send_with("GET", &format!("/customers/{}", mine.id), &auth, None)
        .await;
    assert_eq!(card.status, StatusCode::OK);
    let csrf = card.csrf();
    assert!(
        card.body
            .matches(&format!("name=\"csrf\" value=\"{csrf}\""))
            .count()
            >= 3,
        "card form, language switch, sign out"
    );
    assert_eq!(
        http.send_with("GET", &format!("/customers/{}", theirs.id), &auth, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // CSRF: the same form without the token, or with another, is refused; with it, it saves.
    let form = |token: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("csrf", token),
            ("version", "1"),
            ("name", "Ann's customer"),
            ("region", "North"),
            ("status", "lead"),
            ("loyalty", "none"),
        ]
    };
    let path = format!("/customers/{}", mine.id);
    let r = http
        .send_with("POST", &path, &auth, Some(&form("")[1..]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = http
        .send_with("POST", &path, &auth, Some(&form("wrong")))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let good: &'static str = Box::leak(csrf.clone().into_boxed_str());
    let r = http
        .send_with("POST", &path, &auth, Some(&form(good)))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        store
            .customer(mine.id)
            .await
            .unwrap()
            .data
            .region
            .as_deref(),
        Some("North")
    );
    assert_eq!(
        http.send_with("POST", "/lang", &auth, Some(&[("lang", "zh")]))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        http.send_with(
            "POST",
            "/lang",
            &auth,
            Some(&[("lang", "zh"), ("csrf", good)])
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    // A token in a header works too (scripts), another user's card still does not.
    let hdr = [("cookie", session.as_str()), ("x-csrf-token", good)];
    let r = http
        .send_with(
            "POST",
            &format!("/customers/{}", theirs.id),
            &hdr,
            Some(&form(good)[1..]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Audit: the login, the card view and the change were recorded.
    let rows = store
        .audit_log(&patron_store::AuditFilter {
            actor: Some("ann".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = rows.iter().rev().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["login", "login", "list", "view", "update"],
        "{rows:?}"
    );
    assert_eq!(rows[0].ip.as_deref(), Some("127.0.0.1"));

    // Sign out: the session is gone.
    let r = http
        .send_with("POST", "/logout", &auth, Some(&[("csrf", good)]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.cookie("patron_session").unwrap().contains("Max-Age=0"));
    assert_eq!(
        http.send_with("GET", "/customers", &auth, None)
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // Rate limiting: 5 failed logins a minute, then 429 with Retry-After (even with the right
    // password), and each failure is audited.
    for _ in 0..5 {
        let r = http
            .login_answer("ann", "wrong-password", "/customers", &[])
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = http
        .login_answer("ann", "ann-password-1", "/customers", &[])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    // Per address too: another name from the same address is held back.
    let r = http
        .login_answer("bob", "whatever-pass", "/customers", &[])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let failed = store
        .audit_log(&patron_store::AuditFilter {
            action: Some("login_failed".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 5);

    server.stop().await;
}
