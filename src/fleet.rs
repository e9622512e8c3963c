//! `ozrepair fleet`: the same inspect or fix on every host of an inventory. Each host is one run of this
//! same binary (`ozrepair -H <endpoint> … --output json`), so every host gets exactly the single-host
//! behaviour and report, a hung host can be stopped on its own, and one host's failure never touches
//! another. Output: one JSON object per host, then a summary line (`--output json`), or a table.

use crate::cli::{FleetAction, FleetArgs, Global, ToArgs};
use crate::report::{fleet_output, HostResult};
use crate::verdict::ExitCode;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::process::Stdio;
use std::time::Duration;

/// One line of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub endpoint: String,
    pub container: Option<String>,
    pub volume: Option<String>,
    /// `access=host|archive|auto`
    pub access: Option<String>,
}

/// Parses an inventory: one endpoint a line, optional `container=` and `volume=`, `#` comments.
pub fn parse_inventory(text: &str) -> Result<Vec<Host>> {
    let mut hosts = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let endpoint = words.next().unwrap_or_default().to_string();
        if !endpoint.contains("://") {
            bail!(
                "inventory line {}: {endpoint:?} is not an endpoint (unix://…, tcp://…, ssh://…)",
                n + 1
            );
        }
        let mut h = Host {
            endpoint,
            container: None,
            volume: None,
            access: None,
        };
        for w in words {
            match w.split_once('=') {
                Some(("container" | "volume", "")) => bail!(
                    "inventory line {}: {w:?} names no value (container=NAME, volume=NAME)",
                    n + 1
                ),
                Some(("container", v)) => h.container = Some(v.to_string()),
                Some(("volume", v)) => h.volume = Some(v.to_string()),
                Some(("access", v)) if matches!(v, "auto" | "host" | "archive") => {
                    h.access = Some(v.to_string())
                }
                _ => bail!(
                    "inventory line {}: {w:?} is none of container=NAME, volume=NAME, access=auto|host|archive",
                    n + 1
                ),
            }
        }
        hosts.push(h);
    }
    Ok(hosts)
}

/// Runs one host: this binary with the host's endpoint and the action's flags.
async fn run_host(
    h: &Host,
    action: &FleetAction,
    timeout: Duration,
    accept_new: bool,
) -> (Value, ExitCode) {
    let exe = std::env::current_exe().unwrap_or_else(|_| "ozrepair".into());
    let mut cmd = tokio::process::Command::new(exe);
    // `--flag=VALUE`: a value from the inventory that starts with `-` stays a value.
    cmd.arg(format!("--host={}", h.endpoint))
        .args(["--output", "json", "--color", "never"]);
    if accept_new {
        cmd.arg("--ssh-accept-new");
    }
    if let Some(c) = &h.container {
        cmd.arg(format!("--container={c}"));
    }
    if let Some(v) = &h.volume {
        cmd.arg(format!("--volume={v}"));
    }
    if let Some(a) = &h.access {
        cmd.arg(format!("--access={a}"));
    }
    match action {
        FleetAction::Inspect(a) => {
            cmd.arg("inspect").args(a.args());
        }
        FleetAction::Fix(a) => {
            cmd.args(["fix", "--yes"]).args(a.args());
        }
        FleetAction::Password(a) => {
            cmd.args(["password", "--yes"]).args(a.args());
        }
        FleetAction::LocalLogin(a) => {
            cmd.args(["local-login", "--yes"]).args(a.args());
        }
        FleetAction::Secret(a) => {
            cmd.args(["secret", "--yes"]).args(a.args());
        }
        // Refused in `run` before any host is asked; never run on a host.
        FleetAction::Domain { .. } => {
            return (
                json!({"schema_version": crate::report::SCHEMA_VERSION, "host": h.endpoint, "result": "failed", "error": FLEET_DOMAIN}),
                ExitCode::Usage,
            );
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let failed = |error: String| {
        (
            json!({"schema_version": crate::report::SCHEMA_VERSION, "host": h.endpoint, "result": "failed", "error": error}),
            ExitCode::Failed,
        )
    };
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot run ozrepair for this host ({e})")),
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => failed(format!(
            "no answer within {}s; the run for this host was stopped: check it by hand",
            timeout.as_secs()
        )),
        Ok(Err(e)) => failed(format!("the run for this host failed ({e})")),
        Ok(Ok(out)) => {
            let code = ExitCode::from_code(out.status.code().unwrap_or(1));
            let text = String::from_utf8_lossy(&out.stdout);
            match serde_json::from_str::<Value>(text.trim()) {
                Ok(mut v) => {
                    v["host"] = json!(h.endpoint);
                    // `--ssh-accept-new` trusted this host's key for the first time: said per host, and
                    // gathered in the summary.
                    let accepted = v["located"].as_array().and_then(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .find_map(crate::runtime::docker::endpoint::accepted_key)
                            .map(String::from)
                    });
                    if let Some(k) = accepted {
                        v["ssh_host_key_accepted"] = json!(k);
                    }
                    (v, code)
                }
                Err(_) => {
                    // The line that says what went wrong, not clap's closing "For more information".
                    let err = String::from_utf8_lossy(&out.stderr);
                    let lines = || err.lines().map(str::trim).filter(|l| !l.is_empty());
                    let line = lines()
                        .find(|l| l.starts_with("error:") || l.starts_with("ozrepair: "))
                        .or_else(|| lines().next())
                        .unwrap_or("no report");
                    failed(
                        line.trim_start_matches("ozrepair: ")
                            .trim_start_matches("error: ")
                            .to_string(),
                    )
                }
            }
        }
    }
}

fn read_inventory(a: &FleetArgs) -> Result<Vec<Host>> {
    let bytes = if a.inventory.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("cannot read the inventory from stdin")?;
        b
    } else {
        std::fs::read(&a.inventory)
            .with_context(|| format!("cannot read the inventory {}", a.inventory.display()))?
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        anyhow::anyhow!("inventory line {line}: not UTF-8 text")
    })?;
    let hosts = parse_inventory(&text)?;
    if hosts.is_empty() {
        bail!("the inventory {} lists no hosts", a.inventory.display());
    }
    Ok(hosts)
}

/// `fleet password`: the password file must be a file (each host's run reads it; their stdin is closed),
/// and its password acceptable, before any host is asked. The message never quotes the password.
fn password_file_usable(p: &crate::cli::PasswordArgs) -> Result<(), String> {
    if p.password_file.as_os_str() == "-" {
        return Err("fleet password reads the password from a file that each host's run opens, not from stdin; give --password-file FILE; nothing was changed".into());
    }
    let data = std::fs::read(&p.password_file).map_err(|e| {
        format!(
            "cannot read the password file {} ({e}); nothing was changed",
            p.password_file.display()
        )
    })?;
    crate::dex::password::NewPassword::parse(&data)
        .map(|_| ())
        .map_err(|e| e.0)
}

/// `fleet secret`: the secret file must be a file (each host's run reads it; their stdin is closed), and
/// its secret acceptable, before any host is asked. The message never quotes the secret.
fn secret_file_usable(p: &crate::cli::SecretArgs) -> Result<(), String> {
    if p.secret_file.as_os_str() == "-" {
        return Err("fleet secret reads the secret from a file that each host's run opens, not from stdin; give --secret-file FILE; nothing was changed".into());
    }
    let data = std::fs::read(&p.secret_file).map_err(|e| {
        format!(
            "cannot read the secret file {} ({e}); nothing was changed",
            p.secret_file.display()
        )
    })?;
    crate::dex::secrets::SecretValue::parse(&data)
        .map(|_| ())
        .map_err(|e| e.0)
}

/// `fleet domain`: refused. A fleet runs one action with one set of flags on every host, and a domain is
/// each deployment's own: one `--to` for every host would give them all one name, and `--from` learned per
/// host would move unrelated deployments together.
const FLEET_DOMAIN: &str = "fleet domain is refused: each deployment has its own domain, and one --to for every host would give them all the same name; run `ozrepair -H ENDPOINT domain --to NEW` for each host (a dry run unless --apply); nothing was changed";

/// Runs the fleet: what to print on stdout, and the exit code (the worst host's; 2 for a bad inventory or
/// flags).
pub async fn run(g: &Global, a: &FleetArgs) -> (String, ExitCode) {
    let refuse = |msg: String| {
        crate::progress::say(msg);
        (String::new(), ExitCode::Usage)
    };
    if matches!(&a.action, FleetAction::Domain { .. }) {
        return refuse(FLEET_DOMAIN.into());
    }
    if g.db.is_some()
        || g.unit.is_some()
        || g.container.is_some()
        || g.volume.is_some()
        || g.dsn_file.is_some()
    {
        return refuse("fleet takes --container/--volume per host in the inventory, and no --db, --unit or --dsn-file (fleet reaches Docker engines); nothing was changed".into());
    }
    if let FleetAction::Fix(f) = &a.action {
        if let Some(e) = f.plan.set.iter().find_map(|s| s.refusal()) {
            return refuse(e.0);
        }
    }
    if matches!(&a.action, FleetAction::Fix(f) if !f.dry.dry_run) && !g.yes {
        return refuse("fleet fix changes many hosts and cannot ask each time: re-run with --yes (or use --dry-run); nothing was changed".into());
    }
    if matches!(&a.action, FleetAction::LocalLogin(l) if !l.dry.dry_run) && !g.yes {
        return refuse("fleet local-login changes many hosts and cannot ask each time: re-run with --yes (or use --dry-run); nothing was changed".into());
    }
    if let FleetAction::Password(p) = &a.action {
        if !p.dry.dry_run && !g.yes {
            return refuse("fleet password changes many hosts and cannot ask each time: re-run with --yes (or use --dry-run); nothing was changed".into());
        }
        if let Err(e) = password_file_usable(p) {
            return refuse(e);
        }
    }
    if let FleetAction::Secret(p) = &a.action {
        if !p.dry.dry_run && !g.yes {
            return refuse("fleet secret changes many hosts and cannot ask each time: re-run with --yes (or use --dry-run); nothing was changed".into());
        }
        if let Err(e) = secret_file_usable(p) {
            return refuse(e);
        }
    }
    let hosts = match read_inventory(a) {
        Ok(h) => h,
        Err(e) => return refuse(format!("{e:#}; nothing was changed")),
    };
    let parallel = a.parallel.max(1);
    let batch = a.serial.unwrap_or(hosts.len()).max(1);
    let timeout = Duration::from_secs(a.host_timeout.max(1));
    let bar = (std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(hosts.len() as u64);
        if let Ok(s) = indicatif::ProgressStyle::with_template("{wide_bar} {pos}/{len} hosts {msg}")
        {
            b.set_style(s);
        }
        b
    });

    let mut results: Vec<HostResult> = Vec::new();
    let mut failed = 0usize;
    let mut stopped_at = None;
    for (bi, chunk) in hosts.chunks(batch).enumerate() {
        if let (Some(max), true) = (a.max_fail, bi > 0) {
            if failed > max {
                stopped_at = Some(bi * batch);
                break;
            }
        }
        // Up to `parallel` hosts at once within the batch.
        for group in chunk.chunks(parallel) {
            let runs = group
                .iter()
                .map(|h| run_host(h, &a.action, timeout, g.ssh_accept_new));
            for (h, (v, code)) in group.iter().zip(futures_util::future::join_all(runs).await) {
                if code.severity() == ExitCode::Failed.severity() {
                    failed += 1;
                }
                if let Some(b) = &bar {
                    b.inc(1);
                    b.set_message(format!("{} failed", failed));
                }
                results.push(HostResult {
                    endpoint: h.endpoint.clone(),
                    report: v,
                    exit: code,
                });
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let skipped: Vec<Host> = stopped_at.map(|i| hosts[i..].to_vec()).unwrap_or_default();
    for h in &skipped {
        let v = json!({"schema_version": crate::report::SCHEMA_VERSION, "host": h.endpoint, "result": crate::verdict::Outcome::Skipped.as_str(),
            "error": format!("not run: more than {} host(s) failed in earlier batches (--max-fail)", a.max_fail.unwrap_or(0))});
        results.push(HostResult {
            endpoint: h.endpoint.clone(),
            report: v,
            exit: ExitCode::Failed,
        });
    }

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &results {
        *counts
            .entry(r.report["result"].as_str().unwrap_or("failed").to_string())
            .or_default() += 1;
    }
    let worst = results
        .iter()
        .map(|r| r.exit)
        .max_by_key(|c| c.severity())
        .unwrap_or(ExitCode::Done);
    // A usage error on one host is that host's failure, not the fleet's.
    let code = if worst.severity() == ExitCode::Failed.severity() {
        ExitCode::Failed
    } else {
        worst
    };
    (fleet_output(g.output, &results, &counts, code), code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_lines() {
        let inv = "# site A\nunix:///run/a.sock access=archive\n\ntcp://10.0.0.5:2375 container=openzro-management volume=root_openzro_management # B\n";
        let hosts = parse_inventory(inv).unwrap();
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[1].container.as_deref(), Some("openzro-management"));
        assert_eq!(hosts[1].volume.as_deref(), Some("root_openzro_management"));
        assert_eq!(hosts[0].access.as_deref(), Some("archive"));
        assert!(parse_inventory("not-an-endpoint\n").is_err());
        assert!(parse_inventory("unix:///x colour=red\n").is_err());
        let e = parse_inventory("unix:///a\n\nunix:///x container=\n").unwrap_err();
        assert!(e.to_string().starts_with("inventory line 3:"), "{e}");
    }
}
