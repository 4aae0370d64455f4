//! The cloud's API for people (`/cloud/v1`: one login across households),
//! listed once like the hub's own (`crate::api::endpoints`): the router
//! takes these routes from the list and the OpenAPI document is generated
//! from it (in the test build, where it must equal the app's copy
//! `app/cloud-openapi.json`, which `GET /cloud/v1/openapi.json` serves), so
//! the household app's cloud types (`npm run types`) come from the same
//! Rust types the handlers answer with. The hubs' own routes (link,
//! sync, telemetry, relay) and the operator's (codes, hubs) are not for
//! the app and stay undocumented here.

use axum::Router;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::CloudState;
use super::login;
use crate::api::endpoints::{Endpoint, document};
use crate::tenancy::access::VisibleDevice;

/// The answer to a login: each household the person is now logged into,
/// and, for a program (not a browser, which gets the cloud's cookie), one
/// combined token for `/cloud/v1/me` and `/cloud/v1/devices`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct LoggedIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub households: Vec<CloudHousehold>,
}

/// The households whose sessions still hold.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Households {
    pub households: Vec<CloudHousehold>,
}

/// A household the person is logged into, described only as they may see
/// it there.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CloudHousehold {
    /// The household's tenant id at this cloud.
    pub tenant: String,
    /// The names of the person's own organizations there (never the root's
    /// unless they are a member of it), sorted, comma-separated.
    pub household: String,
    /// The person's email there.
    pub email: String,
    /// The household's own API at this cloud.
    pub api: String,
    /// The household's app at this cloud.
    pub app: String,
    /// The household's own session token (a program's login only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A device of one of the person's households, as that household's own
/// `GET /api/v1/devices` lists it, with the household it is in.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub struct CloudDevice {
    #[serde(flatten)]
    pub device: VisibleDevice,
    /// The tenant id of its household.
    pub tenant: String,
    /// Its hub is connected to the cloud and has it online: a command from
    /// here can reach it now.
    pub online: bool,
}

#[cfg(test)]
const CLOUD_API: crate::api::endpoints::Info = crate::api::endpoints::Info {
    title: "Hearth cloud API",
    description: "One login across the households whose hubs are linked to this cloud. \
        A browser logs in with `cookie: true` and is given the cloud's HttpOnly cookie; \
        a program is given a combined token. Each household's own API is at \
        `/tenants/<tenant>/api/v1`.",
    server: "/cloud/v1",
};

/// Every documented `/cloud/v1` route, this document's own included.
fn all() -> Vec<Endpoint<CloudState>> {
    use Endpoint as E;
    vec![
        E::public(
            "POST",
            "/login",
            "Log in once to every household of an email",
            post(login::login),
        )
        .body::<login::LoginBody>()
        .answers::<LoggedIn>(200),
        E::new(
            "GET",
            "/me",
            "The households whose sessions still hold",
            get(login::me),
        )
        .answers::<Households>(200),
        E::new(
            "POST",
            "/logout",
            "End the session in every household of the login",
            post(login::logout),
        )
        .answers_empty(204),
        E::new(
            "GET",
            "/devices",
            "Every device the person may see in any of their households",
            get(login::devices),
        )
        .answers::<Vec<CloudDevice>>(200),
        E::public(
            "GET",
            "/openapi.json",
            "This document",
            get(|| async { document(include_str!("../../app/cloud-openapi.json")) }),
        )
        .answers::<Value>(200),
    ]
}

/// The documented `/cloud/v1` routes, for the cloud's router.
pub fn router() -> Router<CloudState> {
    all().into_iter().fold(Router::new(), |router, e| {
        router.route(&format!("/cloud/v1{}", e.path), e.route)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_endpoint_documents_its_answers() {
        assert!(super::all().iter().all(|e| !e.answers.is_empty()));
    }

    /// The app's cloud types come from `app/cloud-openapi.json`.
    #[test]
    fn the_apps_copy_of_the_cloud_document_is_current() {
        let doc = crate::api::endpoints::openapi(&super::all(), &super::CLOUD_API);
        crate::api::endpoints::the_apps_copy_is_current(&doc, "cloud-openapi.json");
    }
}
