//! Blynk's Device MQTT API (`../shared/reference/protocols.md` §2): what a
//! device's PUBLISH means, parsed from its topic and payload alone (pure,
//! so the fuzz target and tests drive it directly), and the downlink topics
//! the hub publishes to it.

/// What a device publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uplink {
    /// `ds/<name>`: one value, or several NUL-separated.
    Value { name: String, values: Vec<String> },
    /// `batch_ds`: a JSON object of name → value.
    Batch(Vec<(String, Vec<String>)>),
    /// `ds/<name>/prop/<property>`.
    Property {
        name: String,
        property: String,
        value: String,
    },
    /// `ds/<name>/erase`: nothing is erased from history; acknowledged.
    Erase { name: String },
    /// `event/<code>`, the payload its description.
    Event {
        code: String,
        description: Option<String>,
    },
    /// `meta/<field>` and `info/mcu` (JSON): what the device says of itself.
    Info(Vec<(String, String)>),
    /// `get/ds` (comma-separated names) or `get/ds/all` (`None`).
    Get(Option<Vec<String>>),
}

/// Why a PUBLISH was not understood (the packet is ignored and counted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0:?} is not one of Blynk's device topics")]
    Unknown(String),
    #[error("the payload of {0} is not UTF-8")]
    NotUtf8(String),
    #[error("the payload of {topic} is not {expected}")]
    BadPayload {
        topic: String,
        expected: &'static str,
    },
}

/// The longest datastream name or event code accepted in a topic.
const MAX_NAME: usize = 128;

fn name(text: &str, topic: &str) -> Result<String, TopicError> {
    if text.is_empty() || text.len() > MAX_NAME || text.contains(['+', '#']) {
        return Err(TopicError::Unknown(topic.to_owned()));
    }
    Ok(text.to_owned())
}

fn json_text(value: &serde_json::Value) -> Option<Vec<String>> {
    match value {
        serde_json::Value::String(s) => Some(vec![s.clone()]),
        serde_json::Value::Number(n) => Some(vec![n.to_string()]),
        serde_json::Value::Bool(b) => Some(vec![u8::from(*b).to_string()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| json_text(v).map(|mut v| v.remove(0)))
            .collect(),
        _ => None,
    }
}

/// Parses a device's PUBLISH.
///
/// # Errors
/// [`TopicError`] for a topic outside the layout or a payload that does
/// not fit it.
pub fn parse(topic: &str, payload: &[u8]) -> Result<Uplink, TopicError> {
    let text = || std::str::from_utf8(payload).map_err(|_| TopicError::NotUtf8(topic.to_owned()));
    let parts: Vec<&str> = topic.split('/').collect();
    match parts.as_slice() {
        ["ds", ds] => Ok(Uplink::Value {
            name: name(ds, topic)?,
            values: text()?.split('\0').map(str::to_owned).collect(),
        }),
        ["ds", ds, "erase"] => Ok(Uplink::Erase {
            name: name(ds, topic)?,
        }),
        ["ds", ds, "prop", property] => Ok(Uplink::Property {
            name: name(ds, topic)?,
            property: name(property, topic)?,
            value: text()?.to_owned(),
        }),
        ["batch_ds"] => {
            let bad = || TopicError::BadPayload {
                topic: topic.to_owned(),
                expected: "a JSON object of name to value",
            };
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text()?).map_err(|_| bad())?;
            object
                .iter()
                .map(|(k, v)| Ok((name(k, topic)?, json_text(v).ok_or_else(bad)?)))
                .collect::<Result<_, _>>()
                .map(Uplink::Batch)
        }
        ["event", code] => {
            let description = text()?;
            Ok(Uplink::Event {
                code: name(code, topic)?,
                description: (!description.is_empty()).then(|| description.to_owned()),
            })
        }
        ["meta", field] => Ok(Uplink::Info(vec![(
            format!("meta/{}", name(field, topic)?),
            text()?.to_owned(),
        )])),
        ["info", "mcu"] => {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text()?)
                .map_err(|_| TopicError::BadPayload {
                    topic: topic.to_owned(),
                    expected: "a JSON object",
                })?;
            Ok(Uplink::Info(
                object
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect(),
            ))
        }
        ["get", "ds"] => Ok(Uplink::Get(Some(
            text()?
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
        ))),
        ["get", "ds", "all"] => Ok(Uplink::Get(None)),
        _ => Err(TopicError::Unknown(topic.to_owned())),
    }
}

/// The downlink topic of datastream `name`.
pub fn downlink_ds(name: &str) -> String {
    format!("downlink/ds/{name}")
}

/// Whether a device may subscribe to `filter`: only its downlink.
pub fn may_subscribe(filter: &str) -> bool {
    filter == "downlink/#" || (filter.starts_with("downlink/") && rumqttc::valid_filter(filter))
}

/// Arbitrary bytes as a client's MQTT stream and as a device's PUBLISH
/// (first byte: topic length), checking what any input must satisfy: the
/// packet reader and the topic parser never panic, a parsed value carries
/// at least one value. Shared by the fuzz target and the corpus replay test.
pub fn check(data: &[u8]) {
    let mut stream = bytes::BytesMut::from(data);
    while let Ok(_packet) = rumqttc::mqttbytes::v4::Packet::read(&mut stream, 4096) {}
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (topic, payload) = rest.split_at(usize::from(len).min(rest.len()));
    let topic = String::from_utf8_lossy(topic);
    match parse(&topic, payload) {
        Ok(Uplink::Value { values, .. }) => assert!(!values.is_empty()),
        Ok(Uplink::Batch(pairs)) => assert!(pairs.iter().all(|(_, v)| !v.is_empty())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blynk_layout_parses() {
        assert_eq!(
            parse("ds/Temperature", b"21.5").unwrap(),
            Uplink::Value {
                name: "Temperature".into(),
                values: vec!["21.5".into()]
            }
        );
        assert_eq!(
            parse("ds/Color", b"1\x002\x003").unwrap(),
            Uplink::Value {
                name: "Color".into(),
                values: vec!["1".into(), "2".into(), "3".into()]
            }
        );
        assert_eq!(
            parse(
                "batch_ds",
                br#"{"Temperature": 21, "Label": "x", "On": true}"#
            )
            .unwrap(),
            Uplink::Batch(vec![
                ("Label".into(), vec!["x".into()]),
                ("On".into(), vec!["1".into()]),
                ("Temperature".into(), vec!["21".into()]),
            ])
        );
        assert_eq!(
            parse("event/overheat", b"95 C").unwrap(),
            Uplink::Event {
                code: "overheat".into(),
                description: Some("95 C".into())
            }
        );
        assert_eq!(parse("get/ds/all", b"").unwrap(), Uplink::Get(None));
        assert_eq!(
            parse("get/ds", b"A, B").unwrap(),
            Uplink::Get(Some(vec!["A".into(), "B".into()]))
        );
        assert_eq!(
            parse("info/mcu", br#"{"tmpl":"TMPL1","ver":"1.0"}"#).unwrap(),
            Uplink::Info(vec![
                ("tmpl".into(), "TMPL1".into()),
                ("ver".into(), "1.0".into())
            ])
        );
        assert!(matches!(
            parse("ds/Label/prop/color", b"#ff0000"),
            Ok(Uplink::Property { .. })
        ));
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        assert!(matches!(parse("ds", b"1"), Err(TopicError::Unknown(_))));
        assert!(matches!(
            parse("other/thing", b"1"),
            Err(TopicError::Unknown(_))
        ));
        assert!(matches!(parse("ds/x/y", b"1"), Err(TopicError::Unknown(_))));
        assert!(matches!(
            parse("ds/A", b"\xff"),
            Err(TopicError::NotUtf8(_))
        ));
        assert!(matches!(
            parse("batch_ds", b"[1]"),
            Err(TopicError::BadPayload { .. })
        ));
        assert!(matches!(
            parse("batch_ds", br#"{"A": {"nested": 1}}"#),
            Err(TopicError::BadPayload { .. })
        ));
        assert!(matches!(
            parse(&format!("ds/{}", "n".repeat(200)), b"1"),
            Err(TopicError::Unknown(_))
        ));
    }

    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        crate::replay_fuzz_corpus("mqtt_payload", check);
    }

    #[test]
    fn devices_subscribe_only_to_their_downlink() {
        assert!(may_subscribe("downlink/#"));
        assert!(may_subscribe("downlink/ds/+"));
        assert!(!may_subscribe("#"));
        assert!(!may_subscribe("ds/#"));
        assert!(!may_subscribe("downlink/#/x"));
    }
}
