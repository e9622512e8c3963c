//! The repository's Ansible collection (`ansible/`: the `openzro.ozrepair.ozrepair` module and role, the
//! `openzro.ozrepair.fleet` playbook) run by Debian's ansible-core over real SSH on loopback: each host is
//! its own throwaway sshd (own host key and port, an inventory alias) and sees its own private engine
//! through a per-host `ozrepair_docker_host` in host_vars. What is asserted comes from the PLAY RECAP,
//! the task results, and from the hosts themselves (files, rows, engine events).

use crate::util::ansible::{Controller, InventoryHost, Play};
use crate::util::deploy::{locked_out, Deployment, OPENZRO};
use crate::util::engine::{events_mark, Engine};
use crate::util::repo;
use crate::util::seed::{
    jumpcloud_config, rows, Connector, DexDb, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH, SECRET,
};
use crate::util::snapshot::snapshot;
use crate::util::sshd::Sshd;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How a host's deployment is set up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// The seed scenario: crash-looping on JumpCloud's issuer without its slash.
    Broken,
    /// The same connectors with the published issuer: running.
    Healthy,
    /// Crash-looping because the provider cannot be reached at all: no go-oidc line, no evidence.
    NoEvidence,
    /// Broken like the seed, and a second OIDC connector whose provider cannot be reached: the fix is
    /// written, then the container fails on the second one (exit 4).
    NotUp,
}

/// One host: its sshd, its engine and deployment, where the role installs the binary.
struct Site {
    alias: &'static str,
    sshd: Sshd,
    engine: Engine,
    dep: Deployment,
    bin: PathBuf,
}

fn deploy(e: &Engine, kind: Kind) -> Deployment {
    match kind {
        Kind::Broken => locked_out(e),
        Kind::Healthy => {
            let db = DexDb::new(11)
                .connectors([Connector::local(), Connector::jumpcloud(JUMPCLOUD_SLASH)]);
            let d = Deployment::create(e, &OPENZRO, &db);
            d.run(e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
            d.wait_ready(e);
            d
        }
        Kind::NoEvidence => {
            let d = Deployment::create(e, &OPENZRO, &DexDb::locked_out());
            d.run(e, &[]);
            d.wait_restarts(e, 2);
            d
        }
        Kind::NotUp => {
            let second = Connector::oidc(
                "okta-unreachable",
                "Okta",
                "",
                jumpcloud_config("https://login.unreachable.example"),
            );
            let d = Deployment::create(e, &OPENZRO, &DexDb::locked_out().with(second));
            d.run(e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
            d.wait_restarts(e, 2);
            d
        }
    }
}

/// The sites, set up side by side (each starts an engine and an sshd).
fn sites(ctl: &Controller, wanted: &[(&'static str, Kind)]) -> Vec<Site> {
    let started = std::time::Instant::now();
    let made = std::thread::scope(|s| {
        let handles: Vec<_> = wanted
            .iter()
            .map(|&(alias, kind)| {
                let bin_dir = ctl.path().join("targets").join(alias).join("bin");
                s.spawn(move || {
                    std::fs::create_dir_all(&bin_dir).unwrap();
                    let sshd = Sshd::start();
                    let engine = Engine::start();
                    let dep = deploy(&engine, kind);
                    Site {
                        alias,
                        sshd,
                        engine,
                        dep,
                        bin: bin_dir.join("ozrepair"),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let _ = writeln!(
        std::io::stderr(),
        "e2e_ansible: {} hosts set up in {:.1} s",
        wanted.len(),
        started.elapsed().as_secs_f64()
    );
    made
}

/// The inventory of `sites`: each host's engine and install path in its host_vars, the rest in
/// group_vars. `extra` is merged into every host's vars.
fn inventory(ctl: &Controller, name: &str, sites: &[Site], extra: serde_json::Value) -> PathBuf {
    let scratch = ctl.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let hosts: Vec<InventoryHost> = sites
        .iter()
        .map(|s| {
            let mut vars = serde_json::json!({
                "ozrepair_docker_host": s.engine.host,
                "ozrepair_install_path": s.bin,
            });
            if let (Some(v), Some(x)) = (vars.as_object_mut(), extra.as_object()) {
                v.extend(x.clone());
            }
            InventoryHost {
                alias: s.alias,
                sshd: &s.sshd,
                vars,
            }
        })
        .collect();
    let group = serde_json::json!({
        "ozrepair_binary_src": static_binary(),
        "ozrepair_wait": 20,
        "ozrepair_tmp_dir": scratch,
    });
    ctl.inventory(name, group, &hosts)
}

fn static_binary() -> PathBuf {
    let p = repo().join("target/static/ozrepair");
    assert!(
        p.is_file(),
        "{} is missing: scripts/build-static.sh builds it (scripts/test.sh runs it first)",
        p.display()
    );
    p
}

fn assert_recap(play: &Play, alias: &str, changed: u32, failed: u32) {
    let r = play.host(alias);
    assert!(
        r.changed == changed && r.failed == failed && r.unreachable == 0,
        "{alias}: expected changed={changed} failed={failed}, got {r:?}\n{}",
        play.all()
    );
}

/// What a host holds that a run may change: the volume's files, its installed binary, the scratch dir.
fn on_disk(ctl: &Controller, s: &Site) -> (BTreeMap<String, String>, bool, usize) {
    let scratch = std::fs::read_dir(ctl.path().join("scratch"))
        .map(|d| d.count())
        .unwrap_or(0);
    (snapshot(&s.dep.mountpoint), s.bin.exists(), scratch)
}

fn no_stops(s: &Site, since: &str) {
    let events = s.engine.stop_events(&s.dep.container, since);
    assert!(events.is_empty(), "{}: stopped: {events:?}", s.alias);
}

fn sha256(p: &Path) -> String {
    crate::util::hash::sha256_hex(&std::fs::read(p).unwrap())
}

/// The collection's example playbook: canary batches of 1, 10% and the rest; a failed batch stops it.
const FLEET: &str = "openzro.ozrepair.fleet";

/// A playbook of the collection's role on every host at once (no batches).
fn all_at_once(ctl: &Controller) -> String {
    let p = ctl.write_playbook(
        "all-at-once.yml",
        "- name: All at once\n  hosts: ozrepair\n  gather_facts: false\n  roles:\n    - openzro.ozrepair.ozrepair\n",
    );
    p.to_string_lossy().into_owned()
}

#[test]
fn check_mode_then_a_fix_of_exactly_the_broken_hosts() {
    let ctl = Controller::new();
    let s = sites(
        &ctl,
        &[
            ("broken-a", Kind::Broken),
            ("broken-b", Kind::Broken),
            ("healthy-c", Kind::Healthy),
        ],
    );
    let inv = inventory(&ctl, "inventory", &s, serde_json::json!({}));
    let role = all_at_once(&ctl);
    let before: Vec<_> = s.iter().map(|x| on_disk(&ctl, x)).collect();
    assert!(before.iter().all(|b| !b.1), "no binary installed yet");

    // Check mode (the role on all hosts at once) on hosts that have no binary yet: the copy says it
    // would install it (changed), the broken hosts' plan is changed too; the read-only command runs
    // from a temporary copy that is removed; nothing is written or stopped, no diff without --diff.
    let mark = events_mark();
    let play = ctl.playbook("check mode, fresh hosts", &inv, &role, &["--check"]);
    assert_eq!(play.code, 0, "{}", play.all());
    assert_recap(&play, "broken-a", 2, 0);
    assert_recap(&play, "broken-b", 2, 0);
    assert_recap(&play, "healthy-c", 1, 0);
    assert!(!play.stdout.contains("+issuer:"), "{}", play.stdout);
    for (x, b) in s.iter().zip(&before) {
        assert_eq!(
            &on_disk(&ctl, x),
            b,
            "{}: check mode wrote something",
            x.alias
        );
        no_stops(x, &mark);
    }

    // A real inspect (the role on all hosts at once) installs the binary (verified) and still changes
    // no deployment; inspect counts a host with changes pending as changed.
    let play = ctl.playbook("inspect", &inv, &role, &["-e", "ozrepair_action=inspect"]);
    assert_eq!(play.code, 0, "{}", play.all());
    assert_recap(&play, "broken-a", 2, 0);
    assert_recap(&play, "healthy-c", 1, 0);
    for (x, b) in s.iter().zip(&before) {
        assert_eq!(sha256(&x.bin), sha256(&static_binary()), "{}", x.alias);
        assert_eq!(
            snapshot(&x.dep.mountpoint),
            b.0,
            "{}: inspect wrote",
            x.alias
        );
        no_stops(x, &mark);
    }

    // Check mode with --diff: the healthy host is ok, each broken host shows its planned diff.
    let mark = events_mark();
    let play = ctl.playbook("check mode --diff", &inv, FLEET, &["--check", "--diff"]);
    assert_eq!(play.code, 0, "{}", play.all());
    assert_recap(&play, "broken-a", 1, 0);
    assert_recap(&play, "broken-b", 1, 0);
    assert_recap(&play, "healthy-c", 0, 0);
    let minus = format!("-issuer: \"{JUMPCLOUD}\"");
    let plus = format!("+issuer: \"{JUMPCLOUD_SLASH}\"");
    assert_eq!(play.stdout.matches(&minus).count(), 2, "{}", play.stdout);
    assert_eq!(play.stdout.matches(&plus).count(), 2, "{}", play.stdout);
    assert!(
        play.stdout.contains(&format!("connector {JC_ID}: issuer")),
        "{}",
        play.stdout
    );
    for (x, b) in s.iter().zip(&before) {
        assert_eq!(
            snapshot(&x.dep.mountpoint),
            b.0,
            "{}: check --diff wrote",
            x.alias
        );
        no_stops(x, &mark);
    }

    // The real run changes exactly the broken hosts, and shows what it applied.
    let play = ctl.playbook("fix --diff", &inv, FLEET, &["--diff"]);
    assert_eq!(play.code, 0, "{}", play.all());
    assert_recap(&play, "broken-a", 1, 0);
    assert_recap(&play, "broken-b", 1, 0);
    assert_recap(&play, "healthy-c", 0, 0);
    assert_eq!(play.stdout.matches(&plus).count(), 2, "{}", play.stdout);
    for x in &s[..2] {
        assert_eq!(
            rows(&x.dep.db)[1].config_text(),
            jumpcloud_config(JUMPCLOUD_SLASH)
        );
        x.dep.wait_ready(&x.engine);
        assert_eq!(x.dep.state(&x.engine).status, "running", "{}", x.alias);
    }
    assert_eq!(
        snapshot(&s[2].dep.mountpoint),
        before[2].0,
        "healthy host untouched"
    );
    no_stops(&s[2], &mark);

    // A second run has nothing to do.
    let play = ctl.playbook("fix again", &inv, &role, &[]);
    assert_eq!(play.code, 0, "{}", play.all());
    for x in &s {
        assert_recap(&play, x.alias, 0, 0);
    }

    // Check mode with action backup: would take a backup on every host, stops and writes nothing.
    let files: Vec<_> = s.iter().map(|x| snapshot(&x.dep.mountpoint)).collect();
    let mark = events_mark();
    let play = ctl.playbook(
        "check mode, action backup",
        &inv,
        &role,
        &["--check", "-e", "ozrepair_action=backup"],
    );
    assert_eq!(play.code, 0, "{}", play.all());
    for (x, f) in s.iter().zip(&files) {
        assert_recap(&play, x.alias, 1, 0);
        assert_eq!(
            &snapshot(&x.dep.mountpoint),
            f,
            "{}: a backup was written",
            x.alias
        );
        no_stops(x, &mark);
    }
    assert!(!play.all().contains(SECRET));
}

#[test]
fn a_failed_host_fails_alone_and_a_canary_stops_the_rest() {
    let ctl = Controller::new();
    // The inventory lists the hosts by alias; the batches of four are 1, 1 (10%) and 2.
    let s = sites(
        &ctl,
        &[
            ("a-broken", Kind::Broken),
            ("b-no-evidence", Kind::NoEvidence),
            ("c-not-up", Kind::NotUp),
            ("d-broken", Kind::Broken),
        ],
    );
    let inv = inventory(
        &ctl,
        "inventory",
        &s,
        serde_json::json!({"ozrepair_wait": 15}),
    );
    let before: Vec<_> = s.iter().map(|x| on_disk(&ctl, x)).collect();

    // The canary is fixed, the second batch fails, the play stops: the last batch never runs.
    let play = ctl.playbook("canary batches", &inv, FLEET, &[]);
    assert_eq!(play.code, 2, "{}", play.all());
    assert_recap(&play, "a-broken", 2, 0);
    assert_recap(&play, "b-no-evidence", 1, 1);
    let recap = play.recap();
    assert!(
        !recap.contains_key("c-not-up") && !recap.contains_key("d-broken"),
        "the last batch ran: {recap:?}\n{}",
        play.all()
    );
    assert_eq!(
        rows(&s[0].dep.db)[1].config_text(),
        jumpcloud_config(JUMPCLOUD_SLASH)
    );
    for (x, b) in s[2..].iter().zip(&before[2..]) {
        assert_eq!(
            &on_disk(&ctl, x),
            b,
            "{}: touched after a batch failed",
            x.alias
        );
    }
    let f = &play.failures()["b-no-evidence"];
    assert_eq!(
        f["msg"], f["report"]["error"],
        "the task fails with ozrepair's message: {f}"
    );
    assert!(
        f["msg"]
            .as_str()
            .unwrap()
            .contains("no database change that fixes it"),
        "{f}"
    );

    // All at once (a playbook of the role, no batches): the host without evidence fails alone with
    // ozrepair's message, the other broken host is fixed, exit 4 is changed and failed.
    let all_at_once = all_at_once(&ctl);
    let mark = events_mark();
    let play = ctl.playbook("all at once", &inv, &all_at_once, &["--diff"]);
    assert_eq!(play.code, 2, "failed hosts: {}", play.all());
    assert_recap(&play, "a-broken", 0, 0);
    assert_recap(&play, "b-no-evidence", 0, 1);
    // Ansible's recap does not count a failed task's change; the task's result says it.
    assert_recap(&play, "c-not-up", 1, 1);
    assert_recap(&play, "d-broken", 2, 0);
    let failures = play.failures();
    assert_eq!(failures.len(), 2, "{failures:?}");
    let f = &failures["b-no-evidence"];
    assert_eq!(f["msg"], f["report"]["error"], "{f}");
    assert_eq!(f["exit_code"], 1, "{f}");
    assert_eq!(f["changed"], false, "{f}");
    let f = &failures["c-not-up"];
    assert_eq!(f["exit_code"], 4, "{f}");
    assert_eq!(f["changed"], true, "exit 4 is changed: {f}");
    assert_eq!(f["msg"], f["report"]["error"], "{f}");
    assert!(
        f["msg"].as_str().unwrap().contains("did not stay up"),
        "{f}"
    );
    for x in [&s[2], &s[3]] {
        assert_eq!(
            rows(&x.dep.db)[1].config_text(),
            jumpcloud_config(JUMPCLOUD_SLASH),
            "{}",
            x.alias
        );
    }
    s[3].dep.wait_ready(&s[3].engine);
    assert_eq!(
        snapshot(&s[1].dep.mountpoint),
        before[1].0,
        "no evidence, nothing written"
    );
    no_stops(&s[1], &mark);
    assert!(!play.all().contains(SECRET));
}
