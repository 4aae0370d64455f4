//! Request bodies: JSON read up to a limit, with our own errors.
//!
//! A body over the limit is answered 413 *after* the rest of it is read
//! and discarded (up to a bound): on HTTP/2 an answer sent with the request
//! still streaming ends in a stream reset, and clients such as curl then
//! drop the answer and report a protocol error instead of the 413. It never holds more than
//! `BODY_LIMIT` of a body in memory, and never drains past 16 MiB or 5 s before answering.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The largest body any endpoint takes (axum's default limit, kept).
pub const BODY_LIMIT: usize = 2 << 20;
/// How much past the limit is read and dropped so the 413 is heard; a
/// larger body gets the answer and then the reset.
const DRAIN_AT_MOST: usize = 16 << 20;
/// How long the rest may take to arrive.
const DRAIN_FOR: Duration = Duration::from_secs(5);

/// A JSON body whose errors are ours: `{"code": "invalid", "message": …}`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, mut body) = req.into_parts();
        let mut read = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::invalid(format!("reading the body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if read.len() + data.len() > BODY_LIMIT {
                drain(body).await;
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the body is over the limit of {BODY_LIMIT} bytes"),
                ));
            }
            read.extend_from_slice(&data);
        }
        let req = Request::from_parts(parts, Body::from(read));
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|e| ApiError::invalid(e.body_text()))
    }
}

/// Reads and drops what is left of `body`, within the bounds above.
async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(DRAIN_FOR, async {
        let mut dropped = 0;
        while let Some(Ok(frame)) = body.frame().await {
            dropped += frame.data_ref().map_or(0, |d| d.len());
            if dropped > DRAIN_AT_MOST {
                break;
            }
        }
    })
    .await;
}
