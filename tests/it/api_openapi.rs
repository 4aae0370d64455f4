//! The OpenAPI document matches the router: every documented operation is
//! served (never "no such route" nor 405), and on every documented path the
//! methods it does not document are refused with 405. (The router and the
//! document are built from one list; this checks the result over HTTPS.)

use crate::api;
use api::household;
use serde_json::json;

const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "PUT", "DELETE"];

#[test]
fn the_openapi_document_and_the_router_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    assert_eq!(h.api.get("/openapi.json", None).status, 401);
    let doc = h.api.get("/openapi.json", Some(&h.admin));
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());

    let mut checked = 0;
    let mut last = Vec::new();
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "nonexistent");
        for method in METHODS {
            let lower = method.to_ascii_lowercase();
            let Some(op) = ops.get(&lower) else {
                let reply = h.api.call(method, &concrete, Some(&h.admin), None);
                assert_eq!(
                    reply.status, 405,
                    "{method} {path} is not documented but served"
                );
                assert_eq!(
                    reply.body["code"], "method_not_allowed",
                    "{method} {path}: {}",
                    reply.body
                );
                assert!(
                    reply.headers.contains_key("allow"),
                    "{method} {path} says what it allows"
                );
                continue;
            };
            let public = op["security"] == json!([]);
            if path == "/logout" || path == "/me/password" {
                last.push((method, concrete.clone(), public));
                continue;
            }
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            let token = (!public).then_some(h.admin.as_str());
            let reply = h.api.call(method, &concrete, token, body);
            assert_ne!(reply.status, 405, "{method} {path}");
            assert!(
                !(reply.status == 404
                    && reply.body["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("no such route"))),
                "{method} {path} is documented but not routed"
            );
            if !public {
                let anonymous = h.api.call(method, &concrete, None, None);
                assert_eq!(
                    anonymous.status, 401,
                    "{method} {path} answers without a token"
                );
            }
            checked += 1;
        }
    }
    for (method, path, _) in last {
        let reply = h.api.call(method, &path, Some(&h.admin), Some(json!({})));
        assert_ne!(reply.status, 405, "{method} {path}");
        checked += 1;
    }
    assert!(checked >= 30, "{checked} operations checked");
    let unknown = h.api.get("/nope", Some(&h.admin));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["code"], "not_found");
}

#[test]
fn framework_refusals_answer_json_and_organizations_are_read_one_by_one() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    // A body over the limit: 413 with a JSON answer, on HTTP/1.1 (the
    // client here reads the answer only after sending the whole body).
    let big: serde_json::Value = serde_json::from_str(&big_body(&h.root)).unwrap();
    let reply = h.api.call("POST", "/orgs", Some(&h.admin), Some(big));
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.body["code"], "too_large", "{}", reply.body);
    // The same over HTTP/2 (curl, by ALPN): the answer, not a stream reset
    // (curl exits 92 on one).
    let file = tmp.path().join("big.json");
    std::fs::write(&file, big_body(&h.root)).unwrap();
    let answer = tmp.path().join("answer.json");
    let out = std::process::Command::new("curl")
        .args(["--http2", "--insecure", "--silent", "--max-time", "20"])
        .args(["--header", &format!("Authorization: Bearer {}", h.admin)])
        .args(["--header", "Content-Type: application/json"])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg("--output")
        .arg(&answer)
        .args(["--write-out", "%{http_code} %{http_version}"])
        .arg(format!("https://127.0.0.1:{}/api/v1/orgs", h.api.port()))
        .output()
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "413 2",
        "curl: {:?}",
        out.status
    );
    let body: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&answer).unwrap()).expect("a JSON answer");
    assert_eq!(body["code"], "too_large", "{body}");
    // A body that is not JSON at all: the framework's refusal, as JSON.
    let reply = h.api.call("POST", "/orgs", Some(&h.admin), None);
    assert!(reply.status >= 400 && reply.status < 500);
    assert!(reply.body["code"].is_string(), "{}", reply.body);

    // GET /orgs/{id}: what the caller may see, 404 otherwise.
    let root = h.api.get(&format!("/orgs/{}", h.root), Some(&h.admin));
    assert_eq!(root.status, 200, "{}", root.body);
    assert_eq!(root.body["name"], "Home");
    let kids = h.api.post(
        "/orgs",
        Some(&h.admin),
        json!({ "parent": h.root, "name": "Kids" }),
    );
    assert_eq!(kids.status, 201, "{}", kids.body);
    let kids = kids.body["id"].as_str().unwrap().to_owned();
    let (kid, _) = h.member("kid@example.org", &kids, "user");
    let own = h.api.get(&format!("/orgs/{kids}"), Some(&kid));
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(
        own.body["parent"],
        serde_json::Value::Null,
        "the root is not named to a sub-organization"
    );
    let hidden = h.api.get(&format!("/orgs/{}", h.root), Some(&kid));
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    assert!(!hidden.body.to_string().contains("Home"), "{}", hidden.body);
}

/// An organization whose name is 3 MiB: over the API's body limit.
fn big_body(parent: &str) -> String {
    json!({ "parent": parent, "name": "x".repeat(3 << 20) }).to_string()
}

/// schemathesis (from PyPI) generates requests from the document, bodies
/// from the handlers' own types, against the real hub for a bounded number
/// of examples per operation: no answer may be a 5xx, and every answer must
/// have a documented status, content type and schema (the answers' schemas
/// come from the handlers' own answer types). Left out: what would end the
/// fuzzer's own session, what dials out (sync and cloud links, hub
/// joining), and the WebSockets (they never end).
#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let doc = h.api.get("/openapi.json", Some(&h.admin));
    assert_eq!(doc.status, 200);
    let documented = doc.body["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .filter(|op| op.get("requestBody").is_some())
        .count();
    assert!(documented >= 25, "{documented} request bodies documented");
    let answers = doc.body["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .filter(|op| {
            op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .any(|(status, r)| status.starts_with('2') && r.get("content").is_some())
        })
        .count();
    assert!(answers >= 45, "{answers} answer schemas documented");
    let file = tmp.path().join("openapi.json");
    std::fs::write(&file, doc.body.to_string()).unwrap();
    let out = std::process::Command::new("timeout")
        .args(["600", "st", "--no-color", "run"])
        .arg(&file)
        .args([
            "--url",
            &format!("https://127.0.0.1:{}/api/v1", h.api.port()),
        ])
        .args(["--header", &format!("Authorization: Bearer {}", h.admin)])
        .args(["--tls-verify", "false", "--checks"])
        .arg(
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
        )
        .args([
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--request-timeout",
            "10",
        ])
        // A pooled keep-alive connection the hub closes as idle just as the
        // fuzzer reuses it is an EOF, as with any HTTP/1.1 server; a client
        // then retries. A request that breaks the connection every time
        // still fails.
        .args(["--request-retries", "2"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args([
            "--exclude-path-regex",
            "^/(logout|sessions/.*|stream|sync|sync/join|cloud/.*|hubs/join)$",
        ])
        .args(["--generation-database", "none"])
        // Its reports and caches go to the test's own directory.
        .current_dir(tmp.path())
        .output()
        .expect("schemathesis runs (scripts/test-deps.sh installs it)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures ({:?}):\n{said}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // It really ran: most operations, each with generated requests.
    let tested: usize = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no summary in:\n{said}"));
    assert!(tested >= 40, "{tested} operations tested:\n{said}");
}
