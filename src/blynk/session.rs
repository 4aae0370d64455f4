//! One Blynk device session over any byte stream (TCP, TLS, a serial line):
//! login, then frames both ways until the device goes silent for 1.5x its
//! heartbeat, another connection logs in as it, its token is replaced, or
//! the hub stops.
//!
//! Real clients shape the details (protocols.md §1): the reply to the
//! INTERNAL info message is the very next frame; every frame goes out in
//! its own write, and to `blynklib` (which logs in with legacy LOGIN and
//! reads one frame per `recv`) frames are also paced apart; the hub never
//! sends PING, PROPERTY or REDIRECT. A bad frame gets the protocol's status
//! and one log line; the device's other traffic carries on.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::codec::{Frame, FrameError, LinkCodec, command, status, tokens};
use super::hardware::Hardware;
use super::requests::{self, Reply};
use crate::devices::{Attachment, Devices, Downlink, Pin};

/// A device that does not log in within this long is dropped (TCP).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The heartbeat assumed until the device announces its own (Blynk's).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(45);
/// Gap kept between frames to clients that read one frame per `recv`.
const LEGACY_PACE: Duration = Duration::from_millis(30);

/// What every session needs from the hub.
pub struct Context {
    pub devices: Arc<Devices>,
    pub shutdown: CancellationToken,
    pub max_body: usize,
    /// Messages a device may send per second (twice that in a burst).
    pub per_second: f64,
}

pub type Link<S> = Framed<S, LinkCodec>;

/// A new link on `io` with the hub's frame size limit.
pub fn link<S: AsyncRead + AsyncWrite>(io: S, max_body: usize) -> Link<S> {
    crate::listener::framed(io, LinkCodec { max_body })
}

/// Why a session ended; a serial line goes on to the next session unless
/// the stream itself is gone.
#[derive(Debug)]
pub enum End {
    /// The stream closed or failed: nothing more can be read.
    Closed,
    /// A frame that breaks the framing (the stream must be resynchronised).
    Garbage,
    /// The session is over but the stream is fine.
    Over,
    /// A login arrived mid-session: start again with it.
    Relogin(Frame),
}

/// A connection's message allowance (`devices::allowance`), kept across
/// re-logins on the connection.
pub type Bucket = crate::devices::allowance::Allowance;

/// Runs one session on `link`; `first` is a login frame already read.
pub async fn run<S>(
    link: &mut Link<S>,
    first: Option<Frame>,
    ctx: &Context,
    peer: &str,
    transport: &'static str,
    bucket: &mut Bucket,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let login = match first {
        Some(frame) => frame,
        None => match await_login(link, ctx, peer, transport).await {
            Ok(frame) => frame,
            Err(end) => return end,
        },
    };
    let Frame::Message {
        command: kind,
        id,
        body,
    } = login
    else {
        return End::Over;
    };
    // Watching before the token is checked: a rotation from here on is seen.
    let tenancy = ctx.devices.replica().subscribe();
    let token = tokens(&body)
        .ok()
        .and_then(|t| t.first().map(|s| s.trim().to_owned()))
        .unwrap_or_default();
    let wrong = format!("({transport}) invalid token; refused with status 9");
    let admitted = ctx.devices.admit("blynk", peer, &wrong, || {
        requests::device_for_token(&ctx.devices, &token)
    });
    let Ok(device) = admitted else {
        let _ = link
            .send(Frame::Response {
                id,
                status: status::INVALID_TOKEN,
            })
            .await;
        return End::Over;
    };
    if link
        .send(Frame::Response {
            id,
            status: status::OK,
        })
        .await
        .is_err()
    {
        return End::Closed;
    }
    let attachment = ctx.devices.attach(&device, transport, DEFAULT_HEARTBEAT);
    tracing::Span::current().record("client", device.as_str());
    tracing::info!("device {device} online");
    let mut session = Session {
        link,
        ctx,
        peer,
        device: device.clone(),
        token,
        legacy: kind == command::LOGIN,
        next_id: 0,
        last_send: None,
        heartbeat: DEFAULT_HEARTBEAT,
        synced: false,
        bridges: Default::default(),
        bucket,
        serial: transport == "serial",
        skipping: false,
    };
    let end = session.serve(attachment, tenancy).await;
    tracing::info!("device {device} offline ({})", end.1);
    end.0
}

async fn await_login<S>(
    link: &mut Link<S>,
    ctx: &Context,
    peer: &str,
    transport: &'static str,
) -> Result<Frame, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A serial line waits as long as it takes; a TCP peer must log in soon.
    let deadline = (transport != "serial").then(|| Instant::now() + LOGIN_TIMEOUT);
    loop {
        let next = async {
            match deadline {
                Some(at) => tokio::time::timeout_at(at, link.next()).await.ok(),
                None => Some(link.next().await),
            }
        };
        let frame = tokio::select! {
            _ = ctx.shutdown.cancelled() => return Err(End::Closed),
            frame = next => frame,
        };
        match frame {
            None => {
                PRE_LOGIN.warn(
                    peer,
                    format_args!("no login within {LOGIN_TIMEOUT:?}; dropped"),
                );
                return Err(End::Closed);
            }
            Some(None | Some(Err(_))) => return Err(End::Closed),
            Some(Some(Ok(Err(e)))) => {
                if transport == "serial" {
                    tracing::debug!("{e}; skipping");
                    continue;
                }
                return Err(bad_frame(peer, &e));
            }
            Some(Some(Ok(Ok(
                frame @ Frame::Message {
                    command: command::LOGIN | command::HW_LOGIN,
                    ..
                },
            )))) => return Ok(frame),
            Some(Some(Ok(Ok(Frame::Message { id, command, .. })))) => {
                PRE_LOGIN.warn(
                    peer,
                    format_args!("command {command} before login; status 5"),
                );
                if link
                    .send(Frame::Response {
                        id,
                        status: status::NOT_AUTHENTICATED,
                    })
                    .await
                    .is_err()
                {
                    return Err(End::Closed);
                }
            }
            Some(Some(Ok(Ok(Frame::Response { .. })))) => {}
        }
    }
}

/// Failures before a login, written at a bounded rate (`service::noisy`).
pub static PRE_LOGIN: std::sync::LazyLock<crate::service::noisy::Noisy> =
    std::sync::LazyLock::new(|| {
        crate::service::noisy::Noisy::new("blynk", "failures before login")
    });

fn bad_frame(peer: &str, e: &FrameError) -> End {
    PRE_LOGIN.warn(peer, format_args!("{e}; dropping the connection"));
    End::Garbage
}

struct Session<'a, S> {
    link: &'a mut Link<S>,
    ctx: &'a Context,
    peer: &'a str,
    device: String,
    token: String,
    legacy: bool,
    next_id: u16,
    last_send: Option<Instant>,
    heartbeat: Duration,
    /// Whether the sync-on-connect values have been sent.
    synced: bool,
    /// BRIDGE pins this device initialised: pin → target device.
    bridges: std::collections::HashMap<String, String>,
    bucket: &'a mut Bucket,
    serial: bool,
    /// Skipping a serial line's noise (logged once per burst).
    skipping: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    async fn serve(
        &mut self,
        mut attachment: Attachment,
        mut tenancy: tokio::sync::watch::Receiver<u64>,
    ) -> (End, String) {
        // Only frames from the device count as signs of life.
        let mut last_rx = Instant::now();
        loop {
            let silence = self.heartbeat.mul_f32(1.5);
            let event = tokio::select! {
                _ = self.ctx.shutdown.cancelled() => return (End::Closed, "the hub is stopping".into()),
                _ = attachment.kicked.cancelled() => return (End::Over, "replaced by a newer connection".into()),
                changed = tenancy.changed() => {
                    if changed.is_err() || requests::device_for_token(&self.ctx.devices, &self.token).as_deref() != Some(&self.device) {
                        return (End::Over, "its token was replaced or the device deleted".into());
                    }
                    continue;
                }
                // Nothing goes to the device before its INTERNAL is answered.
                Some(down) = attachment.downlink.recv(), if self.synced => Event::Downlink(down),
                _ = tokio::time::sleep_until(last_rx + silence) => {
                    return (End::Over, format!("silent for {}s, 1.5x its heartbeat", silence.as_secs()));
                }
                frame = self.link.next() => match frame {
                    None => return (End::Closed, "disconnected".into()),
                    Some(Err(e)) => return (End::Closed, format!("{e}")),
                    Some(Ok(Err(e))) if self.serial => {
                        if !std::mem::replace(&mut self.skipping, true) {
                            tracing::warn!("{e}; skipping bytes until frames make sense");
                        }
                        continue;
                    }
                    Some(Ok(Err(e))) => return (bad_frame(self.peer, &e), format!("{e}")),
                    Some(Ok(Ok(frame))) => {
                        self.skipping = false;
                        last_rx = Instant::now();
                        Event::Frame(frame)
                    }
                },
            };
            let result = match event {
                Event::Downlink(Downlink::Write { pin, values, .. }) => {
                    self.write_pin(pin, &values).await
                }
                Event::Frame(frame) => match self.handle(frame, &attachment).await {
                    Ok(Some(end)) => return (end, "logged in again".into()),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                },
            };
            if result.is_err() {
                return (End::Closed, "the connection failed".into());
            }
        }
    }

    /// Handles one frame from the device; `Some` ends the session.
    async fn handle(
        &mut self,
        frame: Frame,
        attachment: &Attachment,
    ) -> std::io::Result<Option<End>> {
        let Frame::Message {
            command: kind,
            id,
            body,
        } = frame
        else {
            return Ok(None); // devices answer our writes; nothing to do
        };
        let allowed = self.bucket.take();
        if allowed && (kind == command::LOGIN || kind == command::HW_LOGIN) {
            return Ok(Some(End::Relogin(Frame::Message {
                command: kind,
                id,
                body,
            })));
        }
        if !allowed {
            if !self.bucket.throttled {
                tracing::warn!(
                    "blynk: device {}: over {} messages/s; answering status 1",
                    self.device,
                    self.ctx.per_second
                );
                self.bucket.throttled = true;
            }
            return self.respond(id, status::QUOTA_LIMIT).await.map(|()| None);
        }
        let reply = match kind {
            command::PING => Reply::Status(status::OK),
            command::INTERNAL => {
                let reply = requests::internal(
                    &self.ctx.devices,
                    &self.device,
                    attachment.id,
                    &body,
                    &mut self.heartbeat,
                );
                self.respond_with(id, reply).await?;
                self.sync_on_connect().await?;
                return Ok(None);
            }
            command::HARDWARE => match Hardware::parse(&body) {
                Ok(hw) => requests::hardware(&self.ctx.devices, &self.device, hw).await,
                Err(e) => Reply::Refused(status::ILLEGAL_COMMAND_BODY, e.to_string()),
            },
            command::HARDWARE_SYNC => {
                let pins = requests::sync_pins(&body);
                for (pin, value) in self.ctx.devices.replay(&self.device, pins.as_deref()) {
                    self.write_pin(pin, &[value]).await?;
                }
                Reply::None
            }
            command::PROPERTY => requests::property(&self.ctx.devices, &self.device, &body).await,
            command::BRIDGE => {
                requests::bridge(&self.ctx.devices, &self.device, &mut self.bridges, &body).await
            }
            command::EVENT_LOG => requests::event_log(&self.ctx.devices, &self.device, &body).await,
            command::EVENT_CLEAR => {
                requests::event_clear(&self.ctx.devices, &self.device, &body).await
            }
            command::GROUP => Reply::None,
            command::DEBUG_PRINT => {
                tracing::debug!(
                    "blynk: device {} says: {}",
                    self.device,
                    String::from_utf8_lossy(&body)
                );
                Reply::None
            }
            other => Reply::Refused(
                status::ILLEGAL_COMMAND,
                format!("command {other} is not one a device sends"),
            ),
        };
        self.respond_with(id, reply).await?;
        if !self.synced {
            self.sync_on_connect().await?;
        }
        Ok(None)
    }

    async fn respond_with(&mut self, id: u16, reply: Reply) -> std::io::Result<()> {
        match reply {
            Reply::None => Ok(()),
            Reply::Status(code) => self.respond(id, code).await,
            Reply::Refused(code, why) => {
                tracing::warn!("{why}; status {code}");
                self.respond(id, code).await
            }
            Reply::Frames(frames) => {
                for (kind, body) in frames {
                    let frame = Frame::Message {
                        command: kind,
                        id,
                        body,
                    };
                    self.send(frame).await?;
                }
                Ok(())
            }
        }
    }

    async fn sync_on_connect(&mut self) -> std::io::Result<()> {
        if std::mem::replace(&mut self.synced, true) {
            return Ok(());
        }
        for (pin, value) in self.ctx.devices.on_connect(&self.device) {
            self.write_pin(pin, &[value]).await?;
        }
        Ok(())
    }

    async fn write_pin(&mut self, pin: Pin, values: &[String]) -> std::io::Result<()> {
        let (op, number) = match pin {
            Pin::Virtual(n) => ("vw", n),
            Pin::Digital(n) => ("dw", n),
            Pin::Analog(n) => ("aw", n),
        };
        let number = number.to_string();
        let mut parts: Vec<&str> = vec![op, &number];
        parts.extend(values.iter().flat_map(|v| v.split('\0')));
        let id = self.new_id();
        self.send(Frame::message(command::HARDWARE, id, &parts))
            .await
    }

    fn new_id(&mut self) -> u16 {
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        self.next_id
    }

    async fn respond(&mut self, id: u16, status: u16) -> std::io::Result<()> {
        self.send(Frame::Response { id, status }).await
    }

    /// Sends one frame in its own write, paced for legacy clients.
    async fn send(&mut self, frame: Frame) -> std::io::Result<()> {
        if self.legacy
            && let Some(last) = self.last_send
        {
            tokio::time::sleep_until(last + LEGACY_PACE).await;
        }
        let sent = tokio::time::timeout(Duration::from_secs(10), self.link.send(frame)).await;
        self.last_send = Some(Instant::now());
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the device stopped reading",
            )),
        }
    }
}

enum Event {
    Downlink(Downlink),
    Frame(Frame),
}
