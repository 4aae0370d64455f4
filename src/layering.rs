//! The module graph is acyclic and reads like DESIGN §1: each module may
//! use only the modules listed before it in [`LAYERS`] (and the crate
//! root's helpers). A `crate::` path in the other direction fails the test,
//! naming the file and the line. Unit-test files (`tests.rs`, `tests/`) may
//! borrow fixtures from above; nothing else may. A module missing from LAYERS fails the test
//! too. It is a test only: it never changes what the crate compiles or links.

use std::path::Path;

/// Lowest first. Foundations (no household knowledge), then the layers of
/// DESIGN §1: store ← tenancy ← devices core ← {accounts, ble} ←
/// transports and sync ← api ← the composition root (node) ← runtime,
/// cloud, hub ← cli.
const LAYERS: &[&str] = &[
    // Foundations: depend on nothing of Hearth's but each other, in order.
    "service",
    "state_dir",
    "backoff",
    "tasks",
    "memory",
    "clock",
    "limiter",
    "config",
    "listener",
    "client",
    "mdns",
    // The household's state.
    "store",
    "tenancy",
    "devices",
    "accounts",
    "ble",
    // Transports and sync.
    "blynk",
    "mqtt",
    "sync",
    // The API, then what composes and serves it.
    "api",
    "node",
    "runtime",
    "cloud",
    "hub",
    "cli",
];

/// Items of the crate root (`lib.rs`) every module may use.
const ROOT_ITEMS: &[&str] = &["random_hex", "replay_fuzz_corpus"];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

/// Every `crate::<name>` a line refers to (also inside `crate::{a, b}`).
fn referenced(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            out.extend(group.split(',').map(|p| ident(p.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|name| !name.is_empty());
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

#[test]
fn no_module_uses_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    let mut unlisted = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap();
        let module = Path::new(top.as_os_str())
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if module == "lib" || module == "main" || module == "layering" {
            continue;
        }
        let Some(own) = rank(&module) else {
            unlisted.push(module);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for used in referenced(line) {
                if used == module || ROOT_ITEMS.contains(&used.as_str()) {
                    continue;
                }
                match rank(&used) {
                    Some(theirs) if theirs < own => {}
                    _ => upward.push(format!(
                        "{}:{}: {module} uses {used}",
                        relative.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    unlisted.sort();
    unlisted.dedup();
    assert!(
        unlisted.is_empty(),
        "modules missing from LAYERS: {unlisted:?}"
    );
    assert!(
        upward.is_empty(),
        "imports against the layering (a module may use only those listed before it \
         in LAYERS: {LAYERS:?}):\n{}",
        upward.join("\n")
    );
}

#[test]
fn a_reference_is_found_in_paths_and_groups() {
    assert_eq!(referenced("use crate::store::Store;"), ["store"]);
    assert_eq!(referenced("use crate::{mdns, store};"), ["mdns", "store"]);
    assert_eq!(
        referenced("let x = crate::devices::now_ms() + crate::clock::now_ms();"),
        ["devices", "clock"]
    );
    assert!(referenced("use super::Thing;").is_empty());
}
