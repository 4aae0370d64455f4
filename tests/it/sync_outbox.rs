//! The telemetry outbox against the real cloud: values recorded before the
//! household was linked, while the cloud was down, and around a `kill -9`
//! of either side all reach the cloud exactly once, in order.

use crate::{api, blynk, cloud, common};
use api::{Api, Household};
use blynk::RawDevice;
use cloud::{CloudProcess, cloud_login, eventually, hub_config, link, wait_in_sync};

/// The hub of these tests: the device reports bursts faster than the
/// default Blynk allowance (100 messages a second) would let through.
fn config() -> String {
    hub_config().replace("[blynk]\n", "[blynk]\nmessages_per_second = 1000000\n")
}

/// Reports `values` on V2 (the template's string datastream).
fn report(device: &mut RawDevice, values: &[String]) {
    for value in values {
        device.send(20, format!("vw\x002\x00{value}").as_bytes());
    }
}

fn batch(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

fn history(api: &Api, prefix: &str, token: &str, device: &str) -> Vec<String> {
    let reply = api.get(
        &format!("{prefix}/devices/{device}/history?pin=V2&from=0&limit=100000"),
        Some(token),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap().to_owned())
        .collect()
}

/// Reports `values` and waits until the hub has stored them all.
fn send(
    device: &mut RawDevice,
    home: &Household,
    sensor: &str,
    sent: &mut Vec<String>,
    values: Vec<String>,
) {
    report(device, &values);
    sent.extend(values);
    wait_stored(home, sensor, sent.len());
}

fn wait_stored(home: &Household, sensor: &str, count: usize) {
    eventually("the hub stored every value", || {
        history(&home.api, "", &home.admin, sensor).len() == count
    });
}

fn outbox_depth(home: &Household) -> u64 {
    let status = home.api.get("/sync/status", Some(&home.admin));
    status.body["outbox"]["depth"].as_u64().unwrap()
}

#[test]
fn every_value_reaches_the_cloud_once_in_order_through_outages_and_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cloud = CloudProcess::start(&tmp.path().join("cloud"));
    let hub_dir = tmp.path().join("hub");
    let mut home = api::household_with(&hub_dir, &config());
    let template = blynk::thermostat_template(&home);
    let (sensor, token) = blynk::provision(&home, &home.root, "Sensor", &template);
    let mut device = RawDevice::login(home.hub.blynk_port(), &token, 30);
    let mut sent = Vec::new();

    // Recorded before there was a cloud: delivered once linked.
    send(
        &mut device,
        &home,
        &sensor,
        &mut sent,
        batch("before-link-", 20),
    );
    let tenant = link(&home, &cloud);
    wait_in_sync(&home);
    send(&mut device, &home, &sensor, &mut sent, batch("linked-", 30));
    eventually("the outbox drained", || outbox_depth(&home) == 0);

    // The cloud is down for a fixed number of values: they wait, counted.
    cloud.process.terminate();
    send(
        &mut device,
        &home,
        &sensor,
        &mut sent,
        batch("outage-", 500),
    );
    assert_eq!(outbox_depth(&home), 500);
    let status = home.api.get("/sync/status", Some(&home.admin));
    assert_eq!(status.body["outbox"]["dropped"], 0);
    assert!(
        status.body["outbox"]["oldest"].as_i64().is_some(),
        "{}",
        status.body
    );
    let (code, metrics) = home.api.get_text("/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("hearth_outbox_depth 500\n"), "{metrics}");
    assert!(
        metrics.contains("hearth_sync_peer_connected{peer=\"cloud\""),
        "{metrics}"
    );
    let (ok, out, err) = common::hearth_output(&[
        "--console",
        "--state-dir",
        hub_dir.to_str().unwrap(),
        "sync",
        "status",
    ]);
    assert!(ok.success(), "{err}");
    assert!(
        out.contains("outbox: 500 values waiting, 0 dropped"),
        "{out}"
    );
    assert!(out.contains("not connected"), "{out}");
    cloud = cloud.restart();
    eventually("the backlog reached the cloud", || outbox_depth(&home) == 0);
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");
    let expected = sent.clone();
    assert_eq!(history(&cloud.api, &tenant, &admin, &sensor), expected);

    // kill -9 of the cloud while it takes a burst in: nothing it
    // acknowledged is lost, nothing is stored twice.
    report(&mut device, &batch("burst-", 3000));
    sent.extend(batch("burst-", 3000));
    eventually("the cloud is taking the burst in", || {
        history(&cloud.api, &tenant, &admin, &sensor).len() > expected.len()
    });
    cloud.process.signal("KILL");
    cloud.process.wait_exit(common::TIMEOUT);
    cloud = cloud.restart();
    wait_stored(&home, &sensor, sent.len());
    eventually("the burst reached the cloud", || outbox_depth(&home) == 0);
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");
    assert_eq!(history(&cloud.api, &tenant, &admin, &sensor), sent);

    // kill -9 of the hub with values queued for a cloud that is away: the
    // restarted hub delivers them.
    cloud.process.terminate();
    send(
        &mut device,
        &home,
        &sensor,
        &mut sent,
        batch("before-kill-", 200),
    );
    drop(device);
    home.hub.signal("KILL");
    home.hub.wait_exit(common::TIMEOUT);
    home.hub = common::HubProcess::start(&hub_dir, &config());
    home.api = Api::new(home.hub.api_port(), &home.hub.fingerprint());
    assert_eq!(outbox_depth(&home), 200);
    cloud = cloud.restart();
    eventually("the restarted hub delivered them", || {
        outbox_depth(&home) == 0
    });
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");
    assert_eq!(history(&cloud.api, &tenant, &admin, &sensor), sent);

    // The cloud's side of it, by hand with the hub's credential: a
    // delivery made twice is stored once; after a restore (a higher epoch)
    // sequences start over and count as new; disorder is refused.
    let credential = hub_credential(&hub_dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let row = |epoch: i64, seq: i64, value: &str| {
        serde_json::json!({ "epoch": epoch, "seq": seq, "device": sensor, "pin": "V2",
                            "value": value, "at": now + epoch })
    };
    let deliver = |rows: serde_json::Value| {
        cloud.api.post(
            "/cloud/v1/telemetry",
            Some(&credential),
            serde_json::json!({ "rows": rows }),
        )
    };
    let first = deliver(serde_json::json!([row(0, 1_000_000, "by-hand")]));
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["accepted"], 1, "{}", first.body);
    let again = deliver(serde_json::json!([row(0, 1_000_000, "by-hand")]));
    assert_eq!(
        (
            again.body["accepted"].as_u64(),
            again.body["duplicates"].as_u64()
        ),
        (Some(0), Some(1)),
        "{}",
        again.body
    );
    assert_eq!(again.body["acked"], serde_json::json!([0, 1_000_000]));
    let restored = deliver(serde_json::json!([row(1, 5, "after-restore")]));
    assert_eq!(restored.body["accepted"], 1, "{}", restored.body);
    let disorder = deliver(serde_json::json!([row(1, 7, "x"), row(1, 6, "y")]));
    assert_eq!(disorder.status, 400, "{}", disorder.body);
    let stranger = cloud.api.post(
        "/cloud/v1/telemetry",
        Some("hub_not-a-credential"),
        serde_json::json!({ "rows": [] }),
    );
    assert_eq!(stranger.status, 401);
    let stored = history(&cloud.api, &tenant, &admin, &sensor);
    assert_eq!(&stored[sent.len()..], ["by-hand", "after-restore"]);
}

/// The hub's credential with the cloud, read from its database.
fn hub_credential(hub_dir: &std::path::Path) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT token FROM sync_uplinks').fetchone()[0])",
        ])
        .arg(hub_dir.join("hearth.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs one SQL statement on the hub's database from another process, as
/// a tool (or a failing disk) can under a running hub.
fn sql_from_outside(hub_dir: &std::path::Path, statement: &str) {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], timeout=10)\n\
             c.execute(sys.argv[2])\n\
             c.commit()",
        ])
        .arg(hub_dir.join("hearth.db"))
        .arg(statement)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{statement}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An outbox that cannot be read for a while (its table gone from under
/// the running hub) is retried and shown in the link's status, not the end
/// of delivery: once it reads again, values reach the cloud.
#[test]
fn delivery_resumes_after_the_outbox_could_not_be_read() {
    let tmp = tempfile::tempdir().unwrap();
    let cloud = CloudProcess::start(&tmp.path().join("cloud"));
    let hub_dir = tmp.path().join("hub");
    let home = api::household_with(&hub_dir, &config());
    let template = blynk::thermostat_template(&home);
    let (sensor, token) = blynk::provision(&home, &home.root, "Sensor", &template);
    let mut device = RawDevice::login(home.hub.blynk_port(), &token, 30);
    let tenant = link(&home, &cloud);
    wait_in_sync(&home);
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");

    sql_from_outside(&hub_dir, "ALTER TABLE outbox RENAME TO outbox_away");
    home.hub.wait_log("sync: the outbox cannot be read", 1);
    eventually("the link's status says why nothing is delivered", || {
        let status = home.api.get("/sync/status", Some(&home.admin));
        status.body["peers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["telemetry"]["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("outbox cannot be read"))
            })
    });
    sql_from_outside(&hub_dir, "ALTER TABLE outbox_away RENAME TO outbox");

    let mut sent = Vec::new();
    send(&mut device, &home, &sensor, &mut sent, batch("after-", 20));
    eventually("the values reach the cloud", || {
        history(&cloud.api, &tenant, &admin, &sensor) == sent
    });
}
