//! The household app away from home: the cloud serves the same app, each
//! household's at `/tenants/<tenant id>/`, and one browser session across
//! every household the person logged into.
//!
//! A household's own API sets its session in a cookie named for a hub
//! (`__Host-hearth_session`, path `/`): on one cloud origin every
//! household's would be the same cookie. So the cloud keeps one cookie of
//! its own, `__Host-hearth_cloud` (`hearth_cloud` over plain HTTP), holding
//! the person's session in each household (the combined token of the
//! cross-household login), and translates at the door: a request to a
//! household's API carries only that household's session, as that
//! household's own cookie (so its same-origin checks apply unchanged, and
//! no household ever sees another's token); a session the household sets
//! or clears in its answer is folded into the cloud's cookie.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::api::browser;

/// The cloud's session cookie over TLS (`__Host-`: `Secure`, this host,
/// path `/`), and over plain HTTP.
pub const SECURE_COOKIE: &str = "__Host-hearth_cloud";
pub const PLAIN_COOKIE: &str = "hearth_cloud";
/// How long the browser keeps the cloud's cookie; each session inside
/// expires on its own household's terms.
pub const COOKIE_MAX_AGE_SECS: i64 = 30 * 24 * 3600;
/// A combined token: this prefix, then the hex of the JSON (tenant,
/// session) pairs. It holds nothing the client was not given.
const MULTI: &str = "multi.";
/// The most households one cookie holds (a cookie stays under 4 KiB).
pub const MAX_HOUSEHOLDS: usize = 16;

/// Each household's session: (tenant id, session token).
pub type Sessions = Vec<(String, String)>;

pub fn encode(sessions: &Sessions) -> String {
    format!(
        "{MULTI}{}",
        hex::encode(serde_json::to_vec(sessions).unwrap_or_default())
    )
}

/// The sessions of a combined token; `None` unless every tenant id is a
/// valid id and every session token a plain one (nothing that could
/// split the household's cookie it is sent as).
pub fn decode(value: &str) -> Option<Sessions> {
    let sessions: Sessions =
        serde_json::from_slice(&hex::decode(value.strip_prefix(MULTI)?).ok()?).ok()?;
    let plain = |token: &str| {
        (1..=128).contains(&token.len())
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (sessions.len() <= MAX_HOUSEHOLDS
        && sessions
            .iter()
            .all(|(tenant, token)| crate::sync::valid_id(tenant) && plain(token)))
    .then_some(sessions)
}

fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { PLAIN_COOKIE }
}

/// The sessions a request carries: a combined bearer token (a script) or
/// the cloud's cookie (a browser), and whether they came in the cookie.
pub fn sessions(headers: &HeaderMap, secure: bool) -> Option<(Sessions, bool)> {
    if let Some(token) = crate::api::auth::bearer(headers) {
        return decode(token).map(|s| (s, false));
    }
    decode(browser::cookie(headers, cookie_name(secure))?).map(|s| (s, true))
}

/// `Set-Cookie` for the cloud's cookie holding `sessions` (clearing it
/// when there are none).
pub fn set_cookie(sessions: &Sessions, secure: bool) -> HeaderValue {
    let name = cookie_name(secure);
    let (value, max_age) = if sessions.is_empty() {
        (String::new(), 0)
    } else {
        (encode(sessions), COOKIE_MAX_AGE_SECS)
    };
    let attributes = if secure {
        "Path=/; HttpOnly; Secure; SameSite=Strict"
    } else {
        "Path=/; HttpOnly; SameSite=Strict"
    };
    HeaderValue::try_from(format!("{name}={value}; Max-Age={max_age}; {attributes}"))
        .expect("hex and ASCII attributes are a valid header value")
}

/// Makes a request for `tenant`'s API carry only that household's session,
/// as its own cookie; any other cookie stays with the cloud.
pub fn into_household(headers: &mut HeaderMap, tenant: &str, secure: bool) {
    let own = browser::cookie(headers, cookie_name(secure))
        .and_then(decode)
        .and_then(|s| s.into_iter().find(|(t, _)| t == tenant))
        .map(|(_, token)| token);
    headers.remove(header::COOKIE);
    if let Some(token) = own {
        let name = if secure {
            browser::SECURE_COOKIE
        } else {
            browser::PLAIN_COOKIE
        };
        if let Ok(value) = HeaderValue::try_from(format!("{name}={token}")) {
            headers.insert(header::COOKIE, value);
        }
    }
}

/// Folds the session `tenant`'s answer set or cleared into the cloud's
/// cookie (the request's was `before`); an answer that set none is left
/// as it is.
pub fn from_household(answer: &mut HeaderMap, before: &HeaderMap, tenant: &str, secure: bool) {
    let household = if secure {
        browser::SECURE_COOKIE
    } else {
        browser::PLAIN_COOKIE
    };
    let set = answer
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.trim().split_once('=')?;
            let cleared = value.is_empty() || attributes.contains("Max-Age=0");
            (name == household).then(|| (!cleared).then(|| value.to_owned()))
        });
    let Some(session) = set else {
        return;
    };
    let mut sessions = browser::cookie(before, cookie_name(secure))
        .and_then(decode)
        .unwrap_or_default();
    sessions.retain(|(t, _)| t != tenant);
    if let Some(token) = session {
        sessions.insert(0, (tenant.to_owned(), token));
        sessions.truncate(MAX_HOUSEHOLDS);
    }
    answer.remove(header::SET_COOKIE);
    answer.insert(header::SET_COOKIE, set_cookie(&sessions, secure));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::try_from(value).unwrap());
        h
    }

    fn two() -> Sessions {
        vec![
            ("home".into(), "tok-home".into()),
            ("cottage".into(), "tok-cottage".into()),
        ]
    }

    #[test]
    fn a_combined_token_with_a_strange_tenant_or_session_is_refused() {
        assert_eq!(decode(&encode(&two())), Some(two()));
        let real = vec![("home".to_owned(), format!("hth_{}", "ab".repeat(32)))];
        assert_eq!(decode(&encode(&real)), Some(real));
        for odd in [
            vec![("../x".to_owned(), "tok".to_owned())],
            vec![("home".to_owned(), "tok; other=1".to_owned())],
            vec![("home".to_owned(), String::new())],
            vec![("home".to_owned(), "a".repeat(129))],
        ] {
            assert_eq!(decode(&encode(&odd)), None, "{odd:?}");
        }
        let many: Sessions = (0..=MAX_HOUSEHOLDS)
            .map(|i| (format!("t{i}"), "tok".to_owned()))
            .collect();
        assert_eq!(decode(&encode(&many)), None);
    }

    #[test]
    fn a_household_is_sent_only_its_own_session_as_its_own_cookie() {
        let mut h = with_cookie(&format!("other=1; {SECURE_COOKIE}={}; x=2", encode(&two())));
        into_household(&mut h, "cottage", true);
        assert_eq!(
            h.get_all(header::COOKIE).iter().collect::<Vec<_>>(),
            ["__Host-hearth_session=tok-cottage"]
        );
        let mut h = with_cookie(&format!("{SECURE_COOKIE}={}", encode(&two())));
        into_household(&mut h, "elsewhere", true);
        assert!(h.get(header::COOKIE).is_none(), "no session, no cookie");
        // Over TLS a plain-HTTP cookie (which any page on the host name can
        // set) does not count.
        let mut h = with_cookie(&format!("{PLAIN_COOKIE}={}", encode(&two())));
        into_household(&mut h, "home", true);
        assert!(h.get(header::COOKIE).is_none());
    }

    #[test]
    fn a_session_a_household_sets_or_clears_is_folded_into_the_clouds_cookie() {
        let before = with_cookie(&format!("{SECURE_COOKIE}={}", encode(&two())));
        let mut answer = HeaderMap::new();
        answer.insert(
            header::SET_COOKIE,
            browser::session_cookie("tok-new", 3600, true),
        );
        from_household(&mut answer, &before, "home", true);
        let set = answer.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        let (pair, attributes) = set.split_once(';').unwrap();
        let sessions = decode(pair.strip_prefix("__Host-hearth_cloud=").unwrap()).unwrap();
        assert_eq!(
            sessions,
            [
                ("home".to_owned(), "tok-new".to_owned()),
                ("cottage".to_owned(), "tok-cottage".to_owned())
            ]
        );
        assert!(attributes.contains("HttpOnly; Secure; SameSite=Strict"));

        let mut answer = HeaderMap::new();
        answer.insert(header::SET_COOKIE, browser::cleared_cookie(true));
        from_household(&mut answer, &before, "cottage", true);
        let set = answer.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        let pair = set.split_once(';').unwrap().0;
        assert_eq!(
            decode(pair.strip_prefix("__Host-hearth_cloud=").unwrap()).unwrap(),
            [("home".to_owned(), "tok-home".to_owned())]
        );
        assert_eq!(answer.get_all(header::SET_COOKIE).iter().count(), 1);

        // The last household logged out of: the cloud's cookie goes.
        let only = with_cookie(&format!(
            "{SECURE_COOKIE}={}",
            encode(&vec![("home".into(), "t".into())])
        ));
        let mut answer = HeaderMap::new();
        answer.insert(header::SET_COOKIE, browser::cleared_cookie(true));
        from_household(&mut answer, &only, "home", true);
        assert!(
            answer[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .starts_with("__Host-hearth_cloud=; Max-Age=0;")
        );
        // An answer that sets nothing keeps its headers.
        let mut answer = HeaderMap::new();
        from_household(&mut answer, &before, "home", true);
        assert!(answer.is_empty());
    }

    #[test]
    fn a_combined_token_is_read_from_a_bearer_or_the_cookie_and_garbage_is_not() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::try_from(format!("Bearer {}", encode(&two()))).unwrap(),
        );
        assert_eq!(sessions(&h, true), Some((two(), false)));
        let h = with_cookie(&format!("{SECURE_COOKIE}={}", encode(&two())));
        assert_eq!(sessions(&h, true), Some((two(), true)));
        for bad in ["multi.00", "multi.zz", "tok", ""] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        let many: Sessions = (0..=MAX_HOUSEHOLDS)
            .map(|i| (i.to_string(), "t".to_owned()))
            .collect();
        assert_eq!(decode(&encode(&many)), None);
    }
}
