//! systemd's own command-line tools, each run with machine-readable output: `systemctl show` (one
//! `KEY=VALUE` line per property, a blank line between units), `busctl --json=short` for the few
//! properties whose text form is ambiguous (ExecStart's argv: `systemctl show` joins it with spaces), and
//! `systemctl stop|start|reset-failed`, which wait for their job and say how it ended by their exit code.
//! Every run has the C locale, UTC, no pager, no colour, no password prompt, and a time limit.

use crate::timefmt::parse_rfc3339;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

/// How long a query may take.
pub const QUERY_LIMIT: Duration = Duration::from_secs(30);

/// Whether this host was booted with systemd (`sd_booted()`: the directory systemd makes at boot).
pub fn booted() -> bool {
    std::path::Path::new("/run/systemd/system").is_dir()
}

/// Runs `program args` to the end within `limit`.
pub async fn run(program: &str, args: &[&str], limit: Duration) -> Result<Output> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_LOG_COLOR", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(limit, cmd.output())
        .await
        .map_err(|_| {
            anyhow!(
                "`{program} {}` did not answer within {}s",
                args.join(" "),
                limit.as_secs()
            )
        })?
        .with_context(|| format!("cannot run {program}"))?;
    Ok(out)
}

/// The first line of what a failed command printed on stderr.
pub fn said(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.is_empty() {
        format!("exit status {}", out.status.code().unwrap_or(-1))
    } else {
        line.trim().to_string()
    }
}

/// One unit's properties as `systemctl show` printed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props(pub BTreeMap<String, String>);

impl Props {
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }

    pub fn num(&self, k: &str) -> u64 {
        self.get(k).parse().unwrap_or(0)
    }

    pub fn yes(&self, k: &str) -> bool {
        matches!(self.get(k), "yes" | "true" | "1")
    }

    /// A timestamp property (`Sun 2026-12-06 11:05:00.450396 UTC`, as `--timestamp=us+utc` or `TZ=UTC`
    /// prints it) in nanoseconds since the epoch; None when unset.
    pub fn stamp(&self, k: &str) -> Option<i128> {
        parse_show_stamp(self.get(k))
    }

    /// A list property (`StateDirectory=a b`).
    pub fn words(&self, k: &str) -> Vec<String> {
        self.get(k).split_whitespace().map(String::from).collect()
    }
}

/// `Sun 2026-12-06 11:05:00.450396 UTC` (or without the weekday or the fraction) in ns since the epoch.
pub fn parse_show_stamp(v: &str) -> Option<i128> {
    let mut w: Vec<&str> = v.split_whitespace().collect();
    if w.last() != Some(&"UTC") {
        return None;
    }
    w.pop();
    if w.len() == 3 {
        w.remove(0);
    }
    let [date, time] = w[..] else { return None };
    parse_rfc3339(&format!("{date}T{time}Z"))
}

/// Parses `systemctl show` output: blocks of `KEY=VALUE` lines, one per unit, separated by blank lines.
pub fn parse_show(text: &str) -> Vec<Props> {
    let mut out = Vec::new();
    let mut cur = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(Props(std::mem::take(&mut cur)));
            }
            continue;
        }
        // A list of structures (ExecStartPre=, EnvironmentFiles=) is one line per item.
        if let Some((k, v)) = line.split_once('=') {
            cur.entry(k.to_string())
                .and_modify(|e: &mut String| {
                    e.push('\n');
                    e.push_str(v);
                })
                .or_insert_with(|| v.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(Props(cur));
    }
    out
}

/// The properties `props` of each of `units`, in their order (`systemctl show`; a unit that does not
/// exist has `LoadState=not-found`).
pub async fn show(units: &[String], props: &[&str]) -> Result<Vec<Props>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let mut list: Vec<&str> = props.to_vec();
    for k in ["Id", "LoadState"] {
        if !list.contains(&k) {
            list.push(k);
        }
    }
    let p = list.join(",");
    let mut args = vec!["show", "--no-pager", "--timestamp=us+utc", "-p", &p, "--"];
    args.extend(units.iter().map(String::as_str));
    let mut out = run("systemctl", &args, QUERY_LIMIT).await?;
    if !out.status.success() && said(&out).contains("timestamp") {
        // systemctl before v247 has no --timestamp; TZ=UTC gives the same form without the fraction.
        args.remove(2);
        out = run("systemctl", &args, QUERY_LIMIT).await?;
    }
    if !out.status.success() {
        bail!("`systemctl show` failed: {}", said(&out));
    }
    let all = parse_show(&String::from_utf8_lossy(&out.stdout));
    if all.len() != units.len() {
        bail!(
            "`systemctl show` described {} unit(s) for the {} asked",
            all.len(),
            units.len()
        );
    }
    Ok(all)
}

/// Service units, not templates: the loaded ones in any state (`installed` false: quick, systemd has
/// them in memory), or every installed unit file (`installed` true: systemd loads each one it is asked
/// about later, about a second for a hundred units on a busy machine).
pub async fn services(installed: bool) -> Result<Vec<String>> {
    let args: &[&str] = if installed {
        &[
            "list-unit-files",
            "--type=service",
            "--plain",
            "--no-legend",
            "--no-pager",
        ]
    } else {
        &[
            "list-units",
            "--type=service",
            "--all",
            "--plain",
            "--no-legend",
            "--no-pager",
        ]
    };
    let out = run("systemctl", args, QUERY_LIMIT).await?;
    if !out.status.success() {
        bail!("`systemctl {}` failed: {}", args[0], said(&out));
    }
    let mut names = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // list-units marks failed units with a leading ●.
        let name = line
            .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
            .split_whitespace()
            .next()
            .unwrap_or("");
        if name.ends_with(".service") && !name.contains("@.") {
            names.insert(name.to_string());
        }
    }
    Ok(names.into_iter().collect())
}

/// D-Bus's escaping of a unit name in its object path (`netbird-management.service` ->
/// `netbird_2dmanagement_2eservice`).
pub fn bus_label(name: &str) -> String {
    let mut s = String::new();
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (b.is_ascii_digit() && i > 0) {
            s.push(b as char);
        } else {
            s.push_str(&format!("_{b:02x}"));
        }
    }
    if s.is_empty() {
        s.push('_');
    }
    s
}

/// The command lines of Exec properties (`ExecStart`, `ExecStartPre`), each command as its exact argv,
/// read over D-Bus ([`super::bus`]; else with one `busctl --json=short`: one `a(sasbttttuii)` value a
/// line, in the order asked). None when the system bus cannot be asked (no bus daemon): then
/// [`exec_from_show`] is the fallback.
pub async fn exec_argv(unit: &str, props: &[&str]) -> Option<Vec<Vec<Vec<String>>>> {
    if let Some(b) = super::bus::shared().await {
        let asked = tokio::time::timeout(QUERY_LIMIT, b.exec_argv(unit, props)).await;
        if let Ok(Some(all)) = asked {
            return Some(all);
        }
    }
    let path = format!("/org/freedesktop/systemd1/unit/{}", bus_label(unit));
    let mut args = vec![
        "--json=short",
        "--no-pager",
        "get-property",
        "org.freedesktop.systemd1",
        &path,
        "org.freedesktop.systemd1.Service",
    ];
    args.extend_from_slice(props);
    let out = run("busctl", &args, QUERY_LIMIT).await.ok()?;
    if !out.status.success() {
        tracing::debug!(unit, "busctl: {}", said(&out));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let all: Option<Vec<_>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_exec_json(l.as_bytes()))
        .collect();
    all.filter(|a| a.len() == props.len())
}

/// `{"type":"a(sasbttttuii)","data":[["/bin/x",["/bin/x","a b"],false,…],…]}` -> the argv lists.
pub fn parse_exec_json(bytes: &[u8]) -> Option<Vec<Vec<String>>> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let data = v.get("data")?.as_array()?;
    let mut out = Vec::new();
    for cmd in data {
        let argv = cmd.get(1)?.as_array()?;
        out.push(
            argv.iter()
                .map(|a| a.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()?,
        );
    }
    Some(out)
}

/// The argv lists of an Exec property as `systemctl show` prints them
/// (`{ path=/bin/x ; argv[]=/bin/x a b ; … }`): the words split at spaces, which is exact unless an
/// argument itself holds a space.
pub fn exec_from_show(value: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for part in value.split("argv[]=").skip(1) {
        let argv = part.split(" ; ").next().unwrap_or("");
        out.push(argv.split_whitespace().map(String::from).collect());
    }
    out
}

/// `systemctl VERB unit`, which waits for the job it queues (unless `--no-block` is among `extra`) and
/// fails when the job fails.
pub async fn act(verb: &str, unit: &str, extra: &[&str], limit: Duration) -> Result<()> {
    let mut args = vec![verb, "--no-pager", "--no-ask-password", "--quiet"];
    args.extend_from_slice(extra);
    args.push("--");
    args.push(unit);
    let out = run("systemctl", &args, limit).await?;
    if !out.status.success() {
        bail!("`systemctl {verb} {unit}` failed: {}", said(&out));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_show_output() {
        let text = "NRestarts=5\nActiveState=failed\nExecMainStartTimestamp=Sun 2026-12-06 11:05:00.450396 UTC\nId=a.service\n\nNRestarts=0\nId=b.service\nActiveEnterTimestamp=\n";
        let all = parse_show(text);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].num("NRestarts"), 5);
        assert_eq!(all[0].get("ActiveState"), "failed");
        assert_eq!(
            all[0].stamp("ExecMainStartTimestamp"),
            parse_rfc3339("2026-12-06T11:05:00.450396Z")
        );
        assert_eq!(all[1].get("Id"), "b.service");
        assert_eq!(all[1].stamp("ActiveEnterTimestamp"), None);
        assert_eq!(
            parse_show_stamp("Sun 2026-12-06 11:05:00 UTC"),
            parse_rfc3339("2026-12-06T11:05:00Z")
        );
        assert_eq!(parse_show_stamp("n/a"), None);
    }

    #[test]
    fn exec_argv_from_json_and_show() {
        let json = br#"{"type":"a(sasbttttuii)","data":[["/bin/sh",["/bin/sh","-c","sleep 1000","a b","--x=c \"d"],false,0,0,0,0,0,0,0]]}"#;
        assert_eq!(
            parse_exec_json(json),
            Some(vec![vec![
                "/bin/sh".to_string(),
                "-c".into(),
                "sleep 1000".into(),
                "a b".into(),
                "--x=c \"d".into()
            ]])
        );
        let show = "{ path=/usr/bin/netbird-mgmt ; argv[]=/usr/bin/netbird-mgmt management --config /etc/netbird/management.json ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }";
        assert_eq!(
            exec_from_show(show),
            vec![vec![
                "/usr/bin/netbird-mgmt".to_string(),
                "management".into(),
                "--config".into(),
                "/etc/netbird/management.json".into()
            ]]
        );
    }

    #[test]
    fn bus_labels_as_sd_bus_escapes_them() {
        assert_eq!(
            bus_label("netbird-management.service"),
            "netbird_2dmanagement_2eservice"
        );
        assert_eq!(bus_label("1a.service"), "_31a_2eservice");
    }
}
