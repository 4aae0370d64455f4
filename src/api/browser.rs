//! What makes the API safe to use from a browser: the session cookie
//! (`HttpOnly; SameSite=Strict`, `Secure` and `__Host-` whenever the API
//! is served over TLS), the same-origin check a cookie-carried request must
//! pass before it may change anything, and the security headers every
//! answer carries (a strict Content-Security-Policy with no inline script,
//! `nosniff`, no referrer, no framing).
//!
//! It owns no session: the cookie holds the same token a bearer client
//! gets, checked, throttled, listed and revoked by the accounts layer. It
//! never lets a cookie stand in for a bearer token on a cross-origin
//! request.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

/// The cookie's name over TLS: the `__Host-` prefix makes the browser
/// refuse it unless it is `Secure`, for this host only, on path `/`.
pub const SECURE_COOKIE: &str = "__Host-hearth_session";
/// Over plain HTTP (`api.tls = false`) a `Secure` cookie would not be
/// kept, so the cookie goes without it and without the prefix.
pub const PLAIN_COOKIE: &str = "hearth_session";

/// No script but the app's own files, no inline script or style, nothing
/// fetched from elsewhere, never inside a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; \
     manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// `Set-Cookie` for a new session that lasts `max_age_secs`.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let value = if secure {
        format!(
            "{SECURE_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
            max_age_secs.max(0)
        )
    } else {
        format!(
            "{PLAIN_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict",
            max_age_secs.max(0)
        )
    };
    // A session token is URL-safe base64 or hex: always a valid header value.
    HeaderValue::try_from(value).expect("a session token is a valid header value")
}

/// `Set-Cookie` that makes the browser forget the session cookie.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    HeaderValue::from_static(if secure {
        "__Host-hearth_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
    } else {
        "hearth_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    })
}

/// The session token a request's cookie carries, if any. Over TLS only
/// the `__Host-` cookie counts: a plain-HTTP page on the same host name can
/// set `hearth_session` (cookies ignore scheme and port), and must not be
/// able to log a person in as someone else or lock them out.
pub fn cookie_token(headers: &HeaderMap, secure: bool) -> Option<&str> {
    cookie(headers, if secure { SECURE_COOKIE } else { PLAIN_COOKIE })
}

/// The value of the cookie `wanted` a request carries, if any and not empty.
pub fn cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether a cookie-carried request may act: reads always may (SameSite
/// keeps the cookie off cross-site navigations anyway) except a WebSocket
/// upgrade; anything else must come from the app's own origin, as the
/// browser says it in `Sec-Fetch-Site` or, from older browsers, `Origin`.
/// A request that says neither is refused: every browser that sends
/// cookies sends one of them on a state-changing request. `authority` is
/// the request's own (HTTP/2 has `:authority` and no `Host`).
pub fn same_origin_or_safe(method: &Method, headers: &HeaderMap, authority: Option<&str>) -> bool {
    let upgrade = headers.contains_key(header::UPGRADE);
    if (method == Method::GET || method == Method::HEAD) && !upgrade {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(authority);
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), host) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// Adds the security headers to every answer (API, app files, refusals).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_cookie_is_found_among_others_and_an_empty_one_is_none() {
        let h = headers(&[("cookie", "a=1; __Host-hearth_session=tok; b=2")]);
        assert_eq!(cookie_token(&h, true), Some("tok"));
        let h = headers(&[("cookie", "x=1"), ("cookie", "hearth_session=plain")]);
        assert_eq!(cookie_token(&h, false), Some("plain"));
        let h = headers(&[("cookie", "__Host-hearth_session=")]);
        assert_eq!(cookie_token(&h, true), None);
        let h = headers(&[("cookie", "not_hearth_session=tok")]);
        assert_eq!(cookie_token(&h, false), None);
    }

    #[test]
    fn over_tls_a_plain_cookie_planted_by_an_http_page_is_ignored() {
        let h = headers(&[(
            "cookie",
            "hearth_session=attacker; __Host-hearth_session=mine",
        )]);
        assert_eq!(cookie_token(&h, true), Some("mine"));
        let h = headers(&[("cookie", "hearth_session=attacker")]);
        assert_eq!(cookie_token(&h, true), None);
    }

    #[test]
    fn only_same_origin_requests_may_change_anything() {
        let post = Method::POST;
        let same = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(same_origin_or_safe(&post, &same, None));
        let cross = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://hub:8443"),
            ("host", "hub:8443"),
        ]);
        assert!(
            !same_origin_or_safe(&post, &cross, None),
            "Sec-Fetch-Site wins over a forged-looking Origin"
        );
        let old = headers(&[
            ("origin", "https://hub.local:8443"),
            ("host", "hub.local:8443"),
        ]);
        assert!(same_origin_or_safe(&post, &old, None));
        let other = headers(&[("origin", "https://evil.test"), ("host", "hub.local:8443")]);
        assert!(!same_origin_or_safe(&post, &other, None));
        // HTTP/2: no Host header, the authority is the request's.
        let h2 = headers(&[("origin", "https://hub.local:8443")]);
        assert!(same_origin_or_safe(&post, &h2, Some("hub.local:8443")));
        assert!(!same_origin_or_safe(&post, &h2, Some("other.local:8443")));
        assert!(
            !same_origin_or_safe(&post, &HeaderMap::new(), None),
            "saying nothing is refused"
        );
        assert!(same_origin_or_safe(&Method::GET, &HeaderMap::new(), None));
        let upgrade = headers(&[
            ("upgrade", "websocket"),
            ("origin", "https://evil.test"),
            ("host", "hub"),
        ]);
        assert!(
            !same_origin_or_safe(&Method::GET, &upgrade, None),
            "a cross-site WebSocket is refused"
        );
    }

    #[test]
    fn the_secure_cookie_is_http_only_strict_and_host_bound() {
        let v = session_cookie("tok", 60, true);
        let v = v.to_str().unwrap();
        assert!(v.starts_with("__Host-hearth_session=tok;"));
        for part in [
            "Path=/",
            "Max-Age=60",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
        ] {
            assert!(v.contains(part), "{v} lacks {part}");
        }
        let plain = session_cookie("tok", 60, false);
        assert!(!plain.to_str().unwrap().contains("Secure"));
    }
}
