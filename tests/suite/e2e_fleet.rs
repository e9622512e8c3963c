//! `ozrepair fleet` against four real Docker engines (three on unix sockets, one over tcp on loopback),
//! two locked out and two healthy: inspect reports the broken ones and changes nothing (exit 3); fix
//! repairs the broken ones and leaves the healthy ones untouched (exit 0); --serial with --max-fail stops
//! after a failed batch; the JSON lines carry one report per host and a summary.

use crate::util::command::{ozrepair, Run};
use crate::util::deploy::{locked_out, Deployment, Layout, OPENZRO};
use crate::util::engine::Engine;
use crate::util::seed::{
    after_fix, jumpcloud_config, rows, Connector, DexDb, JUMPCLOUD_SLASH, SECRET,
};
use crate::util::snapshot::snapshot;
use crate::util::sshd::Sshd;
use std::os::unix::fs::MetadataExt;

fn healthy(e: &Engine) -> Deployment {
    let db = DexDb::new(11).connectors([Connector::local(), Connector::jumpcloud(JUMPCLOUD_SLASH)]);
    let d = Deployment::create(e, &OPENZRO, &db);
    d.run(e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_ready(e);
    d
}

/// `ozrepair fleet --inventory FILE ARGS…` with `inventory` in FILE; with `--output json` among the
/// arguments, also its stdout as one JSON value a line.
fn fleet(inventory: &str, args: &[&str], env: &[(&str, &str)]) -> (Run, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("hosts.txt");
    std::fs::write(&inv, inventory).unwrap();
    let r = ozrepair(["fleet", "--inventory"])
        .args([&inv])
        .args(args)
        .envs(env)
        .run();
    let lines = if args.contains(&"json") {
        r.json_lines()
    } else {
        Vec::new()
    };
    (r, lines)
}

#[test]
fn a_fleet_of_four_engines_is_inspected_then_fixed() {
    // Locked out and reached over ssh; healthy over tcp; locked out and forced to archive access; healthy.
    let sshd = Sshd::start();
    let engines = [
        Engine::start(),
        Engine::builder().tcp().start(),
        Engine::start(),
        Engine::start(),
    ];
    let deps = [
        locked_out(&engines[0]),
        healthy(&engines[1]),
        locked_out(&engines[2]),
        healthy(&engines[3]),
    ];
    assert!(engines[1].host.starts_with("tcp://127.0.0.1:"));
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("OZREPAIR_SSH_ARGS", sshd.ssh_args.as_str()),
        ("HOME", home.path().to_str().unwrap()),
    ];
    let inventory = format!(
        "# four sites\n{}\n{}\n\n{} container=openzro-management access=archive\n{}  # the last one\n",
        sshd.endpoint_for(&engines[0]),
        engines[1].host,
        engines[2].host,
        engines[3].host
    );
    let before: Vec<_> = deps.iter().map(|d| snapshot(&d.mountpoint)).collect();

    let (r, lines) = fleet(&inventory, &["--output", "json", "inspect"], &env);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(lines.len(), 5, "four hosts and a summary");
    let results: Vec<&str> = lines[..4]
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["pending", "healthy", "pending", "healthy"]);
    assert!(lines[0]["host"].as_str().unwrap().starts_with("ssh://"));
    assert!(
        lines[2]["located"].to_string().contains("archive API"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[4]["summary"]["results"]["pending"], 2);
    let after: Vec<_> = deps.iter().map(|d| snapshot(&d.mountpoint)).collect();
    assert_eq!(after, before, "inspect changed nothing anywhere");

    let (r, lines) = fleet(
        &inventory,
        &["--yes", "--parallel", "2", "--output", "json", "fix"],
        &env,
    );
    assert_eq!(r.code, 0, "{r:?}");
    let results: Vec<&str> = lines[..4]
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["fixed", "healthy", "fixed", "healthy"]);
    for i in [0, 2] {
        assert_eq!(
            rows(&deps[i].db)[1].config_text(),
            jumpcloud_config(JUMPCLOUD_SLASH)
        );
        deps[i].wait_ready(&engines[i]);
    }
    for i in [1, 3] {
        assert_eq!(
            snapshot(&deps[i].mountpoint),
            before[i],
            "healthy host {i} untouched"
        );
    }
    assert!(!r.all().contains(SECRET));
}

#[test]
fn max_fail_stops_the_next_batches() {
    let engines = [Engine::start(), Engine::start()];
    let deps = [locked_out(&engines[0]), locked_out(&engines[1])];
    let files: Vec<_> = deps.iter().map(|d| snapshot(&d.mountpoint)).collect();
    // The first batch is an engine that does not answer: it fails, and --max-fail 0 stops the rest.
    let inventory = format!(
        "unix:///nonexistent/ozr.sock\n{}\n{}\n",
        engines[0].host, engines[1].host
    );
    let (r, lines) = fleet(
        &inventory,
        &[
            "--yes",
            "--serial",
            "1",
            "--max-fail",
            "0",
            "--output",
            "json",
            "fix",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let results: Vec<&str> = lines[..3]
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["failed", "skipped", "skipped"]);
    let error = lines[0]["error"].as_str().unwrap();
    assert!(
        error.contains("cannot connect to the Docker engine") && error.contains("no such socket"),
        "{}",
        lines[0]
    );
    for (d, f) in deps.iter().zip(&files) {
        assert_eq!(&snapshot(&d.mountpoint), f, "skipped hosts untouched");
    }
    // Without --max-fail the same fleet fixes the reachable hosts and still exits 1 for the dead one.
    let (r, lines) = fleet(&inventory, &["--yes", "--serial", "1", "fix"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        lines.is_empty() && r.stdout.contains("fixed=2") && r.stdout.contains("failed=1"),
        "{r:?}"
    );
}

#[test]
fn fleet_fix_needs_yes_and_a_good_inventory() {
    let (r, _) = fleet("unix:///x.sock\n", &["fix"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    let (r, _) = fleet("not an endpoint\n", &["inspect"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("inventory line 1"), "{r:?}");
}

/// `fleet domain` is refused, whatever follows, before the inventory is read: a domain is each
/// deployment's own, and one `--to` for every host would give them all one name.
#[test]
fn fleet_domain_is_refused_and_says_why() {
    for args in [
        &["--yes", "domain", "--to", "vpn2.example.net", "--apply"][..],
        &["domain", "--to", "vpn2.example.net"],
        &["domain"],
    ] {
        let (r, _) = fleet("unix:///nonexistent/ozr.sock\n", args, &[]);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert_eq!(r.stdout, "", "{r:?}");
        let line = r.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{r:?}");
        assert!(
            line.contains("each deployment has its own domain")
                && line.contains("domain --to NEW")
                && line.contains("nothing was changed"),
            "{r:?}"
        );
    }
}

#[test]
fn an_engine_behind_ssh_on_a_non_default_port() {
    let sshd = Sshd::start();
    let e = Engine::start();
    let d = locked_out(&e);
    let endpoint = sshd.endpoint_for(&e);
    assert!(endpoint.starts_with("ssh://root@127.0.0.1:"), "{endpoint}");
    let env = [("OZREPAIR_SSH_ARGS", sshd.ssh_args.as_str())];
    let inspect = ozrepair(["-H", &endpoint, "inspect", "--output", "json"])
        .envs(&env)
        .run();
    assert_eq!(inspect.code, 3, "{inspect:?}\nsshd: {}", sshd.log());
    assert_eq!(inspect.json()["host"], endpoint.as_str());
    // The same host in a fleet next to a local engine, fixed through the tunnel.
    let other = Engine::start();
    let o = locked_out(&other);
    let (r, lines) = fleet(
        &format!("{endpoint}\n{}\n", other.host),
        &["--yes", "--output", "json", "fix"],
        &env,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(lines[0]["result"], "fixed");
    assert_eq!(lines[1]["result"], "fixed");
    for (eng, dep) in [(&e, &d), (&other, &o)] {
        assert_eq!(
            rows(&dep.db)[1].config_text(),
            jumpcloud_config(JUMPCLOUD_SLASH)
        );
        dep.wait_ready(eng);
    }
    // A wrong port is a one-line error, not a hang.
    let bad = ozrepair([
        "-H",
        "ssh://root@127.0.0.1:1/var/run/docker.sock",
        "inspect",
    ])
    .envs(&env)
    .run();
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr.contains("ssh to ssh://root@127.0.0.1:1"),
        "{bad:?}"
    );
}

#[test]
fn archive_access_copies_the_database_out_and_back_keeping_owner_and_mode() {
    let e = Engine::start();
    let l = Layout {
        container: "netbird-dex",
        volume: "netbird_dex_data",
        mount: "/var/dex",
        db_name: "dex.db",
    };
    let d = Deployment::create(&e, &l, &DexDb::locked_out().owner(1001, 1001).mode(0o600));
    d.run_with(
        &e,
        &[
            ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
            ("STANDIN_FORMAT", "dex-json"),
        ],
        &["--user", "1001:1001"],
    );
    d.wait_restarts(&e, 1);
    let home = tempfile::tempdir().unwrap();
    let files = snapshot(&d.mountpoint);
    let inspect = ozrepair(["--access", "archive", "inspect", "--output", "json"])
        .on(&e)
        .env("HOME", home.path())
        .run();
    assert_eq!(inspect.code, 3, "{inspect:?}");
    assert_eq!(
        inspect.json()["database"]["path"],
        "netbird-dex:/var/dex/dex.db"
    );
    assert!(inspect.json()["located"]
        .to_string()
        .contains("archive API"));
    assert_eq!(
        snapshot(&d.mountpoint),
        files,
        "inspect through the archive API changes nothing"
    );

    let before = rows(&d.db);
    let fix = ozrepair(["--access", "archive", "fix", "--yes", "--output", "json"])
        .on(&e)
        .env("HOME", home.path())
        .run();
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(
        rows(&d.db),
        after_fix(&before),
        "only the issuer changed, still a BLOB"
    );
    let m = std::fs::metadata(&d.db).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (1001, 1001, 0o600),
        "owner and mode from the tar header"
    );
    // The backup is kept on the machine that runs the tool.
    let backup = std::path::PathBuf::from(fix.json()["backup"]["path"].as_str().unwrap());
    assert!(
        backup.starts_with(home.path().join("ozrepair-backups/netbird-dex")),
        "{}",
        backup.display()
    );
    d.wait_ready(&e);
}

#[test]
fn a_tls_engine_with_client_certificates() {
    let e = Engine::builder().tls().start();
    let _d = locked_out(&e);
    let inspect = ozrepair(["inspect", "--output", "json"]).on(&e).run();
    assert_eq!(inspect.code, 3, "{inspect:?}");
    assert_eq!(inspect.json()["host"], e.host.as_str());
    // The same engine written as https:// (what `docker -H` accepts too), with the client certificate.
    let https = e.host.replace("tcp://", "https://");
    let over_https = ozrepair(["-H", &https, "inspect", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(over_https.code, 3, "{over_https:?}");
    assert_eq!(over_https.json()["host"], https.as_str());
    // Without the client certificate the engine refuses: one line, nothing changed.
    let plain = ozrepair(["-H", &e.host, "inspect"]).run();
    assert_eq!(plain.code, 1, "{plain:?}");
    assert_eq!(plain.stderr.lines().count(), 1, "{plain:?}");
}

/// ssh host keys as the operator's ssh config says (issue 23): an unknown host key is one line that names
/// the host and the ssh-keyscan/known_hosts step (exit 1, known_hosts untouched; with `--output json` one
/// report too); `--ssh-accept-new` trusts it, adds it, and the run's `located` and the fleet's table and
/// summary name the host; a changed key is refused even with the flag. `$OZREPAIR_SSH_ARGS` is split as a
/// shell splits it: the known_hosts file here lives in a directory whose name holds a space.
#[test]
fn ssh_host_keys_are_checked_as_the_operators_ssh_config_says() {
    let sshd = Sshd::start();
    let e = Engine::start();
    let _d = locked_out(&e);
    let endpoint = sshd.endpoint_for(&e);
    let home = tempfile::tempdir().unwrap();
    let spaced = home.path().join("known hosts");
    std::fs::create_dir(&spaced).unwrap();
    let known = spaced.join("known_hosts");
    std::fs::write(&known, "").unwrap();
    let args = sshd.ssh_args_with(&known);
    let env = [
        ("OZREPAIR_SSH_ARGS", args.as_str()),
        ("HOME", home.path().to_str().unwrap()),
    ];
    let host = format!("[127.0.0.1]:{}", sshd.port);
    let key = sshd.known_hosts_line();
    let key = key.split_whitespace().nth(2).unwrap().to_string();

    // Unknown: refused, one line naming the host and the step; nothing written anywhere.
    for json in [false, true] {
        let mut a = vec!["-H", &endpoint, "inspect"];
        if json {
            a.extend(["--output", "json"]);
        }
        let r = ozrepair(a).envs(&env).run();
        assert_eq!(r.code, 1, "{r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
        assert!(
            r.stderr
                .contains(&format!("the host key of {host} is not known")),
            "{r:?}"
        );
        assert!(
            r.stderr
                .contains(&format!("ssh-keyscan -p {} 127.0.0.1", sshd.port)),
            "{r:?}"
        );
        assert!(r.stderr.contains("--ssh-accept-new"), "{r:?}");
        if json {
            assert_eq!(r.json()["result"], "failed", "{r:?}");
        }
        assert_eq!(std::fs::read_to_string(&known).unwrap(), "");
    }

    // Accepted on request: the fleet's table names the host, and the key is in the quoted file.
    let (r, _) = fleet(
        &format!("{endpoint}\n"),
        &["--ssh-accept-new", "inspect"],
        &env,
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "ssh host keys accepted (--ssh-accept-new, now in known_hosts): {endpoint}"
        )),
        "{r:?}"
    );
    assert!(std::fs::read_to_string(&known).unwrap().contains(&key));
    // Again from an empty file, as JSON: the host's line and the summary say it.
    std::fs::write(&known, "").unwrap();
    let (r, lines) = fleet(
        &format!("{endpoint}\n"),
        &["--ssh-accept-new", "--output", "json", "inspect"],
        &env,
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        lines[0]["ssh_host_key_accepted"],
        format!("{host} (ED25519)"),
        "{r:?}"
    );
    assert!(
        lines[0]["located"]
            .to_string()
            .contains(&format!("accepted the new host key of {host}")),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1]["summary"]["ssh_host_keys_accepted"],
        serde_json::json!([endpoint])
    );
    assert!(std::fs::read_to_string(&known).unwrap().contains(&key));

    // Known now: no flag needed, nothing accepted.
    let r = ozrepair(["-H", &endpoint, "inspect", "--output", "json"])
        .envs(&env)
        .run();
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        !r.json()["located"].to_string().contains("accepted"),
        "{r:?}"
    );

    // A different key for that host: refused, with the flag too.
    let other = home.path().join("other_key");
    let made = crate::util::run::output(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&other),
    );
    assert!(made.status.success(), "{}", made.stderr_text());
    let public = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut it = public.split_whitespace();
    let (kind, k) = (it.next().unwrap(), it.next().unwrap());
    std::fs::write(&known, format!("{host} {kind} {k}\n")).unwrap();
    let r = ozrepair(["--ssh-accept-new", "-H", &endpoint, "inspect"])
        .envs(&env)
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
    assert!(
        r.stderr.contains(&format!(
            "the host key of {host} is not the one known_hosts holds"
        )),
        "{r:?}"
    );
}
