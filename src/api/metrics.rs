//! `GET /metrics`: Prometheus text for the hub's sync (each peer, each
//! document's pending changes, the outbox, delivered telemetry, conflicts
//! lost) and its store. Served to loopback without a token (the local
//! Prometheus or node exporter), to anyone else only with an admin's token. It keeps no counter
//! of its own (each sample is read from its part when scraped), and labels carry ids, never the
//! names people gave.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Authed;
use super::error::ApiError;
use crate::tenancy::audit::Outcome;

pub async fn metrics(
    State(state): State<AppState>,
    connected: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    console: Option<axum::Extension<super::console::Console>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let local = match connected {
        Some(c) => (c.0).0.ip().is_loopback(),
        // No peer address: only the admin socket may go without a token.
        None => console.is_some(),
    };
    if !local {
        let (mut parts, _) = request.into_parts();
        let authed = Authed::from_request_parts(&mut parts, &state).await?;
        super::sync::require_admin(&state, &authed)?;
    }
    let text = render(&state).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response())
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family: its HELP and TYPE lines, then its samples
/// (`labels` without braces, empty for none).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, i64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

async fn render(state: &AppState) -> Result<String, ApiError> {
    let now = state.clock.now_ms();
    let links = state.sync.status();
    let peer = |link: &crate::sync::links::LinkStatus| {
        format!(
            "peer=\"{}\",url=\"{}\"",
            escape(&link.peer),
            escape(&link.url)
        )
    };
    let per_doc = |value: &dyn Fn(&crate::tenancy::replica::DocSync) -> Option<i64>| {
        links
            .iter()
            .flat_map(|link| {
                link.docs.iter().filter_map(move |doc| {
                    value(doc).map(|v| (format!("{},doc=\"{}\"", peer(link), doc.kind), v))
                })
            })
            .collect::<Vec<_>>()
    };
    let mut out = String::new();
    family(
        &mut out,
        "hearth_sync_peer_connected",
        "gauge",
        "1 while the link to the peer is connected",
        &links
            .iter()
            .map(|l| (peer(l), i64::from(l.connected)))
            .collect::<Vec<_>>(),
    );
    family(
        &mut out,
        "hearth_sync_peer_down_seconds",
        "gauge",
        "How long the link has been down (0 while connected)",
        &links
            .iter()
            .map(|l| {
                (
                    peer(l),
                    l.state.down_since.map_or(0, |t| (now - t).max(0) / 1000),
                )
            })
            .collect::<Vec<_>>(),
    );
    family(
        &mut out,
        "hearth_sync_changes_pending_out",
        "gauge",
        "Changes of ours the peer is not known to have, per document",
        &per_doc(&|d| Some(d.theirs_lacking as i64)),
    );
    family(
        &mut out,
        "hearth_sync_changes_pending_in",
        "gauge",
        "Heads the peer announced that we lack, per document",
        &per_doc(&|d| Some(d.ours_lacking as i64)),
    );
    family(
        &mut out,
        "hearth_sync_last_received_timestamp_seconds",
        "gauge",
        "When the peer last sent something about the document",
        &per_doc(&|d| d.last_received.map(|t| t / 1000)),
    );
    family(
        &mut out,
        "hearth_telemetry_delivered_total",
        "counter",
        "Values the peer acknowledged since this hub started",
        &links
            .iter()
            .filter(|l| l.peer == crate::tenancy::policy::CLOUD_PEER)
            .map(|l| (peer(l), l.telemetry.delivered as i64))
            .collect::<Vec<_>>(),
    );
    if let Some(outbox) = state.sync.outbox().await? {
        let one = |v: i64| vec![(String::new(), v)];
        family(
            &mut out,
            "hearth_outbox_depth",
            "gauge",
            "Telemetry values waiting for the cloud",
            &one(outbox.depth as i64),
        );
        family(
            &mut out,
            "hearth_outbox_dropped_total",
            "counter",
            "Values dropped because the outbox was full",
            &one(outbox.dropped as i64),
        );
        if let Some(at) = outbox.oldest {
            family(
                &mut out,
                "hearth_outbox_oldest_timestamp_seconds",
                "gauge",
                "When the oldest waiting value was recorded",
                &one(at / 1000),
            );
        }
    }
    family(
        &mut out,
        "hearth_history_dropped_total",
        "counter",
        "Values left out of history since start, the device being over its budget of rows a day",
        &state
            .devices
            .all_history_dropped()
            .into_iter()
            .map(|(device, n)| (format!("device=\"{}\"", escape(&device)), n as i64))
            .collect::<Vec<_>>(),
    );
    let dropped = |list: Vec<(String, u64)>, label: &str| {
        list.into_iter()
            .map(|(who, n)| (format!("{label}=\"{}\"", escape(&who)), n as i64))
            .collect::<Vec<_>>()
    };
    family(
        &mut out,
        "hearth_messages_dropped_total",
        "counter",
        "Messages left out since start, over the device's allowance on the household's broker \
         (where one device cannot be slowed without the rest)",
        &dropped(state.devices.messages_dropped.all(), "device"),
    );
    family(
        &mut out,
        "hearth_bridge_messages_dropped_total",
        "counter",
        "Reports left out since start, over the bridge's allowance on the household's broker",
        &dropped(state.devices.bridge_messages_dropped.all(), "bridge"),
    );
    let (running, waiting, refused) = crate::accounts::password::load();
    family(
        &mut out,
        "hearth_password_checks_running",
        "gauge",
        "Password hashes and checks running now (a fixed number at most)",
        &[(String::new(), running as i64)],
    );
    family(
        &mut out,
        "hearth_password_checks_waiting",
        "gauge",
        "Password checks waiting for their turn",
        &[(String::new(), waiting as i64)],
    );
    family(
        &mut out,
        "hearth_password_checks_busy_total",
        "counter",
        "Password checks refused as busy (503) since start",
        &[(String::new(), refused as i64)],
    );
    family(
        &mut out,
        "hearth_unauthenticated_failures_total",
        "counter",
        "Failures caused from outside before a login, whether logged or not",
        &crate::service::noisy::totals()
            .into_iter()
            .map(|(listener, what, n)| {
                (
                    format!(
                        "listener=\"{}\",what=\"{}\"",
                        escape(listener),
                        escape(what)
                    ),
                    n as i64,
                )
            })
            .collect::<Vec<_>>(),
    );
    family(
        &mut out,
        "hearth_part_restarts_total",
        "counter",
        "Times a loop that must run for ever panicked or stopped and was started again",
        &state
            .restarts
            .all()
            .into_iter()
            .map(|r| (format!("part=\"{}\"", escape(r.part)), r.count as i64))
            .collect::<Vec<_>>(),
    );
    if let (Ok(log), Ok(snapshot)) = (state.replica.audit_log(), state.replica.snapshot()) {
        let views =
            crate::tenancy::audit::read(&snapshot, &log, now, &crate::tenancy::Caller::Console);
        let lost = views
            .iter()
            .filter(|v| matches!(v.outcome, Outcome::LostTo { .. }))
            .count();
        family(
            &mut out,
            "hearth_audit_conflicts_lost",
            "gauge",
            "Operations in the audit log that lost a concurrent conflict",
            &[(String::new(), lost as i64)],
        );
    }
    Ok(out)
}
