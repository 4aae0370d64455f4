//! A client of a hub's API, for the `hearth` command line: HTTPS pinned to
//! the hub's certificate fingerprint (what `hearth status` and mDNS show;
//! no CA, no hostname check) with a bearer token, or the admin socket on
//! the hub itself. One connection per request. The sync links use it too (`request_within`).
//! It never speaks https without a pinned fingerprint: such a URL is refused, not trusted.

pub mod login;
pub mod pinned;

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::ServerName;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the hub at {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("the hub presented a certificate other than the pinned one: is the fingerprint right?")]
    Fingerprint,
    #[error("TLS with the hub failed: {0}")]
    Tls(std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("no answer within {} s", .0.as_secs_f32())]
    TimedOut(std::time::Duration),
    #[error("{0}")]
    Other(String),
}

/// How to reach a hub.
#[derive(Debug, Clone)]
pub enum Target {
    /// HTTPS at `addr` (`host:port`), certificate pinned to `fingerprint`
    /// (SHA-256, hex).
    Https { addr: String, fingerprint: String },
    /// Plain HTTP at `addr` (a hub or cloud configured without TLS).
    Http { addr: String },
    /// The admin socket on the hub itself (acts as the console).
    Console(std::path::PathBuf),
}

#[derive(Debug, Clone)]
pub struct Client {
    pub target: Target,
    pub token: Option<String>,
}

/// An answer: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The body of a 2xx answer, else the API's own message.
    ///
    /// # Errors
    /// The error message the hub gave, with its code.
    pub fn ok(self) -> Result<Value, String> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let message = self.body["message"]
            .as_str()
            .map_or_else(|| self.body.to_string(), str::to_owned);
        Err(match self.body["code"].as_str() {
            Some(code) => format!("{message} ({code}, HTTP {})", self.status),
            None => format!("{message} (HTTP {})", self.status),
        })
    }
}

impl Client {
    /// A client of the API at `base` (`https://host:port`, pinned to
    /// `fingerprint`, or `http://host:port`).
    ///
    /// # Errors
    /// A message naming what is wrong with `base`.
    pub fn for_url(base: &str, fingerprint: Option<&str>) -> Result<Client, String> {
        let url = url::Url::parse(base).map_err(|e| format!("{base}: {e}"))?;
        let host = url.host_str().ok_or_else(|| format!("{base}: no host"))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{base}: no port"))?;
        let addr = format!("{host}:{port}");
        let target = match (url.scheme(), fingerprint) {
            ("https", Some(fp)) => Target::Https {
                addr,
                fingerprint: fp.to_owned(),
            },
            ("https", None) => {
                return Err(format!(
                    "{base}: an https URL needs the certificate's fingerprint (--fingerprint)"
                ));
            }
            ("http", _) => Target::Http { addr },
            (other, _) => return Err(format!("{base}: {other}:// is neither https nor http")),
        };
        Ok(Client {
            target,
            token: None,
        })
    }

    /// `method` `/api/v1{path}` with an optional JSON body.
    ///
    /// # Errors
    /// [`ClientError`] when the hub cannot be reached or spoken to.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, ClientError> {
        self.request(method, &format!("/api/v1{path}"), body).await
    }

    /// [`Client::request`], given up after `limit`: what a task that runs
    /// unattended calls, so a peer gone silent (no reset) cannot hold it.
    ///
    /// # Errors
    /// [`ClientError::TimedOut`], or as [`Client::request`].
    pub async fn request_within(
        &self,
        limit: std::time::Duration,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, ClientError> {
        tokio::time::timeout(limit, self.request(method, path, body))
            .await
            .map_err(|_| ClientError::TimedOut(limit))?
    }

    /// `method` `path` (outside `/api/v1`: the cloud's `/cloud/v1`).
    ///
    /// # Errors
    /// [`ClientError`] when the peer cannot be reached or spoken to.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, ClientError> {
        match &self.target {
            Target::Http { addr } => {
                let tcp = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|source| ClientError::Connect {
                        addr: addr.clone(),
                        source,
                    })?;
                self.exchange(tcp, method, path, body).await
            }
            Target::Https { addr, fingerprint } => {
                let tcp = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|source| ClientError::Connect {
                        addr: addr.clone(),
                        source,
                    })?;
                let config = pinned::config(fingerprint);
                let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect(
                        ServerName::try_from("hearth.local").expect("a valid name"),
                        tcp,
                    )
                    .await
                    .map_err(|e| {
                        if pinned::is_pin_mismatch(&e) {
                            ClientError::Fingerprint
                        } else {
                            ClientError::Tls(e)
                        }
                    })?;
                self.exchange(tls, method, path, body).await
            }
            Target::Console(socket) => {
                let unix = tokio::net::UnixStream::connect(socket)
                    .await
                    .map_err(|source| ClientError::Connect {
                        addr: socket.display().to_string(),
                        source,
                    })?;
                self.exchange(unix, method, path, body).await
            }
        }
    }

    async fn exchange<IO>(
        &self,
        io: IO,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, ClientError>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await?;
        // The connection is driven for as long as this exchange lasts, and
        // no longer: the body is read before the handle drops.
        let _conn = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(conn));
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "hearth.local");
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let bytes = match &body {
            Some(json) => {
                req = req.header("content-type", "application/json");
                Bytes::from(json.to_string())
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(bytes))
            .map_err(|e| ClientError::Other(e.to_string()))?;
        let response = sender.send_request(req).await?;
        let status = response.status().as_u16();
        let collected = response.into_body().collect().await?.to_bytes();
        let body = if collected.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&collected)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&collected).into()))
        };
        Ok(Reply { status, body })
    }
}
