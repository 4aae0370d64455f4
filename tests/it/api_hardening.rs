//! What a hostile neighbour on the LAN can do to the API, against a real hub
//! process, from several loopback addresses (127.0.0.x) standing in for
//! hosts: holding connections, storming logins, locking an account out.
//! Every wait is bounded; latencies are printed, not asserted (the
//! benchmarks hold targets).

use crate::{api, blynk, common};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::{PASSWORD, household_with};
use blynk::RawDevice;
use common::{TEST_CONFIG, TIMEOUT};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A TCP connection to the hub from `from`.
async fn tcp_from(from: IpAddr, port: u16) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
}

/// One request over a fresh TLS connection from `from`: status and body.
async fn request(
    tls: &tokio_rustls::TlsConnector,
    port: u16,
    from: IpAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, hyper::HeaderMap) {
    let tcp = tcp_from(from, port).await;
    let reply = api::request(tls, tcp, method, path, None, body).await;
    (reply.status, reply.body, reply.headers)
}

/// True once the hub closed `stream` (EOF or reset), within `limit`.
async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    (kib(&status, "VmRSS:"), kib(&status, "VmHWM:"))
}

#[test]
fn one_address_holding_all_it_may_leaves_the_api_answering_everyone_else() {
    let tmp = tempfile::tempdir().unwrap();
    let config = TEST_CONFIG.replace(
        "[api]\n",
        "[api]\nmax_connections_per_address = 8\nheader_timeout_secs = 2\nidle_timeout_secs = 3\n",
    );
    let h = household_with(&tmp.path().join("state"), &config);
    let tls = h.api.connector();
    let port = h.api.port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Four connections that finish the handshake and then say nothing,
        // four that never start it: all this address may hold.
        let name = || rustls::pki_types::ServerName::try_from("hearth.local").unwrap();
        let mut quiet = Vec::new();
        for _ in 0..4 {
            let tcp = tcp_from(ip(1), port).await;
            quiet.push(tls.connect(name(), tcp).await.unwrap());
        }
        let mut half_open = Vec::new();
        for _ in 0..4 {
            half_open.push(tcp_from(ip(1), port).await);
        }
        // One more from that address is closed at once.
        let mut over = tcp_from(ip(1), port).await;
        assert!(
            closed_within(&mut over, TIMEOUT).await,
            "the ninth connection from one address is closed"
        );
        // Someone else is answered while all of that is held.
        let started = Instant::now();
        let (status, body, _) = request(&tls, port, ip(2), "GET", "/health", None).await;
        assert_eq!(status, 200, "{body}");
        println!(
            "another address answered in {:.1} ms while one held all it may",
            started.elapsed().as_secs_f64() * 1000.0
        );
        // The quiet ones are closed by the hub: a head must come within 2 s,
        // and nothing at all within 3 s is idleness.
        for stream in &mut quiet {
            assert!(
                closed_within(stream, TIMEOUT).await,
                "a silent TLS connection is closed"
            );
        }
        // A keep-alive connection that went quiet after a request is closed too.
        let tcp = tcp_from(ip(3), port).await;
        let stream = tls.connect(name(), tcp).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        let conn = tokio::spawn(conn);
        let req = hyper::Request::get("/api/v1/health")
            .header("host", "hearth.local")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = sender.send_request(req).await.unwrap();
        assert_eq!(answer.status(), 200);
        let _ = answer.into_body().collect().await;
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the hub ends an idle keep-alive connection")
            .unwrap()
            .ok();
        // The address's share is given back as its connections end.
        drop(half_open);
        let (status, _, _) = request(&tls, port, ip(1), "GET", "/health", None).await;
        assert_eq!(status, 200);
    });
}

#[test]
fn a_login_storm_is_refused_before_hashing_and_memory_stays_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household_with(&tmp.path().join("state"), TEST_CONFIG);
    let pid = h.hub.child.id();
    let tls = Arc::new(h.api.connector());
    let port = h.api.port();
    let (rss_before, _) = memory(pid);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // 30 at once from one address (it may hold 32 connections): counted
    // before the hash, so no more than the address's 20 failures are ever
    // checked, and at most 4 at once.
    let statuses = rt.block_on(async {
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let tls = tls.clone();
                tokio::spawn(async move {
                    let body = json!({ "email": format!("nobody{i}@example.org"), "password": "wrong password" });
                    request(&tls, port, ip(7), "POST", "/login", Some(body)).await
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            let (status, body, headers) = task.await.unwrap();
            if status != 401 {
                assert!(matches!(status, 429 | 503), "{status} {body}");
                assert!(headers.contains_key("retry-after"), "{status} says when");
            }
            statuses.push(status);
        }
        statuses
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 20, "{checked} of 30 were checked: {statuses:?}");
    assert!(checked >= 1, "{statuses:?}");
    // 120 more at once from 30 addresses.
    let statuses = rt.block_on(async {
        let tasks: Vec<_> = (0..120u8)
            .map(|i| {
                let tls = tls.clone();
                tokio::spawn(async move {
                    let body = json!({ "email": format!("x{i}@example.org"), "password": "wrong password" });
                    request(&tls, port, ip(10 + i % 30), "POST", "/login", Some(body))
                        .await
                        .0
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        statuses
    });
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429 | 503)),
        "{statuses:?}"
    );
    let (rss_after, peak) = memory(pid);
    println!(
        "login storm: RSS {} MiB before, peak {} MiB, {} MiB after; answers {:?}",
        rss_before / 1024,
        peak / 1024,
        rss_after / 1024,
        count(&statuses)
    );
    // Two argon2id checks of 19 MiB at once, and nothing more.
    assert!(
        peak < rss_before + 80 * 1024,
        "peak RSS {peak} KiB from {rss_before} KiB"
    );
    assert!(
        rss_after < rss_before + 30 * 1024,
        "memory given back: {rss_after} KiB after, {rss_before} KiB before"
    );
    let metrics = h.api.get_text("/metrics").1;
    assert!(
        metrics.contains("hearth_password_checks_running 0"),
        "{metrics}"
    );
}

fn count(statuses: &[u16]) -> Vec<(u16, usize)> {
    let mut counts: Vec<(u16, usize)> = Vec::new();
    for s in statuses {
        match counts.iter_mut().find(|(k, _)| k == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((*s, 1)),
        }
    }
    counts
}

#[test]
fn a_guesser_who_knows_the_admins_email_cannot_keep_the_admin_out() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household_with(&tmp.path().join("state"), TEST_CONFIG);
    let tls = h.api.connector();
    let port = h.api.port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let login = |from: IpAddr, password: &str| {
        let body = json!({ "email": "admin@example.org", "password": password });
        rt.block_on(request(&tls, port, from, "POST", "/login", Some(body)))
    };
    // The admin logs in from home once.
    assert_eq!(login(ip(1), PASSWORD).0, 200);
    // Neighbours at .66 and .67 guess until they are refused.
    for from in [ip(66), ip(67)] {
        let answers: Vec<u16> = (0..8).map(|_| login(from, "guess guess").0).collect();
        assert_eq!(&answers[..5], &[401; 5], "{answers:?}");
        assert!(answers[5..].iter().all(|s| *s == 429), "{answers:?}");
        let (status, _, _) = login(from, PASSWORD);
        assert_eq!(status, 429, "the guesser's address waits even when right");
    }
    // The admin at home is not slowed at all.
    let (status, body, _) = login(ip(1), PASSWORD);
    assert_eq!(status, 200, "{body}");
    // On a new phone the admin gets in, after at most a couple of seconds.
    let (status, body, headers) = login(ip(9), PASSWORD);
    let status = if status == 429 {
        let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait <= 2, "{wait} s");
        std::thread::sleep(Duration::from_secs(wait));
        login(ip(9), PASSWORD).0
    } else {
        assert_eq!(status, 200, "{body}");
        status
    };
    assert_eq!(status, 200);
}

#[test]
fn device_garbage_and_wrong_tokens_are_counted_logged_at_a_bounded_rate_and_throttled() {
    use std::net::Ipv4Addr;
    let tmp = tempfile::tempdir().unwrap();
    let h = household_with(&tmp.path().join("state"), TEST_CONFIG);
    let template = blynk::thermostat_template(&h);
    let (_, token) = blynk::provision(&h, &h.root, "Thermostat", &template);
    let port = h.hub.blynk_port();
    // 200 connections of garbage from one address.
    for _ in 0..200 {
        let mut junk = RawDevice::connect_from(port, Ipv4Addr::new(127, 0, 0, 44));
        junk.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(junk.closed_by_hub());
    }
    // Wrong tokens from .45 until its logins are refused unchecked.
    for _ in 0..20 {
        let mut guess = RawDevice::connect_from(port, Ipv4Addr::new(127, 0, 0, 45));
        let id = guess.send(29, b"0123456789abcdef0123456789abcdef");
        assert_eq!(guess.status_of(id), 9);
    }
    let mut right = RawDevice::connect_from(port, Ipv4Addr::new(127, 0, 0, 45));
    let id = right.send(29, token.as_bytes());
    assert_eq!(
        right.status_of(id),
        9,
        "the guesser's address is refused unchecked"
    );
    // The device itself, at its own address, logs in.
    let mut device = RawDevice::connect_from(port, Ipv4Addr::new(127, 0, 0, 46));
    let id = device.send(29, token.as_bytes());
    assert_eq!(device.status_of(id), 200);

    let metrics = h.api.get_text("/metrics").1;
    let counted = |what: &str| -> u64 {
        let key =
            format!("hearth_unauthenticated_failures_total{{listener=\"blynk\",what=\"{what}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_else(|| panic!("{key} in {metrics}"))
            .parse()
            .unwrap()
    };
    assert!(counted("failures before login") >= 200, "{metrics}");
    assert!(counted("wrong tokens") >= 21, "{metrics}");
    let log = h.hub.stderr();
    let lines = |ip: &str| {
        log.lines()
            .filter(|l| l.contains("WARN") && l.contains(ip))
            .count()
    };
    assert!(
        lines("127.0.0.44") <= 3,
        "{} lines for 200 failures",
        lines("127.0.0.44")
    );
    assert!(
        lines("127.0.0.45") <= 3,
        "{} lines for 21 failures",
        lines("127.0.0.45")
    );
}
