//! Hosts without containers: the management server (or Dex) run by a real systemd, its lines in a real
//! journald (or its log file), in a minimal Debian root booted with systemd-nspawn ([`Machine`]). Units
//! as the field writes them (NetBird's and openZro's packages, NixOS's modules, Dex's), the stand-in as
//! their ExecStart, and the static ozrepair run inside with no flags.

use crate::util::command::Run;
use crate::util::hash::sha256_hex;
use crate::util::http::Discovery;
use crate::util::machine::{Machine, NIX_MGMT};
use crate::util::seed::{self, Connector, DexDb, Row, JUMPCLOUD, JUMPCLOUD_SLASH, SECRET};
use std::time::Duration;

const MGMT: &str = "netbird-management.service";
const EMBEDDED_JSON: &str = r#"{
  "HttpConfig": {
    "Address": "0.0.0.0:33073",
    "AuthIssuer": "https://vpn.example.com/oauth2"
  },
  "EmbeddedIdP": {
    "Enabled": true,
    "Issuer": "https://vpn.example.com/oauth2"
  }
}
"#;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Root,
    /// `User=netbird` (a system user made with useradd).
    Static,
    /// `DynamicUser=yes` with `StateDirectory=netbird`.
    Dynamic,
}

/// How a NetBird management unit is written.
#[derive(Clone, Copy, Debug)]
struct Mgmt {
    restart: &'static str,
    restart_sec: Option<&'static str>,
    who: Who,
    /// STANDIN_FORMAT: `text` (logrus text) or `json` (logrus JSON).
    format: &'static str,
    /// `fatal` (up to v0.65.1: exits) or `continue` (v0.65.2+: logs and serves).
    on_failure: &'static str,
    /// `--log-file console` (journald); else NetBird's default log file.
    console: bool,
}

impl Mgmt {
    fn looping() -> Mgmt {
        Mgmt {
            restart: "always",
            restart_sec: Some("1s"),
            who: Who::Root,
            format: "text",
            on_failure: "fatal",
            console: true,
        }
    }

    /// Where its database is (inside the machine), and where it is written before the first start.
    fn db(&self) -> (&'static str, &'static str) {
        match self.who {
            Who::Dynamic => ("/var/lib/netbird/idp.db", "/var/lib/private/netbird/idp.db"),
            _ => ("/var/lib/netbird/idp.db", "/var/lib/netbird/idp.db"),
        }
    }

    fn owner(&self) -> &'static str {
        match self.who {
            Who::Static => "netbird:netbird",
            _ => "root:root",
        }
    }

    fn unit(&self) -> String {
        let mut s = String::from(
            "[Unit]\nDescription=NetBird Management (ozrepair test)\n\n[Service]\nType=simple\n",
        );
        // NetBird's default log file: its directory made by systemd for the unit's user.
        let log = if self.console {
            " --log-file console"
        } else {
            s.push_str("LogsDirectory=netbird\n");
            ""
        };
        s.push_str(&format!(
            "ExecStart=/usr/bin/netbird-mgmt management --config /etc/netbird/management.json --datadir /var/lib/netbird/{log} --log-level info\n"
        ));
        s.push_str(&format!("Restart={}\n", self.restart));
        if let Some(r) = self.restart_sec {
            s.push_str(&format!("RestartSec={r}\n"));
        }
        match self.who {
            Who::Root => {}
            Who::Static => s.push_str("User=netbird\nGroup=netbird\n"),
            Who::Dynamic => s.push_str("DynamicUser=yes\nStateDirectory=netbird\n"),
        }
        s.push_str(&format!(
            "Environment=STANDIN_PUBLISHED={JUMPCLOUD_SLASH}\nEnvironment=STANDIN_FORMAT={}\nEnvironment=STANDIN_ON_FAILURE={}\nStandardOutput=journal\n\n[Install]\nWantedBy=multi-user.target\n",
            self.format, self.on_failure
        ));
        s
    }

    /// Writes the config, the locked-out database and the unit, and starts it.
    fn install(&self, m: &Machine) -> Vec<Row> {
        m.ok("systemctl stop netbird-management.service 2>/dev/null; systemctl reset-failed 2>/dev/null; rm -rf /var/lib/netbird /var/lib/private/netbird /var/log/netbird; id netbird >/dev/null 2>&1 || useradd --system --user-group --no-create-home netbird; mkdir -p -m 0700 /var/lib/private");
        m.write(
            "/etc/netbird/management.json",
            EMBEDDED_JSON.as_bytes(),
            "root:root",
            0o644,
        );
        let (_, seed_at) = self.db();
        if self.who == Who::Dynamic {
            m.ok("mkdir -p -m 0700 /var/lib/private/netbird");
        } else {
            m.ok(&format!(
                "mkdir -p -m 0750 /var/lib/netbird && chown {} /var/lib/netbird",
                self.owner()
            ));
        }
        m.write_db(seed_at, &DexDb::locked_out(), self.owner(), 0o640);
        m.install_unit(MGMT, &self.unit());
        m.ok(&format!("systemctl start {MGMT}"));
        m.rows(seed_at)
    }
}

/// `fix --yes --output json` inside the machine, with no other flag.
fn fix(m: &Machine) -> Run {
    m.ozrepair(&["fix", "--yes", "--output", "json"])
}

fn assert_fixed(run: &Run, unit: &str) -> serde_json::Value {
    let j = run.json();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(j["result"], "fixed", "{run:?}");
    assert_eq!(j["runtime"], "systemd", "{run:?}");
    assert_eq!(j["container"]["name"], unit, "{run:?}");
    assert!(
        !run.all().contains(SECRET),
        "the secret was printed: {run:?}"
    );
    j
}

/// The unit is up in a new run, NRestarts steady, and that run served with no connector failure.
fn assert_serving(m: &Machine, unit: &str) {
    assert_serving_in(m, unit, None)
}

/// [`assert_serving`], the run's lines in journald or (`log_file`) in the file the unit logs to (from
/// the last start on).
fn assert_serving_in(m: &Machine, unit: &str, log_file: Option<&str>) {
    let p = m.wait_for(unit, "active (running)", Duration::from_secs(10), |p| {
        p["ActiveState"] == "active" && p["SubState"] == "running"
    });
    let inv = &p["InvocationID"];
    let read = || -> Vec<String> {
        match log_file {
            None => m
                .journal(&format!(
                    "_SYSTEMD_UNIT={unit} _SYSTEMD_INVOCATION_ID={inv}"
                ))
                .iter()
                .filter_map(|e| e["MESSAGE"].as_str().map(String::from))
                .collect(),
            Some(f) => {
                let text = String::from_utf8_lossy(&m.read(f)).into_owned();
                let all: Vec<String> = text.lines().map(String::from).collect();
                let start = all
                    .iter()
                    .rposition(|l| l.contains("loading embedded IdP storage"))
                    .unwrap_or(0);
                all[start..].to_vec()
            }
        }
    };
    let serves = |lines: &[String]| {
        lines
            .iter()
            .any(|l| l.contains("running HTTP server") || l.contains("listening on"))
    };
    // The run's lines reach journald a moment after the unit is active.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    let mut lines = read();
    while !serves(&lines) && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        lines = read();
    }
    assert!(serves(&lines), "no serving line in run {inv}: {lines:#?}");
    assert!(
        !lines.iter().any(|l| l.contains("Failed to open connector")),
        "run {inv} still fails: {lines:#?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let later = m.show(unit);
    assert_eq!(later["NRestarts"], p["NRestarts"], "it restarted again");
    assert_eq!(&later["InvocationID"], inv, "it started again");
}

/// The jobs systemd ran for the unit: (type, the message before it).
fn stop_jobs(m: &Machine, unit: &str) -> usize {
    m.jobs(unit).iter().filter(|(t, _)| t == "stop").count()
}

/// Twenty fresh crash loops as the field has them (RestartSec 0, 100 ms, 1 s and 5 s, which with 0 and
/// 100 ms ends in the start limit; root, a system user and DynamicUser with its StateDirectory; logrus
/// text and JSON; journald and NetBird's default log file), each fixed by `ozrepair fix --yes` with no
/// other flag: the connector as Dex would write it, its owner and mode kept, the unit serving again in a
/// run of its own with NRestarts steady, one stop job. A second fix changes nothing and stops nothing.
#[test]
fn twenty_crash_loops_are_fixed_with_no_flags() {
    let m = Machine::boot();
    for i in 0..20 {
        let who = [Who::Root, Who::Static, Who::Dynamic][i % 3];
        let o = Mgmt {
            restart_sec: [Some("0"), Some("100ms"), Some("1s"), Some("5s")][i % 4],
            who,
            format: ["text", "json"][i % 2],
            console: who == Who::Dynamic || i % 5 != 4,
            ..Mgmt::looping()
        };
        // Shown with a failure: which of the twenty it was.
        eprintln!("loop {i}: {o:?}");
        let before = o.install(&m);
        m.wait_for(MGMT, "a crash loop", Duration::from_secs(30), |p| {
            p["SubState"] == "auto-restart" || p["ActiveState"] == "failed"
        });
        let stops = stop_jobs(&m, MGMT);
        let run = fix(&m);
        let j = assert_fixed(&run, MGMT);
        assert_eq!(j["changes"][0]["source"], "logs", "{o:?}: {run:?}");
        let (db, _) = o.db();
        assert_eq!(m.rows(db), seed::after_fix(&before), "{o:?}");
        if who != Who::Dynamic {
            // DynamicUser: systemd gives the state directory to the run's uid at every start.
            assert_eq!(m.owner_mode(db), format!("{} 640", o.owner()), "{o:?}");
        }
        assert_serving_in(
            &m,
            MGMT,
            (!o.console).then_some("/var/log/netbird/management.log"),
        );
        // One stop job, or none for a unit that had failed already (at its start limit: RestartSec 0
        // and 100 ms, also one that got there between ozrepair's first look and its stop).
        let stopped = stop_jobs(&m, MGMT) - stops;
        assert!(stopped <= 1, "{o:?}: stop jobs {:?}", m.jobs(MGMT));
        if j["container"]["state_before"] == "exited" {
            assert_eq!(
                stopped,
                0,
                "{o:?}: a failed unit was stopped: {:?}",
                m.jobs(MGMT)
            );
        }
        if i < 3 {
            let again = fix(&m);
            let aj = again.json();
            assert_eq!(again.code, 0, "{again:?}");
            assert_eq!(aj["result"], "healthy", "{again:?}");
            assert_eq!(aj["changes"].as_array().map(Vec::len), Some(0));
            assert_eq!(
                stop_jobs(&m, MGMT) - stops,
                stopped,
                "a second fix stopped the unit"
            );
            assert_eq!(m.rows(db), seed::after_fix(&before));
        }
    }
}

/// `inspect` and `fix --dry-run` of a crash-looping unit: the plan from its journal, and nothing
/// stopped (no stop job in the journal; every restart is one of the loop's own, after "Scheduled restart
/// job"), nothing written.
#[test]
fn inspect_and_dry_run_stop_nothing_and_write_nothing() {
    let m = Machine::boot();
    let o = Mgmt::looping();
    o.install(&m);
    m.wait_for(MGMT, "two restarts", Duration::from_secs(30), |p| {
        p["NRestarts"].parse::<u32>().unwrap_or(0) >= 2
    });
    let (db, _) = o.db();
    let bytes = sha256_hex(&m.read(db));
    for args in [
        &["inspect", "--output", "json"][..],
        &["fix", "--dry-run", "--output", "json"][..],
        &[
            "--unit",
            "netbird-management",
            "inspect",
            "--output",
            "json",
        ][..],
    ] {
        let run = m.ozrepair(args);
        let j = run.json();
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        assert_eq!(j["result"], "pending", "{run:?}");
        assert_eq!(j["runtime"], "systemd");
        assert_eq!(j["changes"][0]["to"], JUMPCLOUD_SLASH, "{run:?}");
        assert_eq!(j["changes"][0]["source"], "logs");
    }
    let jobs = m.jobs(MGMT);
    assert!(
        !jobs.iter().any(|(t, _)| t == "stop"),
        "a stop job: {jobs:?}"
    );
    for (t, before) in &jobs {
        if t == "restart" {
            assert!(
                before.contains("Scheduled restart job"),
                "a restart not of the loop's own: {jobs:?}"
            );
        }
    }
    assert_eq!(sha256_hex(&m.read(db)), bytes, "the database was written");
    // The loop went on by itself.
    let n: u32 = m.show(MGMT)["NRestarts"].parse().unwrap();
    m.wait_for(MGMT, "the loop going on", Duration::from_secs(30), |p| {
        p["NRestarts"].parse::<u32>().unwrap_or(0) > n || p["ActiveState"] == "failed"
    });
}

/// NetBird v0.65.2+: the server keeps running and logins fail; the failure is only in the journal (logrus
/// text, then logrus JSON). Fixed from the lines of its current run, then serving in a new run.
#[test]
fn a_running_unit_whose_logins_fail_is_fixed_from_its_journal() {
    let m = Machine::boot();
    for format in ["text", "json"] {
        let o = Mgmt {
            restart: "on-failure",
            restart_sec: Some("5"),
            format,
            on_failure: "continue",
            ..Mgmt::looping()
        };
        let before = o.install(&m);
        let p = m.wait_for(MGMT, "running", Duration::from_secs(10), |p| {
            p["SubState"] == "running"
        });
        crate::util::poll(
            "the failure in the journal",
            Duration::from_secs(10),
            || {
                m.journal(&format!(
                    "_SYSTEMD_UNIT={MGMT} _SYSTEMD_INVOCATION_ID={}",
                    p["InvocationID"]
                ))
                .iter()
                .any(|e| {
                    e["MESSAGE"]
                        .as_str()
                        .is_some_and(|s| s.contains("Failed to open connector"))
                })
                .then_some(())
            },
        );
        let run = fix(&m);
        let j = assert_fixed(&run, MGMT);
        assert_eq!(j["container"]["state_before"], "running", "{run:?}");
        assert_eq!(m.rows(o.db().0), seed::after_fix(&before), "{format}");
        assert_serving(&m, MGMT);
        assert_ne!(m.show(MGMT)["InvocationID"], p["InvocationID"]);
    }
}

/// Dex itself as `dex.service`: its own user, `dex serve /etc/dex/config.yaml`, its database dex.db at
/// 0600, Dex's slog JSON on stderr and its exit status 2 in a loop. Fixed, owner and mode kept.
#[test]
fn a_dex_unit_is_fixed_and_its_database_keeps_0600() {
    let m = Machine::boot();
    m.ok("useradd --system --user-group --no-create-home dex && mkdir -p -m 0700 /var/lib/dex && chown dex:dex /var/lib/dex");
    m.write(
        "/etc/dex/config.yaml",
        b"issuer: https://vpn.example.com/dex\nstorage:\n  type: sqlite3\n  config:\n    file: /var/lib/dex/dex.db\nweb:\n  http: 0.0.0.0:5556\n",
        "root:root",
        0o644,
    );
    let db = "/var/lib/dex/dex.db";
    m.write_db(db, &DexDb::locked_out(), "dex:dex", 0o600);
    let before = m.rows(db);
    m.install_unit(
        "dex.service",
        &format!("[Unit]\nDescription=Dex (ozrepair test)\n\n[Service]\nUser=dex\nGroup=dex\nExecStart=/usr/bin/dex serve /etc/dex/config.yaml\nRestart=always\nRestartSec=2\nEnvironment=STANDIN_PUBLISHED={JUMPCLOUD_SLASH}\n"),
    );
    m.ok("systemctl start dex.service");
    m.wait_for(
        "dex.service",
        "a crash loop",
        Duration::from_secs(20),
        |p| p["SubState"] == "auto-restart" && p["ExecMainStatus"] == "2",
    );
    let run = fix(&m);
    assert_fixed(&run, "dex.service");
    assert_eq!(m.rows(db), seed::after_fix(&before));
    assert_eq!(m.owner_mode(db), "dex:dex 600");
    assert_serving(&m, "dex.service");
}

/// NixOS's combined server as its module writes it: DynamicUser, StateDirectory=netbird-server, the
/// config rendered into /run/netbird-server/config.yaml by ExecStartPre at every start. The connector is
/// a database row: fixed there; the config file is read and reported as generated, and left as it is.
#[test]
fn a_dynamic_user_combined_server_is_fixed_in_its_state_directory() {
    let m = Machine::boot();
    let config_in = b"server:\n  listenAddress: \":8100\"\n  dataDir: /var/lib/netbird-server\n  auth:\n    issuer: https://vpn.example.com/oauth2\n";
    m.write(
        "/etc/netbird-server/config.in.yaml",
        config_in,
        "root:root",
        0o644,
    );
    m.write(
        "/usr/local/libexec/netbird-server-pre-start",
        b"#!/bin/sh\nset -e\ncp /etc/netbird-server/config.in.yaml /run/netbird-server/config.yaml\n",
        "root:root",
        0o755,
    );
    m.ok("mkdir -p -m 0700 /var/lib/private/netbird-server");
    let seed_at = "/var/lib/private/netbird-server/idp.db";
    m.write_db(seed_at, &DexDb::locked_out(), "root:root", 0o600);
    let before = m.rows(seed_at);
    m.install_unit(
        "netbird-server.service",
        &format!("[Unit]\nDescription=NetBird combined server (ozrepair test)\n\n[Service]\nDynamicUser=yes\nStateDirectory=netbird-server\nStateDirectoryMode=0700\nRuntimeDirectory=netbird-server\nExecStartPre=/usr/local/libexec/netbird-server-pre-start\nExecStart=/usr/bin/netbird-server --config /run/netbird-server/config.yaml\nRestart=on-failure\nRestartSec=5\nEnvironment=STANDIN_PUBLISHED={JUMPCLOUD_SLASH}\n"),
    );
    m.ok("systemctl start netbird-server.service");
    m.wait_for(
        "netbird-server.service",
        "a crash loop",
        Duration::from_secs(20),
        |p| p["SubState"] == "auto-restart",
    );
    let run = fix(&m);
    let j = assert_fixed(&run, "netbird-server.service");
    assert_eq!(m.rows(seed_at), seed::after_fix(&before));
    let located = j["located"].to_string();
    assert!(located.contains("DynamicUser"), "{located}");
    // Its runtime directory is removed between runs: the generated config is not there while it waits
    // to restart, and the report says what writes it.
    let notes = j["notes"].to_string();
    assert!(
        notes.contains("/run/netbird-server/config.yaml (--config of netbird-server.service) is not there now: it is generated by ExecStartPre=/usr/local/libexec/netbird-server-pre-start"),
        "{notes}"
    );
    assert_eq!(m.read("/run/netbird-server/config.yaml"), config_in);
    assert_serving(&m, "netbird-server.service");
}

/// NixOS's netbird-management as its module writes it: management.json rewritten from the Nix store by
/// the preStart script at every start, its static connector written into the database at every start.
/// ozrepair edits neither, stops nothing, and ends action_needed naming the NixOS option to change.
#[test]
fn a_nixos_generated_config_is_reported_and_left_untouched() {
    let m = Machine::boot();
    let nix_json = "/nix/store/1n2b3c4d5f6g7h8i9j0k1l2m3n4p5q6r-config.json";
    let pre = "/nix/store/9z8y7x6w5v4t3s2r1q0p9n8m7l6k5j4h-unit-script-netbird-management-pre-start/bin/netbird-management-pre-start";
    let json = crate::util::configs::management_json(JUMPCLOUD);
    m.write(nix_json, json.as_bytes(), "root:root", 0o444);
    m.write(
        pre,
        format!("#!/bin/sh\nset -e\numask u=rw,g=,o=\ncp {nix_json} /var/lib/netbird-mgmt/management.json\n").as_bytes(),
        "root:root",
        0o555,
    );
    m.ok("mkdir -p /var/lib/netbird-mgmt/data");
    let db = "/var/lib/netbird-mgmt/data/idp.db";
    m.write_db(
        db,
        &DexDb::new(11).connectors([Connector::local()]),
        "root:root",
        0o600,
    );
    m.install_unit(
        MGMT,
        &format!("[Unit]\nDescription=The management server for Netbird, a wireguard VPN\n\n[Service]\nExecStartPre={pre}\nExecStart={NIX_MGMT} management --config /var/lib/netbird-mgmt/management.json --datadir /var/lib/netbird-mgmt/data --dns-domain netbird.selfhosted --port 8011 --log-file console --log-level INFO\nRestart=always\nStateDirectory=netbird-mgmt netbird-mgmt/data\nStateDirectoryMode=0750\nWorkingDirectory=/var/lib/netbird-mgmt\nEnvironment=STANDIN_PUBLISHED={JUMPCLOUD_SLASH}\n"),
    );
    m.ok(&format!("systemctl start {MGMT}"));
    m.wait_for(MGMT, "the start limit", Duration::from_secs(30), |p| {
        p["ActiveState"] == "failed"
    });
    let file = m.read("/var/lib/netbird-mgmt/management.json");
    let rows = m.rows(db);
    let option =
        "services.netbird.server.management.settings.EmbeddedIdP.StaticConnectors[0].config.issuer";
    for args in [
        &["inspect", "--output", "json"][..],
        &["fix", "--yes", "--output", "json"][..],
    ] {
        let run = m.ozrepair(args);
        let j = run.json();
        assert_eq!(run.code, 6, "{args:?}: {run:?}");
        assert_eq!(j["result"], "action_needed", "{run:?}");
        let error = j["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(option) && error.contains(&format!("{JUMPCLOUD_SLASH:?}")),
            "{error}"
        );
        assert!(
            error.contains("/var/lib/netbird-mgmt/management.json is generated by ExecStartPre="),
            "{error}"
        );
        assert_eq!(j["changes"].as_array().map(Vec::len), Some(0), "{run:?}");
        assert!(!run.all().contains(SECRET));
    }
    assert_eq!(
        m.read("/var/lib/netbird-mgmt/management.json"),
        file,
        "the generated file was edited"
    );
    assert_eq!(m.rows(db), rows, "the database was written");
    assert_eq!(stop_jobs(&m, MGMT), 0, "{:?}", m.jobs(MGMT));
}

/// openZro's Ansible role: the package's unit (User=openzro, its environment file rendered by the role
/// with "# Ansible managed"), management.json rendered from the role's management.json.j2 (the
/// standalone setup: an external IdP), whose AuthIssuer lacks the provider's trailing slash. ozrepair asks
/// the provider, edits nothing, stops nothing, and names the role's template and its variable.
#[test]
fn openzros_ansible_rendered_management_json_is_an_action_for_the_role() {
    let m = Machine::boot();
    let idp = Discovery::start();
    let issuer = format!("{}/idp", idp.base());
    idp.publish("/idp", &format!("{issuer}/"));
    m.ok("useradd --system --user-group --home-dir /var/lib/openzro --no-create-home openzro && mkdir -p -m 0750 /var/lib/openzro/management && chown -R openzro:openzro /var/lib/openzro");
    m.write(
        "/etc/default/openzro-management",
        b"# Ansible managed\nOPENZRO_LOG_LEVEL=info\n\n# Cluster coordinator\n",
        "root:openzro",
        0o640,
    );
    // As templates/management.json.j2 renders it (openzro_datastore_engine sqlite).
    let rendered = format!(
        r#"{{
    "Stuns": [],
    "TURNConfig": {{
        "Turns": [],
        "TimeBasedCredentials": false,
        "CredentialsTTL": "12h",
        "Secret": "not-used"
    }},
    "Relay": {{
        "Addresses": ["rel://relay.example.com:33080"],
        "CredentialsTTL": "24h",
        "Secret": "relay-auth-secret-1234"
    }},
    "Signal": {{
        "Proto": "https",
        "URI": "vpn.example.com:443"
    }},
    "ReverseProxy": {{
        "TrustedHTTPProxies": [],
        "TrustedHTTPProxiesCount": 0,
        "TrustedPeers": ["0.0.0.0/0"]
    }},
    "DisableDefaultPolicy": false,
    "DataStoreEncryptionKey": "bm90LWEtcmVhbC1rZXktYnV0LWxvbmctZW5vdWdo",
    "StoreConfig": {{
        "Engine": "sqlite"
    }},
    "HttpConfig": {{
        "Address": "0.0.0.0:33071",
        "AuthIssuer": "{issuer}",
        "AuthAudience": "openzro-dashboard",
        "AuthUserIDClaim": "sub",
        "OIDCConfigEndpoint": "{issuer}/.well-known/openid-configuration",
        "IdpSignKeyRefreshEnabled": true
    }},
    "IdpManagerConfig": {{
        "ManagerType": "none"
    }}
}}
"#
    );
    m.write(
        "/etc/openzro/management.json",
        rendered.as_bytes(),
        "openzro:openzro",
        0o640,
    );
    m.install_unit(
        "openzro-management.service",
        &format!("[Unit]\nDescription=openZro Management\n\n[Service]\nType=simple\nUser=openzro\nGroup=openzro\nEnvironmentFile=-/etc/default/openzro-management\nExecStart=/usr/bin/openzro-mgmt management --config /etc/openzro/management.json --datadir /var/lib/openzro/management --port 33073 --log-file console --log-level ${{OPENZRO_LOG_LEVEL}}\nRestart=on-failure\nRestartSec=15s\nStandardOutput=journal\nStandardError=journal\nSyslogIdentifier=openzro-management\nEnvironment=STANDIN_TOKEN_ISSUER={issuer}/\n"),
    );
    m.ok("systemctl start openzro-management.service");
    m.wait_for(
        "openzro-management.service",
        "running",
        Duration::from_secs(10),
        |p| p["SubState"] == "running",
    );
    let run = fix(&m);
    let j = run.json();
    assert_eq!(run.code, 6, "{run:?}");
    assert_eq!(j["result"], "action_needed", "{run:?}");
    assert_eq!(j["runtime"], "systemd");
    let error = j["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("openzro_oidc_issuer")
            && error.contains("templates/management.json.j2")
            && error.contains(&format!("{:?}", format!("{issuer}/"))),
        "{error}"
    );
    assert!(
        error.contains("/etc/default/openzro-management says \"Ansible managed\""),
        "{error}"
    );
    assert_eq!(m.read("/etc/openzro/management.json"), rendered.as_bytes());
    assert_eq!(
        m.owner_mode("/etc/openzro/management.json"),
        "openzro:openzro 640"
    );
    assert_eq!(stop_jobs(&m, "openzro-management.service"), 0);
}

/// The other commands on a unit, with no flags: backup (the unit stopped around it and started again),
/// backups, password, local-login (a config file the unit names, written with its owner and mode),
/// secret (from a file), domain (its dry run) and restore, each in the stop window on systemd; the unit
/// serves after each.
#[test]
fn backup_password_local_login_and_restore_work_on_a_unit() {
    let m = Machine::boot();
    let o = Mgmt {
        restart: "on-failure",
        restart_sec: Some("5"),
        on_failure: "continue",
        ..Mgmt::looping()
    };
    o.install(&m);
    // Healthy: the connector as its provider publishes it, local login turned off in management.json.
    m.ok(&format!("systemctl stop {MGMT}"));
    let (db, _) = o.db();
    m.ok(&format!("rm -f {db}"));
    m.write_db(
        db,
        &DexDb::new(11).connectors([Connector::local(), Connector::jumpcloud(JUMPCLOUD_SLASH)]),
        "root:root",
        0o640,
    );
    let config = EMBEDDED_JSON.replace(
        "\"Enabled\": true,",
        "\"Enabled\": true,\n    \"LocalAuthDisabled\": true,",
    );
    m.write(
        "/etc/netbird/management.json",
        config.as_bytes(),
        "root:root",
        0o644,
    );
    m.ok(&format!("systemctl start {MGMT}"));
    assert_serving(&m, MGMT);
    let run = m.ozrepair(&["inspect", "--output", "json"]);
    assert_eq!(
        (run.code, run.json()["result"].as_str()),
        (0, Some("healthy")),
        "{run:?}"
    );

    let stops = stop_jobs(&m, MGMT);
    let run = m.ozrepair(&["backup", "--yes", "--output", "json"]);
    assert_eq!(
        (run.code, run.json()["result"].as_str()),
        (0, Some("backed_up")),
        "{run:?}"
    );
    assert_eq!(
        stop_jobs(&m, MGMT),
        stops + 1,
        "the backup stopped the unit around it"
    );
    assert_serving(&m, MGMT);
    let run = m.ozrepair(&["backups", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["backups"].as_array().map(Vec::len),
        Some(1),
        "{run:?}"
    );

    m.write(
        "/root/new-password",
        b"Brand-New-Passw0rd-7\n",
        "root:root",
        0o600,
    );
    let run = m.ozrepair(&[
        "password",
        "--email",
        "admin@example.com",
        "--password-file",
        "/root/new-password",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(
        (run.code, run.json()["result"].as_str()),
        (0, Some("fixed")),
        "{run:?}"
    );
    assert!(!run.all().contains("Brand-New-Passw0rd-7"), "{run:?}");
    assert_serving(&m, MGMT);

    let run = m.ozrepair(&["local-login", "--enable", "--yes", "--output", "json"]);
    assert_eq!(
        (run.code, run.json()["result"].as_str()),
        (0, Some("fixed")),
        "{run:?}"
    );
    let after = String::from_utf8(m.read("/etc/netbird/management.json")).unwrap();
    assert_eq!(
        after,
        config.replace(
            "\"LocalAuthDisabled\": true",
            "\"LocalAuthDisabled\": false"
        )
    );
    assert_eq!(
        m.owner_mode("/etc/netbird/management.json"),
        "root:root 644"
    );
    assert_serving(&m, MGMT);

    // secret: the rotated client secret from a file (never argv), written in a stop window on the unit;
    // without --verify its provider is not asked, so the word is unverified (exit 0), never fixed.
    let stops = stop_jobs(&m, MGMT);
    let new_secret = "rotated-on-a-unit-5e4d3c2b1a-never-print";
    m.write(
        "/root/new-secret",
        format!("{new_secret}\n").as_bytes(),
        "root:root",
        0o600,
    );
    let run = m.ozrepair(&[
        "secret",
        "--connector",
        seed::JC_ID,
        "--secret-file",
        "/root/new-secret",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(
        (run.code, run.json()["result"].as_str()),
        (0, Some("unverified")),
        "{run:?}"
    );
    assert!(
        !run.all().contains(new_secret) && !run.all().contains(SECRET),
        "a secret was printed: {run:?}"
    );
    let jc = m.rows(db).into_iter().find(|r| r.id == seed::JC_ID);
    assert_eq!(
        jc.map(|r| r.config),
        Some(
            seed::jumpcloud_config(JUMPCLOUD_SLASH)
                .replace(SECRET, new_secret)
                .into_bytes()
        ),
        "only the secret's bytes change"
    );
    assert_eq!(stop_jobs(&m, MGMT), stops + 1, "one stop around the write");
    assert_serving(&m, MGMT);

    // domain: a dry run by default, on a unit as in a container: the places listed, nothing stopped or
    // written.
    let stops = stop_jobs(&m, MGMT);
    let json_before = m.read("/etc/netbird/management.json");
    let rows_before = m.rows(db);
    let run = m.ozrepair(&[
        "domain",
        "--from",
        "openzro.example.com",
        "--to",
        "vpn2.example.net",
        "--output",
        "json",
    ]);
    assert_eq!(
        (run.code, run.json()["result"].as_str()),
        (3, Some("pending")),
        "{run:?}"
    );
    assert!(
        run.json()["changes"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["field"] == "redirectURI")),
        "{run:?}"
    );
    assert_eq!(m.read("/etc/netbird/management.json"), json_before);
    assert_eq!(m.rows(db), rows_before);
    assert_eq!(stop_jobs(&m, MGMT), stops, "a dry run stops nothing");

    let run = m.ozrepair(&["restore", "--yes", "--output", "json"]);
    assert_eq!(
        (run.code, run.json()["result"].as_str()),
        (0, Some("restored")),
        "{run:?}"
    );
    assert_serving(&m, MGMT);
}

/// `--unit` names the unit: a unit that does not exist is one line and nothing changed (exit 1), and
/// `--unit` with `--db` or `--container` is a usage error (exit 2). A host whose units run no IdP says
/// so after the engine's answer.
#[test]
fn unit_flag_errors_and_a_host_with_no_idp() {
    let m = Machine::boot();
    let run = m.ozrepair(&["--unit", "nope", "inspect", "--output", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let error = run.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("there is no unit nope.service"), "{error}");
    for args in [
        &["--unit", "x", "--db", "/tmp/x.db", "inspect"][..],
        &["--unit", "x", "--container", "c", "inspect"][..],
    ] {
        let run = m.ozrepair(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
    }
    let run = m.ozrepair(&["inspect", "--output", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let error = run.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains("cannot connect to the Docker engine")
            && error.contains("(and no systemd unit runs a management server or Dex")
            && error.contains("; nothing was changed; start the engine"),
        "{error}"
    );
}

/// Dex's store on a real PostgreSQL server (private to the test, on this machine's loopback, which the
/// booted root shares): `dex.service` with `storage.type: postgres` and its password from the unit's
/// EnvironmentFile (Dex's `$VAR` expansion), then NetBird's combined server (DynamicUser) with
/// `server.authStore.engine: postgres`. Each crash-loops on JumpCloud's issuer without its slash; `fix
/// --yes` with no flag finds the server from the unit's config, fixes the row there (resource_version
/// bumped as Dex does), starts the unit and sees it serve; the SQLite file left in its state directory is
/// not the store and keeps its bytes; the server's password is in no output. A unit whose Dex keeps its
/// state in etcd ends in a one-line refusal with nothing stopped.
#[test]
fn a_unit_whose_dex_store_is_on_postgres_is_fixed_there() {
    use crate::util::dbserver::{DbServer, DEX_PASSWORD};
    use ozrepair_standin::dbseed::Row as DbRow;
    let s = DbServer::postgres();
    let m = Machine::boot();
    let dex_yaml = format!(
        "issuer: https://vpn.example.com/dex\nstorage:\n  type: postgres\n  config:\n    host: 127.0.0.1\n    port: {}\n    database: dex\n    user: dex\n    password: ${{DEX_DB_PASSWORD}}\n    ssl:\n      mode: disable\nweb:\n  http: 0.0.0.0:5556\n",
        s.port
    );
    let combined_yaml = format!(
        "server:\n  listenAddress: \":8100\"\n  dataDir: /var/lib/netbird-server\n  authStore:\n    engine: \"postgres\"\n    dsn: \"host=127.0.0.1 port={} user=dex password={DEX_PASSWORD} dbname=dex sslmode=disable\"\n",
        s.port
    );
    m.ok("useradd --system --user-group --no-create-home dex && mkdir -p -m 0700 /var/lib/dex /var/lib/private/netbird-server && chown dex:dex /var/lib/dex");
    let cases = [
        (
            "dex.service",
            "/etc/dex/config.yaml",
            dex_yaml,
            "/var/lib/dex/dex.db",
            "dex:dex",
            "User=dex\nGroup=dex\nStateDirectory=dex\nEnvironmentFile=/etc/dex/dex.env\nExecStart=/usr/bin/dex serve /etc/dex/config.yaml\n",
        ),
        (
            "netbird-server.service",
            "/etc/netbird/config.yaml",
            combined_yaml,
            "/var/lib/private/netbird-server/idp.db",
            "root:root",
            "DynamicUser=yes\nStateDirectory=netbird-server\nExecStart=/usr/bin/netbird-server --config /etc/netbird/config.yaml\n",
        ),
    ];
    m.write(
        "/etc/dex/dex.env",
        format!("DEX_DB_PASSWORD={DEX_PASSWORD}\n").as_bytes(),
        "root:root",
        0o600,
    );
    for (unit, config_at, yaml, stale_at, owner, service) in cases {
        s.reset();
        s.insert(&DbRow {
            id: "local",
            typ: "local",
            name: "Email",
            resource_version: "",
            config: None,
        });
        let jc = seed::jumpcloud_config(JUMPCLOUD);
        s.insert(&DbRow {
            id: seed::JC_ID,
            typ: "oidc",
            name: "JumpCloud",
            resource_version: "",
            config: Some(jc.as_bytes()),
        });
        m.write(config_at, yaml.as_bytes(), "root:root", 0o644);
        // What NetBird's move to PostgreSQL leaves behind: the old SQLite file, where the unit's
        // definition points.
        m.write_db(stale_at, &DexDb::locked_out(), owner, 0o600);
        let stale = sha256_hex(&m.read(stale_at));
        m.install_unit(
            unit,
            &format!("[Unit]\nDescription=ozrepair test\n\n[Service]\n{service}Restart=always\nRestartSec=2\nEnvironment=STANDIN_PUBLISHED={JUMPCLOUD_SLASH}\nEnvironment=STANDIN_STORE_CONFIG={config_at}\n"),
        );
        m.ok(&format!("systemctl start {unit}"));
        m.wait_for(unit, "a crash loop", Duration::from_secs(30), |p| {
            p["SubState"] == "auto-restart"
        });
        let run = fix(&m);
        let j = assert_fixed(&run, unit);
        assert_eq!(j["store"], "postgres", "{unit}: {run:?}");
        assert!(
            !run.all().contains(DEX_PASSWORD),
            "{unit}: the server's password was printed: {run:?}"
        );
        let located = j["located"].to_string();
        assert!(
            located.contains(&format!("named by {config_at}"))
                && located.contains(&format!("{stale_at} is not the store")),
            "{unit}: {located}"
        );
        let rows = s.rows();
        assert_eq!(rows[0].0, seed::JC_ID);
        assert_eq!(
            rows[0].2.as_deref(),
            Some(seed::jumpcloud_config(JUMPCLOUD_SLASH).as_bytes()),
            "{unit}: only the issuer's bytes"
        );
        assert_eq!(rows[0].1, "1", "{unit}: resource_version as Dex bumps it");
        assert_eq!((rows[1].0.as_str(), rows[1].2.as_deref()), ("local", None));
        assert_eq!(
            sha256_hex(&m.read(stale_at)),
            stale,
            "{unit}: the stale SQLite file is never the store"
        );
        assert_serving(&m, unit);
        m.ok(&format!("systemctl stop {unit}; systemctl disable {unit} 2>/dev/null; rm -f /etc/systemd/system/{unit}; systemctl daemon-reload; systemctl reset-failed"));
    }

    // Dex on etcd: a store ozrepair does not take, and no SQLite file is taken in its place.
    m.write(
        "/etc/dex/config.yaml",
        b"issuer: https://vpn.example.com/dex\nstorage:\n  type: etcd\n  config:\n    endpoints:\n      - http://127.0.0.1:2379\n",
        "root:root",
        0o644,
    );
    m.install_unit(
        "dex.service",
        "[Unit]\nDescription=ozrepair test\n\n[Service]\nUser=dex\nStateDirectory=dex\nExecStart=/usr/bin/dex serve /etc/dex/config.yaml\nRestart=always\nRestartSec=2\n",
    );
    m.ok("systemctl start dex.service");
    m.wait_for(
        "dex.service",
        "a crash loop",
        Duration::from_secs(30),
        |p| p["SubState"] == "auto-restart",
    );
    let stops = stop_jobs(&m, "dex.service");
    let run = fix(&m);
    assert_eq!(run.code, 1, "{run:?}");
    let error = run.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains("storage type \"etcd\", which ozrepair does not repair")
            && error.contains("nothing was changed")
            && !error.contains('\n'),
        "{error}"
    );
    assert_eq!(
        stop_jobs(&m, "dex.service"),
        stops,
        "a refusal stopped the unit"
    );
}
