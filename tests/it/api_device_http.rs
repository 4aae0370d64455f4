//! Blynk's HTTP device API (`/external/api`) under a hostile or runaway
//! caller, in-process: wrong tokens are throttled per address like every
//! other transport's, and a device is held to its message allowance.

use crate::in_process::{InProcess, LAN_PEER};

/// After 20 wrong tokens from one address, that address is refused unchecked
/// (429 with `Retry-After`), even with a right token, while another address
/// still gets through.
#[tokio::test]
async fn wrong_tokens_are_throttled_per_address() {
    let hub = InProcess::open().await;
    let (admin, root) = hub.household().await;
    let (_, token) = hub.device(&admin, &root, "lamp").await;
    let update = |token: &str| format!("/external/api/update?token={token}&V1=1");
    for n in 0..20 {
        let wrong = hub
            .request("GET", &update(&format!("wrong{n}")), LAN_PEER, None, None)
            .await;
        assert_eq!(wrong.status, 400, "{}", wrong.body);
        assert_eq!(wrong.body["error"]["message"], "Invalid token.");
    }
    let throttled = hub
        .request("GET", &update(&token), LAN_PEER, None, None)
        .await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    let retry: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    let elsewhere = hub
        .request("GET", &update(&token), "192.0.2.11:40000", None, None)
        .await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
    hub.close().await;
}

/// A device's writes through the HTTP API cost one message per value from
/// its allowance (`blynk.messages_per_second`, twice that in a burst):
/// beyond it the request is 429 with `Retry-After` and nothing of it is
/// written; another device is not affected.
#[tokio::test]
async fn a_device_over_its_allowance_is_refused_and_nothing_is_written() {
    let config =
        crate::common::TEST_CONFIG.replace("[blynk]\n", "[blynk]\nmessages_per_second = 5\n");
    assert_ne!(
        config,
        crate::common::TEST_CONFIG,
        "the test config has a [blynk] table"
    );
    let hub = InProcess::open_with(&config).await;
    let (admin, root) = hub.household().await;
    let (lamp, token) = hub.device(&admin, &root, "lamp").await;
    let (_, calm) = hub.device(&admin, &root, "calm").await;
    let update = |token: &str, values: &str| format!("/external/api/update?token={token}{values}");

    // The burst is 10 messages: 8 values, then 3 more are over it.
    let first = hub
        .request(
            "GET",
            &update(&token, "&V1=1&V1=2&V1=3&V1=4&V2=5&V2=6&V2=7&V2=8"),
            LAN_PEER,
            None,
            None,
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let over = hub
        .request(
            "GET",
            &update(&token, "&V3=a&V3=b&V3=c"),
            LAN_PEER,
            None,
            None,
        )
        .await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert!(over.headers.contains_key("retry-after"));
    assert!(
        !hub.node.devices.values(&lamp).contains_key("V3"),
        "nothing of a refused request is written"
    );
    let whole_burst = "&V4=1".repeat(11);
    let too_big = hub
        .request("GET", &update(&calm, &whole_burst), LAN_PEER, None, None)
        .await;
    assert_eq!(
        too_big.status, 400,
        "more than a burst in one request can never pass: {}",
        too_big.body
    );
    let calm = hub
        .request("GET", &update(&calm, "&V1=1"), LAN_PEER, None, None)
        .await;
    assert_eq!(calm.status, 200, "another device has its own allowance");
    hub.close().await;
}
