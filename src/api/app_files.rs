//! The household app's files, embedded in the binary as `app/build.mjs`
//! wrote them (`app/dist/embedded.rs`): each text file compressed twice
//! (brotli, gzip), served in the best encoding the browser accepts, with a
//! strong ETag; hashed assets cached for a year, the shell and the service
//! worker revalidated every time. Any path that is not a file is one of the
//! app's own routes (`/invite`, `/devices/…`) and gets the shell.
//!
//! It owns no state and never reads the disk: the bytes sit in the binary's
//! read-only data, paged in only when served. It never answers an API path
//! (the router sends those to the JSON 404 first).

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file. A compressible file has `gzip` and `br` and no `raw`
/// (a client that takes neither gets the gzip inflated); an already
/// compressed one (an icon) has only `raw`.
pub struct AppFile {
    pub path: &'static str,
    pub content_type: &'static str,
    /// A strong validator of the file's content (quoted, as sent).
    pub etag: &'static str,
    /// Named by its content's hash: cached for a year.
    pub immutable: bool,
    pub raw: Option<&'static [u8]>,
    pub gzip: Option<&'static [u8]>,
    pub br: Option<&'static [u8]>,
}

mod embedded {
    use super::AppFile;
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/app/dist/embedded.rs"));
}

pub use embedded::FILES;

/// The app's shell: every route of the app loads it.
const SHELL: &str = "/index.html";

fn find(path: &str) -> Option<&'static AppFile> {
    FILES.iter().find(|f| f.path == path)
}

/// Answers a GET or HEAD for `path` outside the API.
pub fn serve(method: &Method, path: &str, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "the household app's files are only read\n",
        )
            .into_response();
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    let file = match find(path) {
        Some(file) => file,
        None if path == "/" || !last.contains('.') => match find(SHELL) {
            Some(shell) => shell,
            None => return (StatusCode::NOT_FOUND, "no app in this build\n").into_response(),
        },
        None => {
            return (StatusCode::NOT_FOUND, "no such file in the household app\n").into_response();
        }
    };
    answer(file, method == Method::HEAD, headers)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The best encoding `accept-encoding` allows: a coding named with `q=0`
/// is refused even when `*` would take it (RFC 9110 §12.5.3).
fn negotiate(headers: &HeaderMap) -> Encoding {
    // (coding, acceptable) for every listed coding.
    let listed: Vec<(String, bool)> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding, !refused)
        })
        .collect();
    let accepted = |name: &str| {
        let named = listed.iter().find(|(coding, _)| coding == name);
        let any = listed.iter().find(|(coding, _)| coding == "*");
        named.or(any).is_some_and(|(_, ok)| *ok)
    };
    if accepted("br") {
        Encoding::Brotli
    } else if accepted("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn answer(file: &'static AppFile, head: bool, headers: &HeaderMap) -> Response {
    let wanted = negotiate(headers);
    let (encoding, bytes): (Encoding, std::borrow::Cow<'static, [u8]>) = match (wanted, file) {
        (_, AppFile { raw: Some(raw), .. }) => (Encoding::Identity, (*raw).into()),
        (Encoding::Brotli, AppFile { br: Some(br), .. }) => (Encoding::Brotli, (*br).into()),
        (Encoding::Brotli | Encoding::Gzip, AppFile { gzip: Some(gz), .. }) => {
            (Encoding::Gzip, (*gz).into())
        }
        (_, AppFile { gzip: Some(gz), .. }) => (Encoding::Identity, inflate(gz).into()),
        _ => return (StatusCode::NOT_FOUND, "an empty app file\n").into_response(),
    };
    // Each encoding is its own representation, so its own strong tag.
    let etag = match encoding {
        Encoding::Brotli => file.etag.replacen('"', "\"br-", 1),
        Encoding::Gzip => file.etag.replacen('"', "\"gz-", 1),
        Encoding::Identity => file.etag.to_owned(),
    };
    let cache = if file.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if matches_etag(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let length = bytes.len();
        let mut response = if head {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from(bytes))
        };
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(file.content_type),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        match encoding {
            Encoding::Brotli => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
            }
            Encoding::Gzip => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Encoding::Identity => {}
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(value) = HeaderValue::try_from(etag) {
        h.insert(header::ETAG, value);
    }
    response
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// A gzip file written by the app's build: inflating it cannot fail.
fn inflate(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .expect("the app's build wrote valid gzip");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn the_best_accepted_encoding_is_chosen_and_q0_refuses() {
        assert_eq!(
            negotiate(&accept("gzip, deflate, br, zstd")),
            Encoding::Brotli
        );
        assert_eq!(negotiate(&accept("gzip")), Encoding::Gzip);
        assert_eq!(negotiate(&accept("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(negotiate(&accept("identity")), Encoding::Identity);
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(
            negotiate(&accept("br;q=0, *")),
            Encoding::Gzip,
            "named beats *"
        );
        assert_eq!(negotiate(&accept("*")), Encoding::Brotli);
    }

    #[test]
    fn every_embedded_text_file_inflates_and_the_shell_is_not_cached() {
        let shell = find(SHELL).expect("the build embeds the shell");
        assert!(!shell.immutable);
        for file in FILES {
            if let Some(gz) = file.gzip {
                assert!(!inflate(gz).is_empty(), "{}", file.path);
                assert!(file.br.is_some(), "{} has gzip but no brotli", file.path);
            } else {
                assert!(file.raw.is_some(), "{} has no body", file.path);
            }
        }
    }

    #[test]
    fn app_routes_get_the_shell_and_missing_files_a_404() {
        let get = Method::GET;
        let none = HeaderMap::new();
        for route in ["/", "/invite", "/devices/abc"] {
            let r = serve(&get, route, &none);
            assert_eq!(r.status(), StatusCode::OK, "{route}");
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        }
        assert_eq!(
            serve(&get, "/nope.js", &none).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            serve(&Method::POST, "/", &none).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn a_matching_etag_is_answered_not_modified() {
        let r = serve(&Method::GET, "/", &accept("br"));
        let etag = r.headers()[header::ETAG].clone();
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "br");
        let mut again = accept("br");
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            serve(&Method::GET, "/", &again).status(),
            StatusCode::NOT_MODIFIED
        );
        let gz_tag = serve(&Method::GET, "/", &accept("gzip")).headers()[header::ETAG].clone();
        assert_ne!(
            gz_tag,
            r.headers()[header::ETAG],
            "each encoding has its own tag"
        );
    }
}
