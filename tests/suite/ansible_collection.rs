//! The Ansible collection's metadata and its unit tests' fixtures, held to the binary: the collection's
//! version is the binary's, one licence everywhere (Cargo.toml, galaxy.yml, the role's meta, every plugin's
//! header, the LICENSE files), the links point into the repository; and each fixture the module's unit
//! tests replay (ansible/tests/unit/plugins/modules/fixtures/) is what the real binary answers today for
//! the argv the module builds: the same exit code, result and report shape. And a playbook (the module, then
//! the role) that sets a connector's secret from an ansible-vault encrypted variable and moves the domain,
//! at -vvv, on a database file: the secret in no output and no file Ansible left, only in the row.

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

/// The okta connector of the `secret` and `domain` fixtures: a client secret, and a redirectURI at the
/// deployment's own host.
const OKTA: &str = r#"{"clientID":"okta-1","clientSecret":"old-okta-secret-5b0e2d7c91","issuer":"https://acme.okta.com","redirectURI":"https://vpn.example.com/oauth2/callback","scopes":["openid"]}"#;

/// A Dex database with `local`, JumpCloud and the okta connector, at `dir/idp.db`.
fn okta_db(dir: &Path) -> PathBuf {
    use crate::util::seed::{Connector, DexDb, JUMPCLOUD_SLASH};
    let db = dir.join("idp.db");
    DexDb::new(11)
        .connectors([
            Connector::local(),
            Connector::jumpcloud(JUMPCLOUD_SLASH),
            Connector::oidc("okta", "Okta", "", OKTA.into()),
        ])
        .write(&db);
    db
}

#[test]
fn the_secret_and_domain_fixtures_are_the_binarys_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = okta_db(dir.path());
    let target = db.to_string_lossy().into_owned();
    // The secret file the module's `secret_file` names (only its path goes on the command line).
    std::fs::write(format!("{target}.secret"), "new-okta-secret-8c3f1a6e42\n").unwrap();
    let t = serde_json::json!("{target}");
    let secret = serde_json::json!({"action": "secret", "db": t, "connector": "okta",
        "secret_file": "{target}.secret"});
    let domain = serde_json::json!({"action": "domain", "db": t, "to": "vpn2.example.net",
        "from": "vpn.example.com"});
    hold(
        &[
            Scenario {
                name: "secret-dry-run",
                params: secret.clone(),
                check: true,
                argv: &[
                    "--output",
                    "json",
                    "--db",
                    "{target}",
                    "--access",
                    "auto",
                    "secret",
                    "--dry-run",
                    "--connector",
                    "okta",
                    "--secret-file",
                    "{target}.secret",
                    "--wait",
                    "30",
                ],
                exit_code: 3,
            },
            Scenario {
                name: "secret",
                params: secret,
                check: false,
                argv: &[
                    "--output",
                    "json",
                    "--db",
                    "{target}",
                    "--access",
                    "auto",
                    "secret",
                    "--yes",
                    "--connector",
                    "okta",
                    "--secret-file",
                    "{target}.secret",
                    "--wait",
                    "30",
                ],
                exit_code: 0,
            },
            Scenario {
                name: "domain-dry-run",
                params: domain.clone(),
                check: true,
                argv: &[
                    "--output",
                    "json",
                    "--db",
                    "{target}",
                    "--access",
                    "auto",
                    "domain",
                    "--to",
                    "vpn2.example.net",
                    "--from",
                    "vpn.example.com",
                    "--wait",
                    "30",
                ],
                exit_code: 3,
            },
            Scenario {
                name: "domain",
                params: domain,
                check: false,
                argv: &[
                    "--output",
                    "json",
                    "--db",
                    "{target}",
                    "--access",
                    "auto",
                    "domain",
                    "--apply",
                    "--yes",
                    "--to",
                    "vpn2.example.net",
                    "--from",
                    "vpn.example.com",
                    "--wait",
                    "30",
                ],
                exit_code: 0,
            },
        ],
        &target,
    );
}

/// The rotated secret, only ever in the vault and, once written, in the connector's row; the next one,
/// which the role puts in.
const VAULTED: &str = "vaulted-okta-secret-3e9d07b5a1c4f268";
const VAULTED_NEXT: &str = "next-vaulted-secret-71c0e4b9d25a3f86";

/// Every file under `dir` (recursively) that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_holding(&p, needle)),
            Ok(t) if t.is_file() => {
                let bytes = std::fs::read(&p).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    out.push(p);
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_playbook_sets_a_vaulted_secret_and_moves_the_domain_and_at_vvv_prints_no_secret() {
    use crate::util::seed::rows;
    let ctl = crate::util::ansible::Controller::new();
    let data = tempfile::tempdir().unwrap();
    let db = okta_db(data.path());
    let okta = |db: &Path| {
        rows(db)
            .into_iter()
            .find(|r| r.id == "okta")
            .expect("the okta row")
            .config_text()
    };
    // The secret from a vaulted variable.
    let vault_pass = ctl.path().join("vault-pass");
    std::fs::write(&vault_pass, "the vault's own password\n").unwrap();
    let mut vars = String::from("---\n");
    for (secret, name) in [
        (VAULTED, "vault_okta_secret"),
        (VAULTED_NEXT, "vault_okta_secret_next"),
    ] {
        let vaulted = crate::util::run::output(
            std::process::Command::new("ansible-vault")
                .args(["encrypt_string", "--vault-password-file"])
                .arg(&vault_pass)
                .args([secret, "--name", name])
                .env("HOME", ctl.path().join("home"))
                .env("ANSIBLE_HOME", ctl.path().join("ansible-home")),
        );
        assert!(vaulted.status.success(), "{}", vaulted.stderr_text());
        let text = vaulted.stdout_text();
        assert!(!text.contains(secret), "{text}");
        vars.push_str(&text);
        vars.push('\n');
    }
    std::fs::write(ctl.path().join("vault.yml"), vars).unwrap();
    let inv = ctl.path().join("hosts.ini");
    std::fs::write(
        &inv,
        "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    )
    .unwrap();
    let play = ctl.write_playbook(
        "secret-and-domain.yml",
        &format!(
            r#"---
- name: Rotate a secret and move the domain
  hosts: localhost
  gather_facts: false
  vars_files:
    - vault.yml
  tasks:
    - name: Put the rotated secret into okta
      openzro.ozrepair.ozrepair:
        action: secret
        db: {db}
        connector: okta
        new_secret: "{{{{ vault_okta_secret }}}}"
        binary: {bin}
      register: ozr_secret
    - name: Move the domain
      openzro.ozrepair.ozrepair:
        action: domain
        db: {db}
        to: vpn2.example.net
        from: vpn.example.com
        binary: {bin}
      register: ozr_domain
    - name: Show what came back
      ansible.builtin.debug:
        var: ozr_secret
"#,
            db = db.display(),
            bin = env!("CARGO_BIN_EXE_ozrepair"),
        ),
    );
    // The role, installing the binary outside the controller's directory (which is searched for the
    // secret), and putting the next secret in.
    std::fs::create_dir_all(data.path().join("bin")).unwrap();
    let role = ctl.write_playbook(
        "role.yml",
        &format!(
            r#"---
- name: Rotate it again through the role
  hosts: localhost
  gather_facts: false
  vars_files:
    - vault.yml
  roles:
    - role: openzro.ozrepair.ozrepair
      vars:
        ozrepair_binary_src: {bin}
        ozrepair_install_path: {install}
        ozrepair_action: secret
        ozrepair_db: {db}
        ozrepair_connector: okta
        ozrepair_new_secret: "{{{{ vault_okta_secret_next }}}}"
"#,
            db = db.display(),
            bin = env!("CARGO_BIN_EXE_ozrepair"),
            install = data.path().join("bin/ozrepair").display(),
        ),
    );
    let vault = ["--vault-password-file", &vault_pass.to_string_lossy()].map(String::from);
    let run_book = |title: &str, book: &Path, extra: &[&str]| {
        let mut a: Vec<&str> = vault.iter().map(String::as_str).collect();
        a.extend(extra);
        let p = ctl.playbook(title, &inv, &book.to_string_lossy(), &a);
        let all = p.all();
        for s in [VAULTED, VAULTED_NEXT] {
            assert!(
                !all.contains(&s[..12]),
                "{title}: the secret was printed:\n{all}"
            );
            assert_eq!(
                files_holding(ctl.path(), s.as_bytes()),
                Vec::<PathBuf>::new(),
                "{title}: the secret is on disk"
            );
        }
        p
    };
    let run = |title: &str, extra: &[&str]| run_book(title, &play, extra);
    let before = okta(&db);
    let sha = crate::util::hash::sha256_hex(&std::fs::read(&db).unwrap());

    // --check: the dry runs, both changed (pending), nothing written.
    let p = run("check", &["-vvv", "--check"]);
    assert_eq!(p.code, 0, "{}", p.all());
    assert!(
        p.all().contains("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"),
        "{}",
        p.all()
    );
    assert!(
        p.all()
            .contains("a new secret of 36 bytes would be set in okta clientSecret"),
        "{}",
        p.all()
    );
    assert_eq!(
        crate::util::hash::sha256_hex(&std::fs::read(&db).unwrap()),
        sha
    );

    // Applied: the secret reached ozrepair on stdin (`--secret-file -`) and is in the row; the domain
    // moved; nothing printed it.
    let p = run("apply", &["-vvv"]);
    assert_eq!(p.code, 0, "{}", p.all());
    let r = p.result("Put the rotated secret into okta", "localhost");
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(r["result"], "unverified", "{r}");
    assert_eq!(r["secret_change"]["applied"], true, "{r}");
    let cmd = r["cmd"].to_string();
    assert!(cmd.contains(r#""--secret-file","-""#), "{cmd}");
    let d = p.result("Move the domain", "localhost");
    assert_eq!(d["result"], "fixed", "{d}");
    let after = okta(&db);
    assert_eq!(
        after,
        before
            .replace("old-okta-secret-5b0e2d7c91", VAULTED)
            .replace("vpn.example.com", "vpn2.example.net")
    );

    // The role: ozrepair_new_secret from the vault, pipelined, on ozrepair's stdin.
    let p = run_book("role", &role, &["-vvv"]);
    assert_eq!(p.code, 0, "{}", p.all());
    let r = p.result(
        "openzro.ozrepair.ozrepair : Run ozrepair secret",
        "localhost",
    );
    assert_eq!(r["secret_change"]["applied"], true, "{r}");
    assert_eq!(
        r["invocation"]["module_args"]["new_secret"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );
    assert_eq!(okta(&db), after.replace(VAULTED, VAULTED_NEXT));
}
