//! A client of a hub's API, for the `hearth` command line: HTTPS pinned to
//! the hub's certificate fingerprint (what `hearth status` and mDNS show;
//! no CA, no hostname check), one connection per request, bearer token.

pub mod login;
mod pinned;

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
    #[error("TLS with the hub failed (is the fingerprint right?): {0}")]
    Tls(std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("{0}")]
    Other(String),
}

/// Where a hub listens and the certificate it must present.
#[derive(Debug, Clone)]
pub struct Client {
    /// `host:port`.
    pub addr: String,
    /// SHA-256 of the hub's certificate, hex.
    pub fingerprint: String,
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
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: self.addr.clone(),
                source,
            })?;
        let config = pinned::config(&self.fingerprint);
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(
                ServerName::try_from("hearth.local").expect("a valid name"),
                tcp,
            )
            .await
            .map_err(ClientError::Tls)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
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
