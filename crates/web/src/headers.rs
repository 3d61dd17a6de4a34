//! Security headers for every answer of the served application, pages and JSON alike: the
//! binary puts [`security_headers`] over the composed routers.

/// The pages' Content-Security-Policy: scripts and styles from this site only (the pages have
/// no inline script; inline `style` attributes draw the bars), no framing, forms post here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Security headers on every answer, HTML and JSON alike; HSTS when the request came over
/// https (a reverse proxy's `X-Forwarded-Proto: https`) or `PATRON_SECURE_COOKIES=1`.
pub async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let https = crate::auth::secure(req.headers());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}
