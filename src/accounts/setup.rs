//! The one-time setup code of a hub that has no household yet.
//!
//! 50 random bits in Crockford base32 (`XXXXX-XXXXX`: no I, L, O or U to
//! misread), written to `setup-code` in the state directory (mode 0600: root
//! and the service user read it with `hearth setup-code`) and logged. It
//! expires after a day and a new one is made at the next start; it is
//! deleted once used. Wrong codes are throttled by the caller.
//!
//! Owns the code's file only. It never logs the code or decides whether setup may happen (the
//! accounts layer does both), and `matches` never stops at the first differing character.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE: &str = crate::state_dir::SETUP_CODE_FILE;
/// How long a code is valid.
pub const LIFETIME_SECS: i64 = 24 * 3600;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupCode {
    pub code: String,
    /// Unix seconds.
    pub expires: i64,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// The current code, if there is one and it has not expired.
pub fn read(state_dir: &Path, now: i64) -> Option<SetupCode> {
    read_or_why(state_dir, now).ok()
}

/// Why there is no current code to read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    /// No code file: the hub is set up, or has not started on this state.
    Missing,
    /// This user may not read it (root and the hub's user may).
    Denied,
    /// It expired at this time (seconds since the epoch).
    Expired(i64),
    /// The file is not a code (damaged, or written by something else).
    Garbled,
}

/// The current code, or why there is none.
///
/// # Errors
/// The [`Unread`] reason.
pub fn read_or_why(state_dir: &Path, now: i64) -> Result<SetupCode, Unread> {
    let text = std::fs::read_to_string(path(state_dir)).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => Unread::Denied,
        std::io::ErrorKind::NotFound => Unread::Missing,
        _ => Unread::Garbled,
    })?;
    let code: SetupCode = serde_json::from_str(&text).map_err(|_| Unread::Garbled)?;
    if code.expires > now {
        Ok(code)
    } else {
        Err(Unread::Expired(code.expires))
    }
}

/// The current code, or a new one (written to the state directory).
///
/// # Errors
/// When the file cannot be written.
pub fn ensure(state_dir: &Path, now: i64) -> std::io::Result<SetupCode> {
    if let Some(code) = read(state_dir, now) {
        return Ok(code);
    }
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    let code = SetupCode {
        code: format!("{}-{}", &chars[..5], &chars[5..]),
        expires: now + LIFETIME_SECS,
    };
    let text = serde_json::to_vec(&code).map_err(std::io::Error::other)?;
    crate::state_dir::write_atomic(&path(state_dir), &text, 0o600)?;
    Ok(code)
}

/// Does `given` match the current code? Case, spaces and dashes do not
/// matter; the comparison does not stop at the first difference.
pub fn matches(current: &SetupCode, given: &str) -> bool {
    let norm = |s: &str| -> Vec<u8> {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase() as u8)
            .collect()
    };
    let (a, b) = (norm(&current.code), norm(given));
    a.len() == b.len() && a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Removes the code once the household exists.
pub fn consume(state_dir: &Path) {
    let _ = std::fs::remove_file(path(state_dir));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_kept_until_it_expires_and_matches_loosely() {
        let dir = tempfile::tempdir().unwrap();
        let code = ensure(dir.path(), 1000).unwrap();
        assert_eq!(code.code.len(), 11);
        assert_eq!(
            ensure(dir.path(), 2000).unwrap(),
            code,
            "same code while valid"
        );
        assert!(matches(&code, &code.code.to_lowercase().replace('-', " ")));
        assert!(!matches(&code, "00000-00000"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(path(dir.path())).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let later = ensure(dir.path(), 1000 + LIFETIME_SECS).unwrap();
        assert_ne!(later.code, code.code, "a new code after expiry");
        consume(dir.path());
        assert!(read(dir.path(), 1000).is_none());
    }
}

#[cfg(test)]
mod why_tests {
    use super::*;

    /// No file, an expired code and a damaged file are told apart.
    #[test]
    fn a_missing_expired_or_damaged_code_says_which() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_or_why(dir.path(), 0).err(), Some(Unread::Missing));
        let code = ensure(dir.path(), 1_000).unwrap();
        assert_eq!(read_or_why(dir.path(), 1_000).ok(), Some(code.clone()));
        assert_eq!(
            read_or_why(dir.path(), code.expires).err(),
            Some(Unread::Expired(code.expires))
        );
        std::fs::write(path(dir.path()), "not json").unwrap();
        assert_eq!(read_or_why(dir.path(), 0).err(), Some(Unread::Garbled));
    }
}
