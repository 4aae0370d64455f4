//! The composition root in-process (`hearth::node`), as the cloud uses it:
//! what a tenant node runs that a subprocess test could only wait hours for.

use std::time::Duration;

use hearth::cloud::tenants::Tenants;
use hearth::config::Config;
use hearth::devices::FIRST_PURGE_AFTER;
use hearth::devices::outbox::Row;
use hearth::node::{NodeOptions, Role};
use tokio_util::sync::CancellationToken;

const DAY_MS: i64 = 86_400_000;

/// A cloud tenant keeps history as long as the cloud's configuration says,
/// like a hub: before, tenants never ran retention and the cloud's history
/// grew without bound. (Time is driven: the first purge is due ten minutes
/// after the node opens; the clock is paused only after the first look, as a
/// paused clock runs ahead whenever the runtime waits for the store's thread.)
#[tokio::test]
async fn a_cloud_tenant_purges_history_by_the_configured_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[devices]\nretention_days = 3\n",
        crate::common::TEST_CONFIG
    );
    let config = Config::parse(&text, std::path::Path::new("test.toml")).unwrap();
    let shutdown = CancellationToken::new();
    let options = NodeOptions::new(
        &config,
        Role::CloudTenant {
            cloud_id: "cloud-test".into(),
        },
    );
    let tenants = Tenants::new(tmp.path().join("tenants"), options, shutdown.clone());
    let node = tenants.node("tenant-a").await.unwrap();
    let now = node.clock.now_ms();
    let row = |seq: i64, at: i64| Row {
        epoch: 1,
        seq,
        device: "dev-a".into(),
        pin: "V1".into(),
        value: seq.to_string(),
        at,
    };
    // Older than the configured 3 days (but within the default 30), and new.
    let delivered = node
        .devices
        .ingest(
            "hub-a",
            vec![row(1, now - 10 * DAY_MS), row(2, now - DAY_MS)],
        )
        .await
        .unwrap();
    assert_eq!(delivered.accepted, 2);
    let kept = || async {
        // What is journalled is history once the writer folded it.
        node.devices.flush().await.unwrap();
        node.store
            .read(|c| {
                c.prepare("SELECT value FROM history ORDER BY at")?
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap()
    };
    assert_eq!(kept().await, ["1", "2"]);

    tokio::time::pause();
    tokio::time::advance(FIRST_PURGE_AFTER + Duration::from_secs(1)).await;
    let deadline = std::time::Instant::now() + crate::common::TIMEOUT;
    while kept().await != ["2"] {
        assert!(
            std::time::Instant::now() < deadline,
            "still kept: {:?}",
            kept().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(node);
    shutdown.cancel();
    tenants.close().await;
}
