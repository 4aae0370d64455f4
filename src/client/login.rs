//! The command line's saved login: hub address, certificate fingerprint
//! and bearer token, in `$XDG_CONFIG_HOME/hearth/login.json` (else
//! `~/.config/hearth/login.json`), readable by its owner only. It never keeps the password,
//! only the token the login returned, and writes the file atomically, never wider than 0600.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedLogin {
    pub addr: String,
    pub fingerprint: String,
    pub token: String,
    pub email: String,
}

/// Where the login is kept.
pub fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("hearth").join("login.json"))
}

pub fn load() -> Option<SavedLogin> {
    let text = std::fs::read(path()?).ok()?;
    serde_json::from_slice(&text).ok()
}

/// # Errors
/// When the file cannot be written.
pub fn save(login: &SavedLogin) -> std::io::Result<PathBuf> {
    let path = path().ok_or_else(|| std::io::Error::other("no home directory"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_vec_pretty(login).map_err(std::io::Error::other)?;
    crate::state_dir::write_atomic(&path, &text, 0o600)?;
    Ok(path)
}

pub fn forget() {
    if let Some(path) = path() {
        let _ = std::fs::remove_file(path);
    }
}
