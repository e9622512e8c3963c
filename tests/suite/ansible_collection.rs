//! The Ansible collection's metadata and its unit tests' fixtures, held to the binary: the collection's
//! version is the binary's, one licence everywhere (Cargo.toml, galaxy.yml, the role's meta, every plugin's
//! header, the LICENSE files), the links point into the repository; and each fixture the module's unit
//! tests replay (ansible/tests/unit/plugins/modules/fixtures/) is what the real binary answers today for
//! the argv the module builds: the same exit code, result and report shape.

use crate::util::command::ozrepair;
use crate::util::deploy::locked_out;
use crate::util::engine::Engine;
use crate::util::repo;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The value of a top-level `key: value` line of a YAML file (quotes dropped).
fn yaml_scalar(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{key}:"))
            .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
    })
}

/// The items of a top-level block list `key:` followed by `  - item` lines.
fn yaml_list(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| l.trim_end() != format!("{key}:"))
        .skip(1)
        .map_while(|l| {
            l.trim_start()
                .strip_prefix("- ")
                .map(|v| v.trim().to_string())
        })
        .collect()
}

#[test]
fn the_collections_version_is_the_binarys() {
    let galaxy = read(&repo().join("ansible/galaxy.yml"));
    assert_eq!(
        yaml_scalar(&galaxy, "version").as_deref(),
        Some(env!("CARGO_PKG_VERSION")),
        "ansible/galaxy.yml's version follows Cargo.toml's"
    );
    // Every module added in this version or before it (version_added is a version of the collection).
    for m in plugins("modules") {
        let text = read(&m);
        let added = text
            .lines()
            .find_map(|l| l.strip_prefix("version_added: "))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("{}: no version_added", m.display()));
        assert!(
            version(&added) <= version(env!("CARGO_PKG_VERSION")),
            "{}: version_added {added} is after the collection's version",
            m.display()
        );
    }
    // The changelog's newest release is this version or an earlier one.
    let changelog = read(&repo().join("ansible/changelogs/changelog.yaml"));
    let releases: Vec<String> = changelog
        .lines()
        .filter_map(|l| {
            let t = l.strip_prefix("  ")?.strip_suffix(':')?;
            (!t.starts_with(' ')).then(|| t.trim_matches(['"', '\'']).to_string())
        })
        .collect();
    assert!(!releases.is_empty(), "no release in changelog.yaml");
    for r in &releases {
        assert!(version(r) <= version(env!("CARGO_PKG_VERSION")), "{r}");
    }
}

fn version(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|n| n.parse().unwrap_or_else(|_| panic!("not a version: {v}")))
        .collect()
}

fn plugins(kind: &str) -> Vec<PathBuf> {
    let dir = repo().join("ansible/plugins").join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    out.sort();
    out
}

#[test]
fn one_licence_everywhere() {
    let cargo = read(&repo().join("Cargo.toml"));
    let spdx = cargo
        .lines()
        .find_map(|l| l.strip_prefix("license = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("Cargo.toml's license");
    assert_eq!(spdx, "Apache-2.0");
    let galaxy = read(&repo().join("ansible/galaxy.yml"));
    assert_eq!(yaml_list(&galaxy, "license"), vec![spdx.clone()]);
    let role = read(&repo().join("ansible/roles/ozrepair/meta/main.yml"));
    assert!(
        role.lines().any(|l| l.trim() == format!("license: {spdx}")),
        "the role's meta names {spdx}"
    );
    // The LICENSE files: the licence's text, the same at the root and in the collection.
    let root = read(&repo().join("LICENSE"));
    assert!(
        root.trim_start().starts_with("Apache License")
            && root.contains("Version 2.0, January 2004"),
        "LICENSE is the Apache License 2.0"
    );
    assert_eq!(read(&repo().join("ansible/LICENSE")), root);
    // Every Python file of the collection says so in its header.
    let mut files: Vec<PathBuf> = ["modules", "module_utils", "doc_fragments"]
        .iter()
        .flat_map(|k| plugins(k))
        .collect();
    let units = repo().join("ansible/tests/unit/plugins/modules");
    files.extend(
        std::fs::read_dir(&units)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "py")),
    );
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        let head: String = read(&f).lines().take(5).collect::<Vec<_>>().join("\n");
        assert!(
            head.contains("# Apache License 2.0 (see LICENSE"),
            "{}: the header names another licence or none:\n{head}",
            f.display()
        );
        assert!(!head.contains("GPL"), "{}", f.display());
    }
}

#[test]
fn the_links_point_into_the_repository() {
    let galaxy = read(&repo().join("ansible/galaxy.yml"));
    let repository = yaml_scalar(&galaxy, "repository").expect("repository");
    assert!(repository.starts_with("https://"), "{repository}");
    for key in ["documentation", "issues", "homepage"] {
        let link = yaml_scalar(&galaxy, key).unwrap_or_else(|| panic!("galaxy.yml has no {key}"));
        assert!(
            link.starts_with(&repository),
            "{key} {link} is not in {repository}"
        );
    }
}

/// One fixture of the module's unit tests: the module's parameters (`{target}` stands for the engine or
/// the database), whether it runs under check mode, the argv after the binary the module builds for them.
struct Scenario {
    name: &'static str,
    params: serde_json::Value,
    check: bool,
    argv: &'static [&'static str],
    exit_code: i32,
}

/// Every key path of a JSON value with the type at its end; a list's elements under `[]`.
fn shape(v: &serde_json::Value, path: &str, out: &mut BTreeSet<String>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            out.insert(format!("{path}: object"));
            for (k, x) in m {
                shape(x, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            out.insert(format!("{path}: array"));
            for x in a {
                shape(x, &format!("{path}[]"), out);
            }
        }
        Value::String(_) => {
            out.insert(format!("{path}: string"));
        }
        Value::Number(_) => {
            out.insert(format!("{path}: number"));
        }
        Value::Bool(_) => {
            out.insert(format!("{path}: bool"));
        }
        Value::Null => {
            out.insert(format!("{path}: null"));
        }
    }
}

fn shape_of(v: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(v, "", &mut out);
    out
}

/// Runs each scenario's argv (the binary, then the argv with `{target}` replaced) and holds the fixture to
/// the answer; with OZR_BLESS=1 it writes the fixtures instead.
fn hold(scenarios: &[Scenario], target: &str) {
    let dir = repo().join("ansible/tests/unit/plugins/modules/fixtures");
    let bless = std::env::var_os("OZR_BLESS").is_some_and(|v| v == "1");
    for s in scenarios {
        let argv: Vec<String> = s
            .argv
            .iter()
            .map(|a| a.replace("{target}", target))
            .collect();
        let run = ozrepair(&argv).run();
        assert_eq!(run.code, s.exit_code, "{}: {run:?}", s.name);
        let report = run.json();
        let file = dir.join(format!("{}.json", s.name));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            let f = serde_json::json!({
                "params": s.params,
                "check": s.check,
                "target": target,
                "argv": s.argv,
                "exit_code": run.code,
                "report": report,
            });
            std::fs::write(&file, serde_json::to_string_pretty(&f).unwrap() + "\n").unwrap();
            continue;
        }
        let f: serde_json::Value = serde_json::from_str(&read(&file))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(
            f["params"], s.params,
            "{}: the fixture's parameters",
            s.name
        );
        assert_eq!(f["check"], s.check, "{}", s.name);
        assert_eq!(
            f["argv"],
            serde_json::json!(s.argv),
            "{}: the fixture's argv",
            s.name
        );
        assert_eq!(f["exit_code"], run.code, "{}: the exit code", s.name);
        assert_eq!(
            f["report"]["result"], report["result"],
            "{}: the result",
            s.name
        );
        assert_eq!(
            shape_of(&f["report"]),
            shape_of(&report),
            "{}: the fixture's report is not shaped as the binary's answer today (OZR_BLESS=1 records it again):\n{}",
            s.name,
            run.stdout
        );
    }
}

#[test]
fn the_module_fixtures_are_the_binarys_answers() {
    let e = Engine::start();
    let _d = locked_out(&e);
    let t = serde_json::json!("{target}");
    let on_engine = [
        Scenario {
            name: "inspect-pending",
            params: serde_json::json!({"action": "inspect", "docker_host": t}),
            check: false,
            argv: &[
                "--output", "json", "-H", "{target}", "--access", "auto", "inspect",
            ],
            exit_code: 3,
        },
        Scenario {
            name: "fix-dry-run",
            params: serde_json::json!({"action": "fix", "docker_host": t}),
            check: true,
            argv: &[
                "--output",
                "json",
                "-H",
                "{target}",
                "--access",
                "auto",
                "fix",
                "--dry-run",
                "--wait",
                "30",
            ],
            exit_code: 3,
        },
        Scenario {
            name: "usage",
            params: serde_json::json!({"action": "fix", "docker_host": t, "wait": 86401}),
            check: false,
            argv: &[
                "--output", "json", "-H", "{target}", "--access", "auto", "fix", "--yes", "--wait",
                "86401",
            ],
            exit_code: 2,
        },
        Scenario {
            name: "fix",
            params: serde_json::json!({"action": "fix", "docker_host": t}),
            check: false,
            argv: &[
                "--output", "json", "-H", "{target}", "--access", "auto", "fix", "--yes", "--wait",
                "30",
            ],
            exit_code: 0,
        },
        Scenario {
            name: "inspect-healthy",
            params: serde_json::json!({"action": "inspect", "docker_host": t}),
            check: false,
            argv: &[
                "--output", "json", "-H", "{target}", "--access", "auto", "inspect",
            ],
            exit_code: 0,
        },
        Scenario {
            name: "backups",
            params: serde_json::json!({"action": "backups", "docker_host": t}),
            check: false,
            argv: &[
                "--output", "json", "-H", "{target}", "--access", "auto", "backups",
            ],
            exit_code: 0,
        },
    ];
    hold(&on_engine, &e.host);
    let missing = tempfile::tempdir().unwrap();
    let db = missing.path().join("absent/idp.db");
    hold(
        &[Scenario {
            name: "failed",
            params: serde_json::json!({"action": "inspect", "db": t}),
            check: false,
            argv: &[
                "--output", "json", "--db", "{target}", "--access", "auto", "inspect",
            ],
            exit_code: 1,
        }],
        &db.to_string_lossy(),
    );
}
