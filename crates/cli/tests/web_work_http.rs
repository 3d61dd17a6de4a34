//! The "working the customers" pages through the real session layer, over HTTP on both
//! backends: every form a page shows posts with the CSRF token the layer wrote into it (no
//! header), the role gates answer 403 before any handler runs, and a rep's view holds only
//! their own customers.

mod common;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{backend_tests, NewUser, OnExcess, OrderTerms, Role, Store};

backend_tests!(work_forms_over_http);

struct Http {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The hidden `csrf` field of the form whose opening tag contains `action`.
    fn csrf_of(&self, action: &str) -> String {
        let at = self
            .body
            .find(&format!("action=\"{action}\""))
            .unwrap_or_else(|| panic!("a form posting to {action}"));
        let rest = &self.body[at..];
        let i = rest.find("name=\"csrf\" value=\"").expect("its csrf field") + 19;
        rest[i..i + rest[i..].find('"').unwrap()].to_string()
    }
}

impl Http {
    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if !cookie.is_empty() {
            b = b.header("cookie", cookie);
        }
        let body = match form {
            Some(f) => {
                b = b.header("content-type", "application/x-www-form-urlencoded");
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f)
                    .finish()
            }
            None => String::new(),
        };
        let resp = self
            .client
            .request(b.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Signs in through the login form; answers the session cookie.
    async fn login(&self, user: &str, password: &str) -> String {
        let page = self.send("GET", "/login", "", None).await;
        let login_cookie = page
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|c| c.starts_with("patron_login="))
            .expect("login cookie");
        let r = self
            .send(
                "POST",
                "/login",
                &login_cookie,
                Some(&[
                    ("csrf", &page.csrf_of("/login")),
                    ("username", user),
                    ("password", password),
                    ("next", "/work"),
                ]),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        r.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|c| c.starts_with("patron_session="))
            .expect("session cookie")
    }

    /// Opens `page`, then posts `form` to `action` with the token written into that form.
    async fn post_form(
        &self,
        cookie: &str,
        page: &str,
        action: &str,
        form: &[(&str, &str)],
    ) -> Answer {
        let p = self.send("GET", page, cookie, None).await;
        assert_eq!(p.status, StatusCode::OK, "{page}: {}", p.body);
        let token = p.csrf_of(action);
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend_from_slice(form);
        self.send("POST", action, cookie, Some(&fields)).await
    }
}

async fn user(store: &Store, name: &str, role: Role) -> i64 {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            scope: (role == Role::Manager).then_some(patron_store::DataScope::All),
            password: Some(format!("{name}-password-1")),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

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
    let held = store
        .place_order(
            acme,
            OrderInput {
                order_ref: Some("BIG".into()),
                ordered_on: "2024-05-01".parse().unwrap(),
                lines: vec![OrderLineInput {
                    category: None,
                    quantity: 1,
                    amount: Money(20_000),
                    cost: Money(0),
                }],
            },
            &OrderTerms {
                on_excess: OnExcess::Hold,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let hold = match held {
        patron_store::OrderPlacement::Held { hold } => hold.id,
        other => panic!("expected a hold, got {other:?}"),
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(common::serve_on(listener, store.clone(), async {
        stopped.await.ok();
    }));
    let http = Http {
        base: format!("http://{addr}"),
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    let ann_s = http.login("ann", "ann-password-1").await;
    let max_s = http.login("max", "max-password-1").await;
    let ana_s = http.login("ana", "ana-password-1").await;

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

    stop.send(()).ok();
    server.await.unwrap().unwrap();
}
