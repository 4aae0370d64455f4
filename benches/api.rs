//! API benchmark (prints numbers; asserts nothing): authenticated
//! `GET /api/v1/devices` for an admin who sees all 10,000 devices of the
//! generated household, and an authenticated trivial route
//! (`GET /api/v1/sessions`: the token check plus a tiny answer), each with
//! 50 concurrent keep-alive HTTPS clients against the real hub process.
//!
//! `cargo bench --bench api`. The load generator shares the machine's cores
//! with the hub, so the numbers are a floor for a separate client.

#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/api.rs"]
mod api;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "support/tenant.rs"]
mod tenant;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::ServerName;

const CLIENTS: usize = 50;
const RUN: Duration = Duration::from_secs(10);

/// One client: a keep-alive connection issuing `GET path` until `until`.
async fn client(
    connector: tokio_rustls::TlsConnector,
    port: u16,
    path: &'static str,
    token: Arc<str>,
    until: Instant,
) -> (Vec<Duration>, usize) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = connector
        .connect(ServerName::try_from("hearth.local").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut times = Vec::new();
    let mut bytes = 0;
    while Instant::now() < until {
        let req = hyper::Request::get(format!("/api/v1{path}"))
            .header("host", "hearth.local")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let started = Instant::now();
        let response = sender.send_request(req).await.unwrap();
        assert_eq!(response.status(), 200);
        bytes += response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .len();
        times.push(started.elapsed());
    }
    (times, bytes)
}

fn load(api: &api::Api, path: &'static str, token: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let token: Arc<str> = Arc::from(token);
    let started = Instant::now();
    let until = started + RUN;
    let results = runtime.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                tokio::spawn(client(
                    api.connector(),
                    api.port(),
                    path,
                    token.clone(),
                    until,
                ))
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let elapsed = started.elapsed();
    let mut times: Vec<Duration> = results
        .iter()
        .flat_map(|(t, _)| t.iter().copied())
        .collect();
    let bytes: usize = results.iter().map(|(_, b)| b).sum();
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "GET {path}: {} requests by {CLIENTS} clients in {:.1} s: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({:.0} KiB per answer)",
        times.len(),
        elapsed.as_secs_f64(),
        times.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        bytes as f64 / times.len().max(1) as f64 / 1024.0,
    );
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let b = tenant::Builder::build(&tenant::HOUSEHOLD);
    println!(
        "household: {} orgs, {} memberships, {} devices",
        b.orgs.len(),
        b.members.len(),
        b.devices.len()
    );
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(tenant::install(&state, b, api::PASSWORD));
    // 50 clients from one address: more than an address may hold by default.
    let config =
        common::TEST_CONFIG.replace("[api]\n", "[api]\nmax_connections_per_address = 64\n");
    let hub = common::HubProcess::start(&state, &config);
    let api = api::Api::new(hub.api_port(), &hub.fingerprint());
    let login = api.post(
        "/login",
        None,
        serde_json::json!({ "email": "admin@bench.test", "password": api::PASSWORD }),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.body["token"].as_str().unwrap().to_owned();
    let sees = api
        .get("/devices", Some(&token))
        .body
        .as_array()
        .unwrap()
        .len();
    println!("the admin sees {sees} devices");
    load(&api, "/sessions", &token);
    load(&api, "/devices", &token);
    drop(hub);
}
