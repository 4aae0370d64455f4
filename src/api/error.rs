//! Errors as JSON: a stable `code` for programs and a `message` a person can
//! act on. 401 without a valid token, 403 naming the missing permission on
//! something the caller can see, 404 for anything outside their view.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::accounts::AccountError;
use crate::ble::BleError;
use crate::devices::DeviceError;
use crate::tenancy::{OpError, ReplicaError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The permission a 403 is about.
    pub permission: Option<&'static str>,
    pub retry_after: Option<Duration>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    permission: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            permission: None,
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in first: send `Authorization: Bearer <token>` (POST /api/v1/login gives one)",
        )
    }

    /// A request that carries the browser's session cookie but did not
    /// come from the hub's own app (a cross-site form or script).
    pub fn cross_origin() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "this request carries the hub's session cookie but does not come from the hub's own \
             app, so it is refused; other programs send `Authorization: Bearer <token>`",
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    /// A failure inside the hub (its database, its replica): the full text
    /// goes to the log with an incident id, and the client hears only the
    /// id, never a path, a query or a document id.
    pub fn internal(status: StatusCode, detail: impl std::fmt::Display) -> Self {
        let incident = crate::random_hex(4);
        tracing::error!(%incident, "api: {detail}");
        let code = if status == StatusCode::SERVICE_UNAVAILABLE {
            "unavailable"
        } else {
            "internal"
        };
        ApiError::new(
            status,
            code,
            format!(
                "something failed inside the hub (incident {incident}); the hub's log says what"
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            permission: self.permission,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Every refusal the framework makes on its own (405, a path or query
/// that does not parse, 413, 415 …) answers JSON like the rest:
/// `{code, message}`, the framework's text as the message.
pub async fn json_refusals(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let allowed = parts
        .headers
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let message = match (text.is_empty(), allowed) {
        (true, Some(allow)) => format!("this route does not take {status}; it allows {allow}"),
        (true, None) => status
            .canonical_reason()
            .unwrap_or("refused")
            .to_lowercase(),
        (false, _) => text,
    };
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        s if s.is_server_error() => "internal",
        _ => "refused",
    };
    let body = serde_json::to_vec(&ErrorBody {
        code,
        message: &message,
        permission: None,
    })
    .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        let message = e.to_string();
        match e {
            OpError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            OpError::Denied { permission, .. } => ApiError {
                permission: Some(permission.name()),
                ..ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
            },
            OpError::Refused(_) => ApiError::new(StatusCode::CONFLICT, "refused", message),
            OpError::Invalid(_) => ApiError::invalid(message),
            OpError::SchemaTooNew(_) => {
                ApiError::new(StatusCode::CONFLICT, "schema_too_new", message)
            }
            OpError::Internal(_) => ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, message),
        }
    }
}

impl From<ReplicaError> for ApiError {
    fn from(e: ReplicaError) -> Self {
        match e {
            ReplicaError::Op(op) => op.into(),
            ReplicaError::NoTenant => ApiError::new(
                StatusCode::CONFLICT,
                "not_set_up",
                "this hub has no household yet: set it up first (POST /api/v1/setup)",
            ),
            ReplicaError::AlreadyFounded => ApiError::new(
                StatusCode::CONFLICT,
                "already_set_up",
                "this hub is already set up; log in instead",
            ),
            ReplicaError::NotOffered(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
            other => ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, other),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, e)
    }
}

impl From<DeviceError> for ApiError {
    fn from(e: DeviceError) -> Self {
        let message = e.to_string();
        match e {
            DeviceError::NotFound(what) => OpError::NotFound(what).into(),
            DeviceError::Denied { permission, .. } => ApiError {
                permission: permission.map(|p| p.name()),
                ..ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
            },
            DeviceError::Invalid(_) => ApiError::invalid(message),
            DeviceError::Refused(_) => ApiError::new(StatusCode::CONFLICT, "refused", message),
            DeviceError::Offline(_) => {
                ApiError::new(StatusCode::CONFLICT, "device_offline", message)
            }
            DeviceError::Busy(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "device_busy", message)
            }
            DeviceError::Store(e) => e.into(),
            DeviceError::Replica(e) => e.into(),
        }
    }
}

impl From<BleError> for ApiError {
    fn from(e: BleError) -> Self {
        match e {
            BleError::Op(e) => e.into(),
            BleError::Replica(e) => e.into(),
            BleError::Store(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        let message = e.to_string();
        match e {
            AccountError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            AccountError::BadSetupCode => {
                ApiError::new(StatusCode::FORBIDDEN, "bad_setup_code", message)
            }
            AccountError::AlreadySetUp => {
                ApiError::new(StatusCode::CONFLICT, "already_set_up", message)
            }
            AccountError::Throttled(wait) => ApiError {
                retry_after: Some(wait),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message)
            },
            AccountError::Busy(wait) => ApiError {
                retry_after: Some(wait),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
            },
            AccountError::NoMembership => {
                ApiError::new(StatusCode::FORBIDDEN, "no_membership", message)
            }
            AccountError::Invalid(_) => ApiError::invalid(message),
            AccountError::Tenancy(e) => e.into(),
            AccountError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_failure_answers_an_incident_id_never_its_text() {
        let failures = [
            ApiError::from(crate::store::StoreError::Open {
                path: "/var/lib/hearth/hearth.db".into(),
                source: rusqlite::Error::InvalidQuery,
            }),
            ApiError::from(ReplicaError::Missing("3JG5LQaL6Mu5We94om3ZigaEC9vu".into())),
            ApiError::from(OpError::Internal("a task panicked at src/x.rs".into())),
        ];
        for answer in failures {
            assert!(answer.status.is_server_error(), "{answer:?}");
            assert!(answer.message.contains("(incident "), "{answer:?}");
            for secret in ["/var/lib", "3JG5LQ", "src/x.rs", "database"] {
                assert!(!answer.message.contains(secret), "{answer:?}");
            }
        }
    }
}
