//! The household app as the hub serves it, and the browser's session, in
//! process (`Router::oneshot`, milliseconds): the shell and hashed assets
//! compressed with ETags and the right caching; app routes get the shell
//! and API paths a JSON 404; a browser login sets an `HttpOnly`,
//! `SameSite=Strict` cookie and answers no token; a cookie-carried request
//! that changes something is refused unless it comes from the app's own
//! origin, while bearer tokens work as before; every answer carries the
//! security headers.

use serde_json::json;

use crate::in_process::{InProcess, LAN_PEER};

const PASSWORD: &str = "correct horse battery";

fn header<'a>(answer: &'a crate::in_process::Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_app_is_served_compressed_with_etags_and_app_routes_get_the_shell() {
    let hub = InProcess::open().await;
    let shell = hub
        .request_with(
            "GET",
            "/",
            LAN_PEER,
            &[("accept-encoding", "gzip, br")],
            None,
        )
        .await;
    assert_eq!(shell.status, 200);
    assert_eq!(header(&shell, "content-encoding"), "br");
    assert_eq!(header(&shell, "cache-control"), "no-cache");
    assert!(header(&shell, "content-type").starts_with("text/html"));
    let etag = header(&shell, "etag").to_owned();
    assert!(etag.starts_with('"'), "{etag}");

    // The shell names the hashed script, which is cached for a year.
    let plain = hub
        .request_with("GET", "/devices/some-id", LAN_PEER, &[], None)
        .await;
    assert_eq!(plain.status, 200, "an app route gets the shell");
    assert_eq!(
        header(&plain, "content-encoding"),
        "",
        "identity when nothing is accepted"
    );
    let html = String::from_utf8(plain.bytes.clone()).unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the shell loads a script");
    assert!(
        script.starts_with("/assets/app-") && script.ends_with(".js"),
        "{script}"
    );
    let js = hub
        .request_with(
            "GET",
            script,
            LAN_PEER,
            &[("accept-encoding", "gzip")],
            None,
        )
        .await;
    assert_eq!(js.status, 200);
    assert_eq!(header(&js, "content-encoding"), "gzip");
    assert_eq!(
        header(&js, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&js, "vary"), "Accept-Encoding");

    let again = hub
        .request_with(
            "GET",
            "/",
            LAN_PEER,
            &[("accept-encoding", "br"), ("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());

    let api = hub
        .request("GET", "/api/v1/nothing-here", LAN_PEER, None, None)
        .await;
    assert_eq!(api.status, 404);
    assert_eq!(
        api.body["code"], "not_found",
        "API paths answer JSON, never the shell"
    );
    let missing = hub
        .request("GET", "/assets/gone-1234.js", LAN_PEER, None, None)
        .await;
    assert_eq!(missing.status, 404);

    // Installable: every icon the manifest and the shell name is a PNG of
    // the size it says (Android's install prompt, iOS's home screen).
    let manifest = hub
        .request_with("GET", "/manifest.webmanifest", LAN_PEER, &[], None)
        .await;
    assert_eq!(
        header(&manifest, "content-type"),
        "application/manifest+json"
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let mut icons: Vec<(String, u32)> = manifest["icons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "image/png")
        .map(|i| {
            let side = i["sizes"].as_str().unwrap().split('x').next().unwrap();
            (i["src"].as_str().unwrap().to_owned(), side.parse().unwrap())
        })
        .collect();
    assert!(icons.iter().any(|(_, side)| *side == 192), "{icons:?}");
    assert!(icons.iter().any(|(_, side)| *side == 512), "{icons:?}");
    assert!(html.contains("rel=\"apple-touch-icon\" href=\"/apple-touch-icon.png\""));
    icons.push(("/apple-touch-icon.png".into(), 180));
    for (src, side) in icons {
        let png = hub.request_with("GET", &src, LAN_PEER, &[], None).await;
        assert_eq!(png.status, 200, "{src}");
        assert_eq!(header(&png, "content-type"), "image/png", "{src}");
        assert_eq!(&png.bytes[..8], b"\x89PNG\r\n\x1a\n", "{src}");
        let width = u32::from_be_bytes(png.bytes[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png.bytes[20..24].try_into().unwrap());
        assert_eq!((width, height), (side, side), "{src}");
    }
    hub.close().await;
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let hub = InProcess::open().await;
    for uri in ["/", "/api/v1/health", "/api/v1/me", "/api/v1/nothing"] {
        let answer = hub.request("GET", uri, LAN_PEER, None, None).await;
        let csp = header(&answer, "content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert_eq!(
            header(&answer, "x-content-type-options"),
            "nosniff",
            "{uri}"
        );
        assert_eq!(header(&answer, "referrer-policy"), "no-referrer", "{uri}");
    }
    hub.close().await;
}

/// The session cookie of a browser login, as `name=value`.
fn cookie_of(answer: &crate::in_process::Answer) -> String {
    let set = header(answer, "set-cookie");
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_browser_session_is_an_http_only_cookie_refused_across_origins() {
    let hub = InProcess::open().await;
    let code = hub.setup_code();
    let setup = hub
        .request_with(
            "POST",
            "/api/v1/setup",
            LAN_PEER,
            &[("sec-fetch-site", "same-origin")],
            Some(json!({
                "code": code, "household": "Home", "email": "admin@example.org",
                "password": PASSWORD, "cookie": true,
            })),
        )
        .await;
    assert_eq!(setup.status, 201, "{}", setup.body);
    assert!(
        setup.body.get("token").is_none(),
        "no token for the page to keep: {}",
        setup.body
    );
    let set = header(&setup, "set-cookie").to_owned();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    assert!(set.starts_with("__Host-hearth_session="), "{set}");
    let cookie = cookie_of(&setup);

    let me = hub
        .request_with("GET", "/api/v1/me", LAN_PEER, &[("cookie", &cookie)], None)
        .await;
    assert_eq!(me.status, 200, "the cookie is a session: {}", me.body);

    // Over TLS only the __Host- cookie counts: a plain-HTTP page on the same
    // host name could plant `hearth_session`.
    let token = cookie.split_once('=').unwrap().1;
    let planted = format!("hearth_session={token}");
    let me = hub
        .request_with("GET", "/api/v1/me", LAN_PEER, &[("cookie", &planted)], None)
        .await;
    assert_eq!(me.status, 401, "{}", me.body);

    // Another origin (a page elsewhere on the LAN) posting with the cookie.
    for refused in [
        vec![("cookie", cookie.as_str()), ("sec-fetch-site", "same-site")],
        vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![("cookie", cookie.as_str()), ("origin", "https://evil.test")],
        vec![("cookie", cookie.as_str())],
    ] {
        let answer = hub
            .request_with("POST", "/api/v1/logout", LAN_PEER, &refused, None)
            .await;
        assert_eq!(answer.status, 403, "{refused:?}: {}", answer.body);
        assert_eq!(answer.body["code"], "cross_origin");
    }
    // Nor may another site's page open the live stream with it.
    let socket = hub
        .request_with(
            "GET",
            "/api/v1/stream",
            LAN_PEER,
            &[
                ("cookie", &cookie),
                ("sec-fetch-site", "cross-site"),
                ("connection", "upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-version", "13"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            None,
        )
        .await;
    assert_eq!(socket.status, 403, "{}", socket.body);
    assert_eq!(socket.body["code"], "cross_origin");
    let still = hub
        .request_with("GET", "/api/v1/me", LAN_PEER, &[("cookie", &cookie)], None)
        .await;
    assert_eq!(still.status, 200, "the refused logouts ended nothing");

    // A bearer client is not a browser: no origin to check.
    let login = hub
        .request(
            "POST",
            "/api/v1/login",
            LAN_PEER,
            None,
            Some(json!({ "email": "admin@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(login.status, 200);
    assert!(header(&login, "set-cookie").is_empty());
    let token = login.body["token"].as_str().unwrap();
    let (status, _) = hub.call("GET", "/me", Some(token), None).await;
    assert_eq!(status, 200);

    // The app itself logs out: same origin, and the cookie is cleared.
    let out = hub
        .request_with(
            "POST",
            "/api/v1/logout",
            LAN_PEER,
            &[("cookie", &cookie), ("origin", "https://hearth.local")],
            None,
        )
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert!(header(&out, "set-cookie").contains("Max-Age=0"));
    let gone = hub
        .request_with("GET", "/api/v1/me", LAN_PEER, &[("cookie", &cookie)], None)
        .await;
    assert_eq!(gone.status, 401);
    hub.close().await;
}
