//! The API's one list of endpoints: the router is built from it, and so is
//! the OpenAPI document, so the two cannot drift apart;
//! `tests/api_openapi.rs` checks every documented route answers. An
//! endpoint's `public` mark only documents: it never opens or closes a
//! route, which its handler's `Authed` extractor does.
//!
//! The document is generated from the handlers' types (schemars) in the
//! test build only, where it must equal the household app's copy
//! (`app/openapi.json`, from which the app's types are generated); the hub
//! serves that copy (`GET /api/v1/openapi.json`), so the schema-generating
//! code is not in the binary.

use axum::Router;
use axum::routing::{MethodRouter, get};
use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use super::AppState;
use super::auth::Authed;
#[cfg(test)]
use super::error::ErrorBody;

/// A JSON schema, generated when the document is built (in the test build;
/// elsewhere nothing: the document served is the checked copy).
pub type Schema = fn() -> Value;

/// One documented route of a router whose state is `S` (the hub's
/// [`AppState`], or the cloud's own for `/cloud/v1`).
pub struct Endpoint<S = AppState> {
    pub method: &'static str,
    /// Under `/api/v1`, with `{name}` path parameters.
    pub path: &'static str,
    pub summary: &'static str,
    /// Answers without a token (health, setup, login, accepting an invite).
    pub public: bool,
    pub route: MethodRouter<S>,
    /// The JSON schema of the request body, from the type the handler
    /// reads it into ([`Endpoint::body`]).
    pub body: Option<Schema>,
    /// Each success status with the JSON schema of its body (`None`: no
    /// body), from the type the handler answers with
    /// ([`Endpoint::answers`]).
    pub answers: Vec<(u16, Option<Schema>)>,
}

impl<S: Clone + Send + Sync + 'static> Endpoint<S> {
    pub fn new(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        route: MethodRouter<S>,
    ) -> Self {
        Endpoint {
            method,
            path,
            summary,
            public: false,
            route,
            body: None,
            answers: Vec::new(),
        }
    }

    /// Documents the request body as the handler's `T`.
    pub fn body<T: schemars::JsonSchema>(self) -> Self {
        Endpoint {
            body: Some(schema_fn::<T>()),
            ..self
        }
    }

    /// Documents a `status` answer as the handler's `T`.
    pub fn answers<T: schemars::JsonSchema>(mut self, status: u16) -> Self {
        self.answers.push((status, Some(schema_fn::<T>())));
        self
    }

    /// Documents a `status` answer without a body (204, 101).
    pub fn answers_empty(mut self, status: u16) -> Self {
        self.answers.push((status, None));
        self
    }

    pub fn public(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        route: MethodRouter<S>,
    ) -> Self {
        Endpoint {
            public: true,
            ..Endpoint::new(method, path, summary, route)
        }
    }
}

/// Every endpoint, the OpenAPI document's own included.
fn all() -> Vec<Endpoint> {
    let mut all: Vec<Endpoint> = [
        super::health::endpoints(),
        super::trust::endpoints(),
        super::account::endpoints(),
        super::devices::endpoints(),
        super::sharing::endpoints(),
        super::connect::endpoints(),
        super::people::endpoints(),
        super::provisioning::endpoints(),
        super::values::endpoints(),
        super::ble::endpoints(),
        super::stream::endpoints(),
        super::sync::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect();
    all.push(
        Endpoint::new(
            "GET",
            "/openapi.json",
            "This document",
            get(|_: Authed| async { document(LOCAL_DOCUMENT) }),
        )
        .answers::<Value>(200),
    );
    all
}

/// The household app's copy of this API's document (checked equal to the
/// generated one by the test below).
const LOCAL_DOCUMENT: &str = include_str!("../../app/openapi.json");

/// A checked copy of an OpenAPI document, as an answer.
pub fn document(json: &'static str) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json,
    )
}

/// The `/api/v1` router.
pub fn router() -> Router<AppState> {
    all()
        .into_iter()
        .fold(Router::new(), |router, e| router.route(e.path, e.route))
}

/// The generator of `T`'s schema where the document is generated.
#[cfg(test)]
fn schema_fn<T: schemars::JsonSchema>() -> Schema {
    schema_of::<T>
}

#[cfg(not(test))]
#[allow(clippy::extra_unused_type_parameters)] // the bound keeps both builds honest
fn schema_fn<T: schemars::JsonSchema>() -> Schema {
    || Value::Null
}

/// `T`'s JSON schema (2020-12, as OpenAPI 3.1 takes it), self-contained.
#[cfg(test)]
fn schema_of<T: schemars::JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
    }
    schema
}

#[cfg(test)]
fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Answer")
}

/// What an OpenAPI document says of the API it describes.
#[cfg(test)]
pub struct Info {
    pub title: &'static str,
    pub description: &'static str,
    /// Where its paths are.
    pub server: &'static str,
}

#[cfg(test)]
const LOCAL_API: Info = Info {
    title: "Hearth local API",
    description: "The hub's authenticated local API. 401 without a valid token, \
        403 naming the permission, 404 for anything outside the caller's view.",
    server: "/api/v1",
};

/// The OpenAPI 3.1 document of `endpoints`.
#[cfg(test)]
pub fn openapi<S>(endpoints: &[Endpoint<S>], info: &Info) -> Value {
    let mut paths = serde_json::Map::new();
    for e in endpoints {
        let params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut responses = serde_json::Map::new();
        for (status, schema) in &e.answers {
            let mut answer = json!({ "description": reason(*status) });
            if let Some(schema) = schema {
                answer["content"] = json!({ "application/json": { "schema": schema() } });
            }
            responses.insert(status.to_string(), answer);
        }
        responses.insert(
            "default".into(),
            json!({
                "description": "A refusal: a stable code, a message a person can act on, \
                    and for a 403 the permission it is about",
                "content": { "application/json": { "schema": schema_of::<ErrorBody<'static>>() } },
            }),
        );
        let mut op = json!({ "summary": e.summary, "responses": responses });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(schema) = e.body {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": schema() } },
            });
        }
        op["security"] = if e.public {
            json!([])
        } else {
            json!([{ "bearer": [] }])
        };
        let entry = paths
            .entry(e.path.to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        entry[e.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": info.title,
            "version": env!("CARGO_PKG_VERSION"),
            "description": info.description,
        },
        "servers": [{ "url": info.server }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        },
        "paths": paths,
    })
}

/// Checks (and with `HEARTH_WRITE_OPENAPI` set, rewrites) the household
/// app's copy `app/<file>` of a document: its TypeScript types are
/// generated from that copy (`npm run types`).
#[cfg(test)]
pub(crate) fn the_apps_copy_is_current(doc: &Value, file: &str) {
    let doc = serde_json::to_string_pretty(doc).unwrap() + "\n";
    let path = format!("{}/app/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("HEARTH_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let copy = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        copy == doc,
        "app/{file} differs from the API: run `HEARTH_WRITE_OPENAPI=1 cargo test --lib \
         the_apps_copy`, then `npm run types` in app/"
    );
}

#[cfg(test)]
mod tests {
    /// An endpoint without a documented answer would have nothing for a
    /// client (or schemathesis) to check its responses against.
    #[test]
    fn every_endpoint_documents_its_answers() {
        let undocumented: Vec<String> = super::all()
            .iter()
            .filter(|e| e.answers.is_empty())
            .map(|e| format!("{} {}", e.method, e.path))
            .collect();
        assert!(
            undocumented.is_empty(),
            "no answer documented: {undocumented:?}"
        );
    }

    /// The household app's API types are generated from its copy of this
    /// document (`app/openapi.json`, `npm run types`): a route or schema
    /// changed here must reach the app. `HEARTH_WRITE_OPENAPI=1` rewrites
    /// the copy.
    #[test]
    fn the_apps_copy_of_the_document_is_current() {
        let all = super::all();
        super::the_apps_copy_is_current(&super::openapi(&all, &super::LOCAL_API), "openapi.json");
    }
}
