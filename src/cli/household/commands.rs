//! The household subcommands as parsed from the command line ([`Request`]
//! and the `clap` enums under it). Plain data: nothing here talks to a hub
//! or prints. Wherever a device, organization, template, role or
//! membership goes, its name does too ([`super::names`]).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Every device you may see, across all your organizations and shares.
    List,
    /// Add a device to an organization; prints its auth token, once.
    Add {
        org: String,
        name: String,
        /// The template (datastreams, events) it follows.
        #[arg(long)]
        template: Option<String>,
    },
    /// Transfer a device to a member (email or user id).
    Transfer {
        device: String,
        to: String,
        /// Destination organization, when they belong to several.
        #[arg(long)]
        org: Option<String>,
    },
    /// Move a device to another organization.
    Move { device: String, org: String },
    /// Give a device another name.
    Rename { device: String, name: String },
    /// Make a device another kind: a template of its organization or
    /// above, or `none`.
    Template { device: String, template: String },
    /// Delete a device (Manage Devices in its organization).
    Delete { device: String },
    /// Its live values: each pin's newest value, when, and commands the
    /// device has not confirmed yet.
    Values { device: String },
    /// One pin's history, oldest first.
    History {
        device: String,
        /// V1, D13, A0.
        pin: String,
        /// How far back.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// raw, or minute/hour count, average, min and max.
        #[arg(long, default_value = "raw")]
        aggregation: String,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Send a value to a pin (a command: the switch, the set point).
    Set {
        device: String,
        pin: String,
        /// One value, or several (`vw` with many values).
        #[arg(required = true, num_args = 1..)]
        value: Vec<String>,
    },
    /// Issue a new auth token (shown once; the old one stops working).
    Token { device: String },
}

/// A template definition read from a JSON file (`-` is standard input).
fn definition(path: &str) -> Result<serde_json::Value, String> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?
    };
    serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// The roles you may see, each with its organization and permissions.
    List,
    /// Define a role in an organization, usable there and below. Its
    /// permissions, comma-separated or one per word: view_org_devices,
    /// control_org_devices, view_own_devices, control_own_devices,
    /// manage_users, manage_devices, manage_orgs, manage_roles.
    Add {
        org: String,
        name: String,
        #[arg(required = true, num_args = 1.., value_delimiter = ',')]
        permissions: Vec<String>,
    },
    /// Replace a role's permissions (everyone holding it follows).
    Edit {
        role: String,
        #[arg(required = true, num_args = 1.., value_delimiter = ',')]
        permissions: Vec<String>,
    },
    /// Delete a role nobody holds (built-in roles cannot be).
    Delete { role: String },
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// The templates you may see, each with its organization.
    List,
    /// Define a template in an organization from a JSON file of its
    /// datastreams and events (README: a full thermostat).
    Add {
        org: String,
        name: String,
        #[arg(long = "file", value_name = "FILE", value_parser = definition)]
        definition: serde_json::Value,
    },
    /// Replace a template's definition (devices using it follow).
    Edit {
        template: String,
        #[arg(long = "file", value_name = "FILE", value_parser = definition)]
        definition: serde_json::Value,
    },
    /// Delete a template no device uses.
    Delete { template: String },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Organizations you may see.
    List,
    /// Create a sub-organization.
    Add { parent: String, name: String },
    /// Give an organization another name.
    Rename { org: String, name: String },
    /// Delete an organization with no devices, members or sub-organizations.
    Delete { org: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Members of the organizations you may see.
    List,
    /// Invite someone (prints their invite code if they need one).
    Invite {
        email: String,
        org: String,
        #[arg(default_value = "user")]
        role: String,
    },
    /// Change a membership's role.
    Role { membership: String, role: String },
    /// Remove a membership.
    Remove { membership: String },
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a device with a member (email or user id).
    Add {
        device: String,
        with: String,
        /// Let them control it, not only see it.
        #[arg(long)]
        control: bool,
        /// Hours until the share ends.
        #[arg(long)]
        hours: Option<u32>,
    },
    /// Shares of a device (or of every device you may share), with whom,
    /// what they may do and until when.
    List { device: Option<String> },
    /// Who can see or control a device, and why.
    Who { device: String },
    /// Revoke a share (its id, from `share list`).
    Remove { share: String },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Each peer this hub syncs with and whether it is connected.
    Status,
    /// Issue a read-only replication grant (for admin tooling): its token
    /// and the peer id to use, shown this once.
    Grant,
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Print a one-time code (valid an hour) with which another hub joins.
    Pair,
    /// On a new hub, as its console: join the household of the hub at URL.
    Join {
        /// The household's hub, `https://host:port`.
        url: String,
        code: String,
        /// SHA-256 of that hub's certificate (its `hearth status`).
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// The household's hubs.
    List,
    /// Revoke a hub: no other hub nor the cloud accepts it again.
    Revoke { id: String },
}

/// What a household command asks of the hub.
pub enum Request {
    Device(DeviceCommand),
    Org(OrgCommand),
    User(UserCommand),
    Share(ShareCommand),
    Role(RoleCommand),
    Template(TemplateCommand),
    Audit,
    Sync(SyncCommand),
    Hub(HubCommand),
    /// Link the household to the cloud at `url` with a one-time `code`.
    CloudLink {
        url: String,
        code: String,
        fingerprint: Option<String>,
    },
}
