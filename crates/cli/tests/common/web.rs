//! The web pages over real HTTP, for the integration tests: `patron serve`'s composition bound to
//! 127.0.0.1:0 ([`Server::start`]) and driven by hyper's client ([`Http`]) through the real
//! session layer: the login form with its cookie and token, the session cookie, and the CSRF
//! token each form carries.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use patron_domain::{Money, OrderInput, OrderLineInput};
use patron_store::{DataScope, NewUser, OnExcess, OrderPlacement, OrderTerms, Role, Store};

/// The server on a loopback port, until [`Server::stop`].
pub struct Server {
    pub http: Http,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves `store` as `patron serve` does, on a free loopback port.
    pub async fn start(store: &Store) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(super::serve_on(listener, store.clone(), async {
            stopped.await.ok();
        }));
        let http = Http {
            base: format!("http://{addr}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        Server { http, stop, task }
    }

    /// Shuts the server down; it must end cleanly.
    pub async fn stop(self) {
        self.stop.send(()).ok();
        self.task.await.unwrap().unwrap();
    }
}

/// A client of one server.
pub struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A response, its body read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The whole `set-cookie` header of the cookie `name`, if the response sets it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let i = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.body[i..i + self.body[i..].find('"').unwrap()].to_string()
    }

    /// The hidden `csrf` field of the form whose opening tag contains `action`.
    pub fn csrf_of(&self, action: &str) -> String {
        let at = self
            .body
            .find(&format!("action=\"{action}\""))
            .unwrap_or_else(|| panic!("a form posting to {action}: {}", self.body));
        let rest = &self.body[at..];
        let i = rest.find("name=\"csrf\" value=\"").expect("its csrf field") + 19;
        rest[i..i + rest[i..].find('"').unwrap()].to_string()
    }

    /// The HTML of the section with this id (up to its end).
    pub fn section(&self, id: &str) -> &str {
        let at = self
            .body
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("a section #{id}"));
        let rest = &self.body[at..];
        &rest[..rest.find("</section>").unwrap_or(rest.len())]
    }

    /// The unread count the header shows (none when the badge is hidden).
    pub fn unread_badge(&self) -> Option<String> {
        let at = self.body.find("id=\"unread\"")?;
        let rest = &self.body[at..];
        let text = &rest[rest.find('>').unwrap() + 1..];
        Some(text[..text.find('<').unwrap()].to_string())
    }
}

/// The `name=value` part of a `set-cookie` header, as a `cookie` header sends it back.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

impl Http {
    /// A client of the server at `base` (`http://host:port`), e.g. a `patron serve` process.
    pub fn at(base: &str) -> Http {
        Http {
            base: base.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request with these headers and this raw body (e.g. a multipart upload).
    pub async fn send_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
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

    /// Sends a request with these headers, and `form` (if any) as its urlencoded body.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            b = b.header(*k, *v);
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

    /// Sends a request with the session `cookie` (none when empty).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        let headers: &[(&str, &str)] = if cookie.is_empty() {
            &[]
        } else {
            &[("cookie", cookie)]
        };
        self.send_with(method, path, headers, form).await
    }

    /// GETs `path`, which must answer 200.
    pub async fn get(&self, path: &str, cookie: &str) -> Answer {
        let a = self.send("GET", path, cookie, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        a
    }

    /// Opens the login page (with the `extra` headers) and signs in, with the login cookie and
    /// token the page gave and these `extra` headers; answers the login POST's answer.
    pub async fn login_answer(
        &self,
        user: &str,
        password: &str,
        next: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        let page = self.send_with("GET", "/login", extra, None).await;
        assert_eq!(page.status, StatusCode::OK);
        let login_cookie = cookie_value(&page.cookie("patron_login").expect("login cookie"));
        let mut headers = vec![("cookie", login_cookie.as_str())];
        headers.extend_from_slice(extra);
        self.send_with(
            "POST",
            "/login",
            &headers,
            Some(&[
                ("csrf", &page.csrf_of("/login")),
                ("username", user),
                ("password", password),
                ("next", next),
            ]),
        )
        .await
    }

    /// Signs in through the login form (on to `next`); answers the session cookie.
    pub async fn login(&self, user: &str, password: &str, next: &str) -> String {
        let r = self.login_answer(user, password, next, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        cookie_value(&r.cookie("patron_session").expect("session cookie"))
    }

    /// Opens `page`, then posts `form` to `action` with the token written into that form.
    pub async fn post_form(
        &self,
        cookie: &str,
        page: &str,
        action: &str,
        form: &[(&str, &str)],
    ) -> Answer {
        let p = self.get(page, cookie).await;
        let token = p.csrf_of(action);
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend_from_slice(form);
        self.send("POST", action, cookie, Some(&fields)).await
    }
}

/// A user who signs in with the password `{name}-password-1`; a manager sees all customers.
pub async fn user(store: &Store, name: &str, role: Role) -> i64 {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            scope: (role == Role::Manager).then_some(DataScope::All),
            password: Some(format!("{name}-password-1")),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

/// Places order `BIG` of 200.00 for `customer` as `by`, over a credit limit of 100.00: the
/// order is held; answers the hold's id.
pub async fn held_order(store: &Store, customer: i64, by: &str) -> i64 {
    let placed = store
        .place_order(
            customer,
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
                by: by.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    match placed {
        OrderPlacement::Held { hold } => hold.id,
        other => panic!("expected a hold, got {other:?}"),
    }
}
