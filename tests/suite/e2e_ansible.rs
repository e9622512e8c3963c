//! The repository's Ansible collection (`ansible/`: the `openzro.ozrepair.ozrepair` module and role, the
//! `openzro.ozrepair.fleet` playbook) run by Debian's ansible-core over real SSH on loopback: each host is
//! its own throwaway sshd (own host key and port, an inventory alias) and sees its own private engine
//! through a per-host `ozrepair_docker_host` in host_vars. What is asserted comes from the PLAY RECAP,
//! the task results, and from the hosts themselves (files, rows, engine events, the Go login check).

use crate::util::ansible::{Controller, InventoryHost, Play};
use crate::util::deploy::{locked_out, Deployment, OPENZRO};
use crate::util::engine::{events_mark, Engine};
use crate::util::login::dex_login;
use crate::util::repo;
use crate::util::seed::{
    jumpcloud_config, rows, Connector, DexDb, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH, SECRET,
};
use crate::util::snapshot::snapshot;
use crate::util::sshd::Sshd;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
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
    /// Broken like the seed at 23 migrations, without Dex's `local` connector row (deleted, as NetBird
    /// does when local login is off) and with the local user alice (password [`ALICE_OLD`]).
    NoLocalLogin,
}

const ALICE: &str = "alice@example.com";
const ALICE_ID: &str = "u-alice-0001";
const ALICE_OLD: &str = "Old-Passw0rd!";
/// The password the role sets, from a vaulted variable.
const ALICE_NEW: &str = "Vaulted-Passw0rd-42";

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
        Kind::NoLocalLogin => {
            let d = Deployment::create(
                e,
                &OPENZRO,
                &DexDb::new(23).connectors([Connector::jumpcloud(JUMPCLOUD)]),
            );
            let hash = bcrypt::hash_with_result(ALICE_OLD, 10)
                .unwrap()
                .format_for_version(bcrypt::Version::TwoA);
            rusqlite::Connection::open(&d.db)
                .unwrap()
                .execute(
                    "insert into password (email, hash, username, user_id) values (?1, ?2, 'alice', ?3)",
                    rusqlite::params![ALICE, hash.as_bytes(), ALICE_ID],
                )
                .unwrap();
            d.run(e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
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

/// The inventory of `sites`: each host's engine and install path in its host_vars (with `host_extra`'s
/// entry for its alias), the binary and `group_extra` in group_vars.
fn inventory(
    ctl: &Controller,
    name: &str,
    sites: &[Site],
    group_extra: serde_json::Value,
    host_extra: serde_json::Value,
) -> PathBuf {
    let hosts: Vec<InventoryHost> = sites
        .iter()
        .map(|s| {
            let mut vars = serde_json::json!({
                "ozrepair_docker_host": s.engine.host,
                "ozrepair_install_path": s.bin,
            });
            if let (Some(v), Some(x)) = (vars.as_object_mut(), host_extra[s.alias].as_object()) {
                v.extend(x.clone());
            }
            InventoryHost {
                alias: s.alias,
                sshd: &s.sshd,
                vars,
            }
        })
        .collect();
    let mut group = serde_json::json!({
        "ozrepair_binary_src": static_binary(),
        "ozrepair_wait": 20,
    });
    if let (Some(g), Some(x)) = (group.as_object_mut(), group_extra.as_object()) {
        g.extend(x.clone());
    }
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

/// What a host holds that a run may change: the volume's files, the directory of its installed binary,
/// and what Ansible left in its remote temporary directory.
fn on_disk(
    ctl: &Controller,
    s: &Site,
) -> (BTreeMap<String, String>, BTreeMap<String, String>, usize) {
    let left = std::fs::read_dir(ctl.path().join("remote-tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    let bin_dir = s.bin.parent().unwrap();
    (snapshot(&s.dep.mountpoint), snapshot(bin_dir), left)
}

fn no_stops(s: &Site, since: &str) {
    let events = s.engine.stop_events(&s.dep.container, since);
    assert!(events.is_empty(), "{}: stopped: {events:?}", s.alias);
}

fn sha256(p: &Path) -> String {
    crate::util::hash::sha256_hex(&std::fs::read(p).unwrap())
}

/// The collection's example playbook: batches the inventory shapes (canary batches of 1, 10% and the rest
/// by default; a failed batch stops it).
const FLEET: &str = "openzro.ozrepair.fleet";

/// A playbook of the collection's role on every host at once (no batches, no become).
fn all_at_once(ctl: &Controller) -> String {
    let p = ctl.write_playbook(
        "all-at-once.yml",
        "- name: All at once\n  hosts: ozrepair\n  gather_facts: false\n  roles:\n    - openzro.ozrepair.ozrepair\n",
    );
    p.to_string_lossy().into_owned()
}

/// The result of the role's run of the module on `alias`.
fn run_result(play: &Play, alias: &str) -> serde_json::Value {
    play.result("openzro.ozrepair.ozrepair : Run ozrepair ", alias)
}

/// The debug messages of a task whose name starts with `task`, in order.
fn messages(play: &Play, task: &str) -> Vec<String> {
    play.results()
        .into_iter()
        .filter(|r| r.task.starts_with(task))
        .map(|r| r.result["msg"].as_str().unwrap_or_default().to_string())
        .collect()
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
    // No ozrepair_action in the inventory: the role's default, inspect.
    let inv = inventory(
        &ctl,
        "inventory",
        &s,
        serde_json::json!({}),
        serde_json::json!({}),
    );
    let role = all_at_once(&ctl);
    let before: Vec<_> = s.iter().map(|x| on_disk(&ctl, x)).collect();
    assert!(
        before.iter().all(|b| b.1.is_empty()),
        "no binary installed yet"
    );

    // Check mode (the role on all hosts at once) on hosts that have no binary yet: the copy says it
    // would install it (changed); nothing is written on the host, so ozrepair cannot run there and the
    // role says so; nothing is stopped, no diff without --diff.
    let mark = events_mark();
    let play = ctl.playbook(
        "check mode, fresh hosts",
        &inv,
        &role,
        &["--check", "-e", "ozrepair_action=fix"],
    );
    assert_eq!(play.code, 0, "{}", play.all());
    for x in &s {
        assert_recap(&play, x.alias, 1, 0);
    }
    assert!(!play.stdout.contains("+issuer:"), "{}", play.stdout);
    let said = messages(
        &play,
        "openzro.ozrepair.ozrepair : Say why ozrepair does not run",
    );
    assert_eq!(said.len(), 3, "{}", play.all());
    assert!(said.iter().all(|m| m.contains("is missing")), "{said:?}");
    for (x, b) in s.iter().zip(&before) {
        assert_eq!(
            &on_disk(&ctl, x),
            b,
            "{}: check mode wrote something",
            x.alias
        );
        no_stops(x, &mark);
    }

    // A real run with the role's default action, inspect: it installs the binary (verified) and changes no
    // deployment; inspect is never changed, also with a fix pending, which its result says.
    let play = ctl.playbook("inspect", &inv, &role, &["-v"]);
    assert_eq!(play.code, 0, "{}", play.all());
    for x in &s {
        assert_recap(&play, x.alias, 1, 0);
    }
    for alias in ["broken-a", "broken-b"] {
        let r = run_result(&play, alias);
        assert_eq!(r["changed"], false, "{alias}: {r}");
        assert_eq!(r["exit_code"], 3, "{alias}: {r}");
        assert_eq!(r["pending"], true, "{alias}: {r}");
        assert_eq!(r["healthy"], false, "{alias}: {r}");
        assert_eq!(r["plan"][0]["field"], "issuer", "{alias}: {r}");
        assert_eq!(r["plan"][0]["to"], JUMPCLOUD_SLASH, "{alias}: {r}");
    }
    let r = run_result(&play, "healthy-c");
    assert_eq!(
        (&r["changed"], &r["pending"], &r["healthy"]),
        (&false.into(), &false.into(), &true.into()),
        "{r}"
    );
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

    // Inspect again: the binary is in place, and the run is changed=0 on every host although two have a
    // fix pending.
    let play = ctl.playbook("inspect again", &inv, &role, &[]);
    assert_eq!(play.code, 0, "{}", play.all());
    for x in &s {
        assert_recap(&play, x.alias, 0, 0);
    }

    // A monitoring play: openzro.ozrepair.ozrepair_info, its settings for the whole action group, fails the
    // hosts that are not healthy and changes nothing.
    let monitor = ctl.write_playbook(
        "monitor.yml",
        r#"- name: Monitor
  hosts: ozrepair
  gather_facts: false
  module_defaults:
    group/openzro.ozrepair.ozrepair:
      binary: "{{ ozrepair_install_path }}"
      docker_host: "{{ ozrepair_docker_host }}"
  tasks:
    - name: Read the deployment
      openzro.ozrepair.ozrepair_info:
      register: ozrepair_state
      failed_when: not ozrepair_state.healthy
"#,
    );
    let mark = events_mark();
    let play = ctl.playbook("monitor", &inv, &monitor.to_string_lossy(), &[]);
    assert_eq!(play.code, 2, "{}", play.all());
    assert_recap(&play, "broken-a", 0, 1);
    assert_recap(&play, "broken-b", 0, 1);
    assert_recap(&play, "healthy-c", 0, 0);
    let f = &play.failures()["broken-a"];
    assert_eq!(
        (&f["pending"], &f["changed"], &f["plan"][0]["field"]),
        (&true.into(), &false.into(), &"issuer".into()),
        "{f}"
    );
    for (x, b) in s.iter().zip(&before) {
        assert_eq!(snapshot(&x.dep.mountpoint), b.0, "{}", x.alias);
        no_stops(x, &mark);
    }

    // Check mode with --diff: the healthy host is ok, each broken host shows its planned diff.
    let mark = events_mark();
    let play = ctl.playbook(
        "check mode --diff",
        &inv,
        FLEET,
        &["--check", "--diff", "-e", "ozrepair_action=fix"],
    );
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
    let play = ctl.playbook(
        "fix --diff",
        &inv,
        FLEET,
        &["--diff", "-e", "ozrepair_action=fix"],
    );
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
    let play = ctl.playbook("fix again", &inv, &role, &["-e", "ozrepair_action=fix"]);
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
    // The action comes from the inventory.
    let inv = inventory(
        &ctl,
        "inventory",
        &s,
        serde_json::json!({"ozrepair_wait": 15, "ozrepair_action": "fix"}),
        serde_json::json!({}),
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
        messages(&play, "Show this batch"),
        vec![
            "batch of 1 host(s), a-broken to a-broken",
            "batch of 1 host(s), b-no-evidence to b-no-evidence",
        ],
        "{}",
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

#[test]
fn the_inventory_shapes_the_rollout_and_sets_the_options() {
    let ctl = Controller::new();
    let s = sites(
        &ctl,
        &[
            ("a-options", Kind::Broken),
            ("b-no-evidence", Kind::NoEvidence),
            ("c-broken", Kind::Broken),
        ],
    );
    let backups = ctl.path().join("targets/a-options/backups");
    let redirect = "https://vpn.example.com/oauth2/callback";
    // Batches of two; a batch in which at most half of the hosts fail does not stop the rollout (the
    // default, 0, stops at the first failure). One host's options in its host_vars.
    let inv = inventory(
        &ctl,
        "inventory",
        &s,
        serde_json::json!({
            "ozrepair_action": "fix",
            "ozrepair_serial": 2,
            "ozrepair_max_fail_percentage": 50,
        }),
        serde_json::json!({"a-options": {
            "ozrepair_issuer_alias": true,
            "ozrepair_set": [format!("{JC_ID}.redirectURI={redirect}")],
            "ozrepair_backup_dir": backups,
            "ozrepair_no_restart": true,
            "ozrepair_wait": 0,
        }}),
    );
    let play = ctl.playbook("rollout from the inventory", &inv, FLEET, &["-v"]);
    assert_eq!(play.code, 2, "{}", play.all());
    assert_eq!(
        messages(&play, "Show the batch sizes"),
        vec!["3 host(s) in batches of 2 (the last size repeats); the play stops after a batch in which more than 50% of the hosts failed"],
        "{}",
        play.all()
    );
    assert_eq!(
        messages(&play, "Show this batch"),
        vec![
            "batch of 2 host(s), a-options to b-no-evidence",
            "batch of 1 host(s), c-broken to c-broken",
        ],
        "{}",
        play.all()
    );
    assert_recap(&play, "b-no-evidence", 1, 1);
    // The second batch ran: one failure in two is not more than 50%.
    assert_recap(&play, "c-broken", 2, 0);
    assert_eq!(
        rows(&s[2].dep.db)[1].config_text(),
        jumpcloud_config(JUMPCLOUD_SLASH)
    );

    // Each option of a-options reached ozrepair's command line and did what it says.
    assert_recap(&play, "a-options", 2, 0);
    let r = run_result(&play, "a-options");
    let cmd: Vec<String> = serde_json::from_value(r["cmd"].clone()).unwrap();
    let after = |flag: &str| {
        cmd.iter()
            .position(|a| a == flag)
            .map(|i| cmd[i + 1].clone())
    };
    assert!(cmd.contains(&"--issuer-alias".to_string()), "{cmd:?}");
    assert!(cmd.contains(&"--no-restart".to_string()), "{cmd:?}");
    assert_eq!(
        after("--set"),
        Some(format!("{JC_ID}.redirectURI={redirect}"))
    );
    assert_eq!(after("--backup-dir"), Some(backups.display().to_string()));
    assert_eq!(after("--wait").as_deref(), Some("0"));
    let expected = jumpcloud_config(JUMPCLOUD)
        .replace(
            &format!(r#""issuer":"{JUMPCLOUD}""#),
            &format!(r#""issuer":"{JUMPCLOUD}","issuerAlias":"{JUMPCLOUD_SLASH}""#),
        )
        .replace(
            "https://openzro.example.com/oauth2/callback?x=1\\u0026y=2",
            redirect,
        );
    assert_eq!(rows(&s[0].dep.db)[1].config_text(), expected);
    let set = PathBuf::from(r["backup"]["dir"].as_str().expect("a backup"));
    assert!(set.starts_with(&backups) && set.is_dir(), "{set:?}");
    assert_ne!(
        s[0].dep.state(&s[0].engine).status,
        "running",
        "--no-restart left it stopped"
    );
}

/// A user of this machine for one test, who logs in over ssh with a shell (the key the test's sshd
/// authorises for everyone), with a home of its own; removed with its processes when dropped.
struct LoginUser {
    name: String,
    uid: u32,
    home: tempfile::TempDir,
}

impl LoginUser {
    fn create() -> LoginUser {
        let name = format!("ozr{}ans", std::process::id());
        let home = tempfile::Builder::new()
            .prefix("ozr-ansible-user")
            .tempdir_in("/tmp")
            .unwrap();
        let made = crate::util::run::output(
            std::process::Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/sh", "--home-dir"])
                .arg(home.path())
                .arg(&name),
        );
        assert!(made.status.success(), "useradd: {}", made.stderr_text());
        // Not locked (a locked account cannot log in over ssh), yet no password.
        let open = crate::util::run::output(
            std::process::Command::new("usermod").args(["-p", "*", &name]),
        );
        assert!(open.status.success(), "usermod: {}", open.stderr_text());
        let uid: u32 =
            crate::util::run::output(std::process::Command::new("id").args(["-u", &name]))
                .stdout_text()
                .trim()
                .parse()
                .unwrap();
        for d in ["bin", ".ansible/tmp"] {
            std::fs::create_dir_all(home.path().join(d)).unwrap();
        }
        for d in ["", "bin", ".ansible", ".ansible/tmp"] {
            std::os::unix::fs::chown(home.path().join(d), Some(uid), Some(uid)).unwrap();
        }
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        LoginUser { name, uid, home }
    }
}

impl Drop for LoginUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .status();
        crate::util::poll(
            "the test user's processes to end",
            std::time::Duration::from_secs(10),
            || {
                let left = std::process::Command::new("pgrep")
                    .args(["-u", &self.name])
                    .stdout(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                (!left).then_some(())
            },
        );
        let _ = std::process::Command::new("userdel")
            .arg(&self.name)
            .status();
    }
}

#[test]
fn a_user_without_become_fixes_opens_local_login_and_sets_a_vaulted_password() {
    let ctl = Controller::new();
    let user = LoginUser::create();
    let mut s = sites(&ctl, &[("rootless", Kind::NoLocalLogin)]);
    let site = &mut s[0];
    // The user reaches the engine (its socket is theirs) and installs into their own directory; the
    // database is reached through the engine's archive API, as on a rootless engine.
    std::os::unix::fs::chown(&site.engine.socket, Some(user.uid), None).unwrap();
    site.bin = user.home.path().join("bin/ozrepair");
    let inv = inventory(
        &ctl,
        "inventory",
        &s,
        serde_json::json!({"ozrepair_email": ALICE}),
        serde_json::json!({"rootless": {
            "ansible_user": user.name,
            "ansible_remote_tmp": user.home.path().join(".ansible/tmp"),
            "ozrepair_access": "archive",
        }}),
    );
    let s = &s[0];
    // The new password from a vaulted variable in the inventory.
    let vault_pass = ctl.path().join("vault-pass");
    std::fs::write(&vault_pass, "the vault's own password\n").unwrap();
    let vaulted = crate::util::run::output(
        std::process::Command::new("ansible-vault")
            .args(["encrypt_string", "--vault-password-file"])
            .arg(&vault_pass)
            .args([ALICE_NEW, "--name", "ozrepair_new_password"])
            .env("HOME", ctl.path().join("home"))
            .env("ANSIBLE_HOME", ctl.path().join("ansible-home")),
    );
    assert!(vaulted.status.success(), "{}", vaulted.stderr_text());
    let vars = vaulted.stdout_text();
    assert!(!vars.contains(ALICE_NEW), "{vars}");
    std::fs::write(inv.join("group_vars/all.yml"), format!("---\n{vars}")).unwrap();
    let role = all_at_once(&ctl);
    let vault = ["--vault-password-file", &vault_pass.to_string_lossy()].map(String::from);
    let args = |extra: &[&str]| -> Vec<String> {
        vault
            .iter()
            .cloned()
            .chain(extra.iter().map(|a| a.to_string()))
            .collect()
    };
    let run = |title: &str, extra: &[&str]| -> Play {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ctl.playbook(title, &inv, &role, &a)
    };

    // fix, as the user: the binary is the user's, the connector is fixed, the backup is in their home.
    let play = run("fix as a user", &["-v", "-e", "ozrepair_action=fix"]);
    assert_eq!(play.code, 0, "{}", play.all());
    assert_recap(&play, "rootless", 2, 0);
    let m = std::fs::metadata(&s.bin).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (user.uid, 0o755));
    assert_eq!(sha256(&s.bin), sha256(&static_binary()));
    assert_eq!(
        rows(&s.dep.db)[0].config_text(),
        jumpcloud_config(JUMPCLOUD_SLASH)
    );
    let r = run_result(&play, "rootless");
    let set = PathBuf::from(r["backup"]["dir"].as_str().expect("a backup"));
    assert!(set.starts_with(user.home.path()), "{set:?}");
    assert_eq!(std::fs::metadata(&set).unwrap().uid(), user.uid);
    s.dep.wait_ready(&s.engine);

    // local_login: Dex's local connector is back.
    assert!(rows(&s.dep.db).iter().all(|r| r.id != "local"));
    let play = run(
        "local_login as a user",
        &["-e", "ozrepair_action=local_login"],
    );
    assert_eq!(play.code, 0, "{}", play.all());
    assert_recap(&play, "rootless", 1, 0);
    assert!(rows(&s.dep.db).iter().any(|r| r.id == "local"));
    s.dep.wait_ready(&s.engine);

    // password, from the vaulted variable, at -vvv: set (Dex's own login takes it), and in no output.
    assert_eq!(
        dex_login(&s.dep.db, ALICE, ALICE_OLD),
        Ok(ALICE_ID.to_string())
    );
    let play = run(
        "password as a user",
        &["-vvv", "-e", "ozrepair_action=password"],
    );
    assert_eq!(play.code, 0, "{}", play.all());
    assert_recap(&play, "rootless", 1, 0);
    assert_eq!(
        dex_login(&s.dep.db, ALICE, ALICE_NEW),
        Ok(ALICE_ID.to_string())
    );
    assert!(dex_login(&s.dep.db, ALICE, ALICE_OLD).is_err());
    assert!(!play.all().contains(ALICE_NEW), "the password was printed");
    let r = run_result(&play, "rootless");
    assert_eq!(r["password_change"]["applied"], true, "{r}");
    let cmd = r["cmd"].to_string();
    assert!(cmd.contains(r#""--password-file","-""#), "{cmd}");
    assert_eq!(
        r["invocation"]["module_args"]["new_password"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );
    assert!(!play.all().contains(SECRET));

    // Without pipelining the role refuses a password from a variable: it would be written to a file on
    // the host.
    let play = run(
        "password without pipelining",
        &[
            "-e",
            "ozrepair_action=password",
            "-e",
            "ozrepair_pipelining=false",
        ],
    );
    assert_eq!(play.code, 2, "{}", play.all());
    let f = &play.failures()["rootless"];
    assert!(
        f["msg"]
            .as_str()
            .unwrap()
            .contains("needs ozrepair_pipelining"),
        "{f}"
    );
}

#[test]
fn a_thousand_hosts_in_the_batches_the_inventory_sets() {
    let ctl = Controller::new();
    // The collection's worked example: its rollout settings, 1000 hosts (never contacted).
    let example =
        std::fs::read_to_string(repo().join("ansible/examples/inventory/group_vars/ozrepair.yml"))
            .unwrap();
    let inv = ctl.path().join("fleet-1000");
    std::fs::create_dir_all(inv.join("group_vars")).unwrap();
    let hosts: serde_json::Map<String, serde_json::Value> = (1..=1000)
        .map(|i| {
            (
                format!("vpn-{i:04}"),
                serde_json::json!({"ansible_host": "192.0.2.1"}),
            )
        })
        .collect();
    std::fs::write(
        inv.join("hosts.yml"),
        serde_json::json!({"ozrepair": {"hosts": hosts}}).to_string(),
    )
    .unwrap();
    let rollout: String = example
        .lines()
        .filter(|l| {
            l.starts_with("ozrepair_serial:") || l.starts_with("ozrepair_max_fail_percentage:")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(rollout.lines().count(), 2, "{example}");
    std::fs::write(
        inv.join("group_vars/ozrepair.yml"),
        format!(
            "---\nozrepair_binary_src: {}\n{rollout}",
            static_binary().display()
        ),
    )
    .unwrap();

    let listed = ctl.playbook("list hosts", &inv, FLEET, &["--list-hosts"]);
    assert_eq!(listed.code, 0, "{}", listed.all());
    assert_eq!(
        listed.stdout.matches("hosts (1000):").count(),
        2,
        "{}",
        listed.stdout
    );

    // The batches, as Ansible makes them, without a task on any host.
    let batches = |play: &Play| -> Vec<usize> {
        messages(play, "Show this batch")
            .iter()
            .map(|m| {
                m.trim_start_matches("batch of ")
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    };
    let play = ctl.playbook("the batches", &inv, FLEET, &["--tags", "ozrepair_batches"]);
    assert_eq!(play.code, 0, "{}", play.all());
    assert_eq!(
        batches(&play),
        vec![1, 10, 100, 250, 250, 250, 139],
        "{}",
        play.all()
    );
    // The collection's README shows this run as its worked example: the same messages.
    let readme = std::fs::read_to_string(repo().join("ansible/README.md")).unwrap();
    let shown: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("\"msg\": \""))
        .map(|l| l.trim_end_matches('"').to_string())
        .collect();
    let printed: Vec<String> = messages(&play, "Show the batch sizes")
        .into_iter()
        .chain(messages(&play, "Show this batch"))
        .collect();
    assert_eq!(shown, printed, "ansible/README.md's worked example");
    assert!(play
        .recap()
        .values()
        .all(|r| r.changed == 0 && r.failed == 0));

    // -e overrides the inventory (on the 99 hosts vpn-0001 to vpn-0099 of a --limit, to keep it short).
    let play = ctl.playbook(
        "the batches, -e",
        &inv,
        FLEET,
        &[
            "--tags",
            "ozrepair_batches",
            "--limit",
            "vpn-00*",
            "-e",
            "ozrepair_serial=40",
        ],
    );
    assert_eq!(play.code, 0, "{}", play.all());
    assert_eq!(batches(&play), vec![40, 40, 19], "{}", play.all());
}
