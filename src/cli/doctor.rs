//! `hearth doctor`: checks an installed hub and prints one line per finding,
//! each problem with what to do about it. It reads what any admin could look
//! at (the configuration, the state directory, `runtime.json`, the database
//! read-only, systemd, the hub's public `/health` and `/trust`, its sync links
//! through the admin socket) and changes nothing.
//!
//! Exit status: 0 nothing wrong, 1 a problem, 2 only warnings.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::config::Config;
use crate::runtime::RuntimeInfo;
use crate::state_dir::{RUNTIME_FILE, StateDir};

mod checks;
mod hub;
mod mdns;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub level: Level,
    pub what: String,
    /// What to do, for a problem or a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn ok(check: &'static str, what: impl Into<String>) -> Self {
        Finding {
            check,
            level: Level::Ok,
            what: what.into(),
            fix: None,
        }
    }
    fn warn(check: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            check,
            level: Level::Warn,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(check: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            check,
            level: Level::Fail,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What the checks look at.
pub struct Install<'a> {
    pub config: &'a Config,
    /// The configuration file, when there is one (else the built-in defaults).
    pub config_path: Option<&'a Path>,
    pub state_dir: &'a Path,
    /// The hub running on `state_dir`, when one is.
    pub hub: Option<RuntimeInfo>,
    pub now_ms: i64,
}

impl Install<'_> {
    /// The configuration as a person finds it.
    fn config_name(&self) -> String {
        match self.config_path {
            Some(path) => path.display().to_string(),
            None => "a new /etc/hearth/hearth.toml (none exists: built-in defaults)".into(),
        }
    }
}

/// Runs every check on the install of `config` and `state_dir`.
pub fn doctor(
    config: &Config,
    config_path: Option<&Path>,
    state_dir: &Path,
    json: bool,
) -> ExitCode {
    let hub = StateDir::is_locked(state_dir)
        .then(|| std::fs::read(state_dir.join(RUNTIME_FILE)).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice::<RuntimeInfo>(&bytes).ok());
    let install = Install {
        config,
        config_path,
        state_dir,
        hub,
        now_ms: crate::clock::Clock::system().now_ms(),
    };
    if !json {
        eprintln!(
            "hearth: checking the hub of {} with {}",
            state_dir.display(),
            install.config_name()
        );
    }
    let findings = examine(&install);
    let worst = findings.iter().map(|f| f.level).max().unwrap_or(Level::Ok);
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    let (problems, warnings) = (count(Level::Fail), count(Level::Warn));
    if json {
        let report = serde_json::json!({
            "state_dir": state_dir, "config": config_path,
            "problems": problems, "warnings": warnings, "findings": findings,
        });
        println!("{report:#}");
    } else {
        for finding in &findings {
            let level = match finding.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            match &finding.fix {
                Some(fix) => println!("{level} {:<11} {} — {fix}", finding.check, finding.what),
                None => println!("{level} {:<11} {}", finding.check, finding.what),
            }
        }
        println!("{problems} problem(s), {warnings} warning(s)");
    }
    match worst {
        Level::Ok => ExitCode::SUCCESS,
        Level::Fail => ExitCode::FAILURE,
        Level::Warn => ExitCode::from(2),
    }
}

/// Every finding, in the order a person would look.
pub fn examine(install: &Install) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(checks::service());
    findings.push(hub::running(install));
    findings.extend(hub::listeners(install));
    findings.extend(mdns::mdns(install));
    findings.extend(checks::clock(install));
    findings.push(checks::disk(install));
    findings.push(checks::database(install));
    findings.extend(checks::state_dir(install));
    findings.extend(checks::serial(install));
    findings.extend(hub::certificate(install));
    findings.extend(hub::household(install));
    findings.extend(hub::links(install));
    findings
}
