//! The runtime of a systemd service unit: the one implementation file of [`Runtime`] for it. ozrepair
//! talks to systemd through its own tools with machine-readable output (see ARCHITECTURE.md for why):
//! `systemctl show` and `busctl --json`, `systemctl stop|start|reset-failed`, `journalctl -o json`. Its
//! parts:
//!
//! - [`ctl`]: running those tools and reading what they print;
//! - [`unit`]: a unit's state ([`unit::Status`]) and definition ([`unit::Service`]), what it runs;
//! - [`places`]: where its Dex database, config file and log lines are, by its definition;
//! - [`generated`]: whether its config file is written by something else (ExecStartPre, NixOS, Ansible);
//! - [`journal`]: its lines, from journald by run (InvocationID) or from its log file;
//! - [`lifecycle`]: stop and prove it holds, start and watch.
//!
//! Which unit: `--unit NAME`; else, when no container engine answers or none of its containers runs
//! the IdP, the units named as the field names them (netbird-management, openzro-management,
//! netbird-server, dex) and every unit whose ExecStart runs a management server, NetBird's combined server
//! or Dex, each confirmed by a Dex database (or a management.json with its own OIDC settings) where its
//! definition says.

pub mod bus;
pub mod ctl;
pub mod dbserver;
pub mod generated;
pub mod journal;
pub mod lifecycle;
pub mod places;
pub mod scan;
pub mod unit;

use super::{
    ConfigPlace, InsideSet, Located, NothingHere, Probe, Runtime, Started, State, StorePlace, Unit,
};
use crate::logs::{self, LogFindings};
use anyhow::{anyhow, bail, Result};
use ctl::Props;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use places::{LogTarget, Places};
use std::path::PathBuf;
use std::time::Duration;
use unit::{Role, Service, Status};

/// A service unit that runs the IdP, and what this run did to it.
pub struct Systemd {
    name: String,
    unit: Unit,
    log: LogTarget,
    stop_timeout: Duration,
    start_timeout: Duration,
    stopping: lifecycle::Stopping,
    /// The state it was proven stopped in.
    held: Option<Status>,
    /// systemd, over D-Bus when it answers there.
    sd: lifecycle::Manager,
}

/// `name` as systemd names a service (`netbird-management` -> `netbird-management.service`).
pub fn unit_name(name: &str) -> String {
    let n = name.trim();
    if n.contains('.') {
        n.to_string()
    } else {
        format!("{n}.service")
    }
}

/// A unit's timeout property (`TimeoutStopUSec=1min 30s`, or µs) as a duration; 90 s when unreadable.
fn timeout_of(v: &str) -> Duration {
    let mut total = 0u64;
    let mut any = false;
    for w in v.split_whitespace() {
        let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse::<u64>() else {
            continue;
        };
        let unit = &w[digits.len()..];
        let secs = match unit {
            "min" => n * 60,
            "h" => n * 3600,
            "s" | "" => n,
            "ms" => n / 1000,
            "us" => n / 1_000_000,
            _ => continue,
        };
        total += secs;
        any = true;
    }
    if v.trim() == "infinity" {
        return Duration::from_secs(3600);
    }
    if any {
        Duration::from_secs(total)
    } else {
        Duration::from_secs(90)
    }
}

/// One unit that may run the IdP, with where its definition says its things are.
struct Candidate {
    service: Service,
    places: Places,
    place: StorePlace,
    store_why: String,
    /// More to say of the store (how its server is reached, SQLite files left beside it).
    notes: Vec<String>,
}

/// Why a unit is not the one: it does not run the IdP where its definition says (`Not`), or its
/// configuration names a store ozrepair does not take (`Refused`: that stands, and no SQLite file is
/// taken in its place).
enum NotIt {
    Not(String),
    Refused(anyhow::Error),
}

/// The candidate a unit is, when its definition leads to a Dex database (confirmed by `probe`) or, for
/// a management server, to its management.json (the standalone setup). Otherwise why not.
fn candidate(service: Service, probe: Probe<'_>) -> std::result::Result<Candidate, NotIt> {
    let places = places::places(&service);
    // A database server its configuration names is the store: an SQLite file left where its definition
    // points (NetBird's migration to PostgreSQL leaves idp.db) is never taken for it.
    match dbserver::named(&service, &places.configs) {
        Ok(Some(server)) => {
            let mut notes = server.notes.clone();
            if let Some(v) = &server.via {
                notes.push(format!("reached through {v}"));
            }
            for (path, _) in &places.stores {
                if path.symlink_metadata().is_ok() {
                    notes.push(format!(
                        "{} is not the store (the configuration names {}); it is left alone",
                        path.display(),
                        server.flavour.as_str()
                    ));
                }
            }
            return Ok(Candidate {
                store_why: format!(
                    "{} {}, named by {}",
                    server.flavour.as_str(),
                    server.shown(),
                    server.from
                ),
                place: StorePlace::Server(Box::new(server)),
                notes,
                service,
                places,
            });
        }
        Ok(None) => {}
        Err(e) => return Err(NotIt::Refused(e)),
    }
    let mut looked = Vec::new();
    for (path, why) in &places.stores {
        if path.symlink_metadata().is_err() {
            continue;
        }
        if probe(path) {
            return Ok(Candidate {
                place: StorePlace::File(path.clone()),
                store_why: format!("Dex database {}: {why}", path.display()),
                notes: Vec::new(),
                service,
                places,
            });
        }
        looked.push(format!(
            "{} is there but is no Dex database ozrepair can read",
            path.display()
        ));
    }
    if matches!(service.role, Some(Role::Management(_))) {
        if let Some((config, _)) = places.configs.first().filter(|(c, _)| c.is_file()) {
            return Ok(Candidate {
                place: StorePlace::Absent,
                store_why: format!(
                    "no Dex database where its definition says: a management server with an external IdP (the standalone setup), its settings in {}",
                    config.display()
                ),
                notes: Vec::new(),
                service,
                places,
            });
        }
    }
    let tried: Vec<String> = places
        .stores
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    Err(NotIt::Not(format!(
        "unit {} ({}) has no Dex database in {}{}",
        service.name,
        service
            .argv
            .first()
            .map(String::as_str)
            .unwrap_or("no ExecStart"),
        if tried.is_empty() {
            "any place its definition names".to_string()
        } else {
            tried.join(", ")
        },
        if looked.is_empty() {
            String::new()
        } else {
            format!(" ({})", looked.join("; "))
        }
    )))
}

impl Systemd {
    fn of(c: &Candidate) -> Systemd {
        let s = &c.service;
        Systemd {
            name: s.name.clone(),
            unit: Unit {
                name: s.name.clone(),
                id: s.status.invocation.clone(),
                state: s.status.state(),
                exit_code: s.status.exit_code(),
                restarts: s.status.n_restarts as i64,
            },
            log: c.places.log.clone().unwrap_or(LogTarget::Journal),
            stop_timeout: timeout_of(s.props.get("TimeoutStopUSec")),
            start_timeout: timeout_of(s.props.get("TimeoutStartUSec")),
            stopping: lifecycle::Stopping::default(),
            held: None,
            sd: lifecycle::Manager,
        }
    }
}

/// The deployment the units of this host run: the one `unit` names, or the one found among them.
pub async fn locate(unit: Option<&str>, probe: Probe<'_>) -> Result<Located> {
    if !ctl::booted() {
        let msg =
            "this host was not booted with systemd (there is no /run/systemd/system)".to_string();
        return match unit {
            Some(u) => Err(anyhow!("{msg}, so there is no unit {u} to repair; nothing was changed; run ozrepair on the host that runs it, or pass the database with --db")),
            None => Err(NothingHere(msg).into()),
        };
    }
    let (services, looked) = match unit {
        Some(u) => (Service::read_all(&[unit_name(u)], true).await?, 1),
        None => {
            // The known names, and the units whose files (or drop-ins) name one of the programs, read
            // from systemd's unit directories (a few milliseconds; asking systemd for every unit's
            // ExecStart makes it load them all: most of a second on a busy machine). systemd's own
            // ExecStart then confirms each. When none runs the IdP, every loaded unit is asked.
            let mut names: Vec<String> = unit::KNOWN_NAMES.iter().map(|n| n.to_string()).collect();
            for n in scan::naming_programs() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            tracing::debug!(units = names.len(), "systemd: the unit names to look at");
            let mut picked = pick(&names).await?;
            tracing::debug!(units = picked.len(), "systemd: picked");
            let mut looked = names.len();
            if picked.is_empty() {
                let rest: Vec<String> = ctl::services(false)
                    .await?
                    .into_iter()
                    .filter(|n| !names.contains(n))
                    .collect::<Vec<_>>();
                looked += rest.len();
                picked = pick(&rest).await?;
            }
            (Service::from_shown(picked, false).await?, looked)
        }
    };
    tracing::debug!("systemd: services read");
    let mut found = Vec::new();
    let mut not = Vec::new();
    let mut refused = Vec::new();
    for s in services {
        if unit.is_none() && s.role.is_none() {
            continue;
        }
        match candidate(s, probe) {
            Ok(c) => found.push(c),
            Err(NotIt::Not(why)) => not.push(why),
            Err(NotIt::Refused(e)) => refused.push(e),
        }
    }
    if found.is_empty() {
        if let Some(e) = refused.into_iter().next() {
            return Err(e);
        }
    }
    let chosen = match found.len() {
        0 => {
            let msg = match unit {
                Some(u) => format!(
                    "{}; nothing was changed; pass the database with --db",
                    not.first().cloned().unwrap_or_else(|| format!("unit {u} runs no management server or Dex ozrepair knows"))
                ),
                None => format!(
                    "no systemd unit runs a management server or Dex with a Dex database ozrepair can find (looked at {looked} service unit(s){}); nothing was changed; name it with --unit, or pass the database with --db",
                    if not.is_empty() { String::new() } else { format!(": {}", not.join("; ")) }
                ),
            };
            return match unit {
                Some(_) => Err(anyhow!(msg)),
                None => Err(NothingHere(msg).into()),
            };
        }
        1 => (found.remove(0), None, None),
        _ => choose(found).await?,
    };
    let (c, chosen_why, logs) = chosen;
    located(c, chosen_why, logs)
}

/// The units among `names` whose ExecStart runs a management server, NetBird's combined server or Dex,
/// or that are named as the field names them (one `systemctl show` of them all, with every property a
/// [`Service`] is read from, so that the units picked need no second look).
async fn pick(names: &[String]) -> Result<Vec<(String, Props)>> {
    let shown = ctl::show(names, &Service::props()).await?;
    Ok(names
        .iter()
        .cloned()
        .zip(shown)
        .filter(|(name, p)| {
            let argv = ctl::exec_from_show(p.get("ExecStart"))
                .into_iter()
                .next()
                .unwrap_or_default();
            p.get("LoadState") != "not-found" && unit::role_of(&argv, name).is_some()
        })
        .collect())
}

/// Several units qualify: the one whose logs report a failing connector, else the one in a restart
/// loop; when nothing tells them apart, ozrepair refuses and names them.
async fn choose(found: Vec<Candidate>) -> Result<(Candidate, Option<String>, Option<LogFindings>)> {
    let mut ranked = Vec::new();
    for c in found {
        let rt = Systemd::of(&c);
        let f = rt.last_run().await?.unwrap_or_default();
        let score = if !f.evidence.is_empty() || !f.failures.is_empty() {
            2
        } else if rt.unit.failing() {
            1
        } else {
            0
        };
        ranked.push((score, c, f));
    }
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    if ranked[0].0 > ranked[1].0 {
        let others: Vec<String> = ranked[1..]
            .iter()
            .map(|r| r.1.service.name.clone())
            .collect();
        let (score, c, f) = ranked.remove(0);
        let reason = if score == 2 {
            "its logs report a failing connector"
        } else {
            "it is failing"
        };
        let why = format!(
            "chosen among {} units because {reason} (the others: {})",
            others.len() + 1,
            others.join(", ")
        );
        return Ok((c, Some(why), Some(f)));
    }
    bail!(
        "found {} units that run the IdP and nothing tells which one to repair: {}; nothing was changed; run again with one of them",
        ranked.len(),
        ranked
            .iter()
            .map(|r| format!("--unit {}", r.1.service.name))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn located(c: Candidate, chosen: Option<String>, logs: Option<LogFindings>) -> Result<Located> {
    let s = &c.service;
    let st = &s.status;
    // The program and its subcommand (`netbird-mgmt management`, `dex serve`).
    let prog = s
        .argv
        .iter()
        .take(2)
        .enumerate()
        .filter(|(i, a)| *i == 0 || !a.starts_with('-'))
        .map(|(_, a)| a.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut flags = Vec::new();
    for f in ["--config", "--datadir", "--log-file"] {
        if let Some(v) = s.flag(f) {
            flags.push(format!("{f} {v}"));
        }
    }
    let mut why = vec![
        format!(
            "systemd unit {} ({}, NRestarts {}, Result {}{})",
            s.name,
            st.shown(),
            st.n_restarts,
            if st.result.is_empty() {
                "-"
            } else {
                &st.result
            },
            if st.invocation.is_empty() {
                String::new()
            } else {
                format!(", invocation {}", st.invocation)
            }
        ),
        format!(
            "it runs {prog}{} (its command line read from {}), as {}",
            if flags.is_empty() {
                String::new()
            } else {
                format!(" {}", flags.join(" "))
            },
            s.argv_from,
            s.user()
        ),
        c.store_why.clone(),
    ];
    why.extend(c.notes.iter().cloned());
    why.push(match &c.places.log {
        Some(LogTarget::File(p)) => {
            format!("its log: the file {} ({})", p.display(), c.places.log_why)
        }
        _ => format!(
            "its log: journald (`journalctl -u {}`; {})",
            s.name, c.places.log_why
        ),
    });
    why.extend(chosen);
    let configs = c
        .places
        .configs
        .iter()
        .map(|(path, named_by)| {
            let bytes = crate::runtime::systemd::read_config(path);
            ConfigPlace::File {
                path: path.clone(),
                named_by: named_by.clone(),
                generated: generated::of_unit(s, path, bytes.as_deref()),
            }
        })
        .collect();
    let rt = Systemd::of(&c);
    Ok(Located {
        runtime: Box::new(rt),
        volume: None,
        place: c.place,
        why,
        logs,
        configs,
    })
}

/// A config file's bytes, to tell whether it is generated (None when it cannot be read).
fn read_config(path: &std::path::Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(path).ok()?;
    (meta.is_file() && meta.len() <= 4 << 20).then(|| std::fs::read(path).ok())?
}

/// After the engine found nothing (`engine`: why): the systemd unit that runs the IdP, when this host
/// has one; else the engine's answer, with what systemd said.
pub async fn instead_of_engine(engine: anyhow::Error, probe: Probe<'_>) -> Result<Located> {
    if !ctl::booted() {
        return Err(engine);
    }
    match locate(None, probe).await {
        Ok(mut l) => {
            l.why.insert(
                0,
                format!(
                    "no container deployment ({}), so the systemd unit that runs it",
                    format!("{engine:#}")
                        .split("; nothing was changed")
                        .next()
                        .unwrap_or_default()
                ),
            );
            Ok(l)
        }
        Err(e) if e.downcast_ref::<NothingHere>().is_some() => {
            // One line: what (the engine's, and systemd's), the state once, the next step.
            let other = format!("{e:#}");
            let other = other
                .split("; nothing was changed")
                .next()
                .unwrap_or_default();
            let engine = format!("{engine:#}");
            Err(match engine.split_once("; nothing was changed") {
                Some((what, rest)) => anyhow!("{what} (and {other}); nothing was changed{rest}"),
                None => anyhow!("{engine} (and {other})"),
            })
        }
        Err(e) => Err(e),
    }
}

impl Runtime for Systemd {
    fn kind(&self) -> &'static str {
        "systemd"
    }

    fn host(&self) -> Option<&str> {
        None
    }

    fn unit(&self) -> Option<&Unit> {
        Some(&self.unit)
    }

    fn start_command(&self) -> Option<String> {
        Some(format!("systemctl start {}", self.name))
    }

    fn logs_command(&self) -> Option<String> {
        Some(match &self.log {
            LogTarget::Journal => format!("journalctl -u {}", self.name),
            LogTarget::File(p) => format!("tail -n 100 {}", p.display()),
        })
    }

    fn stop(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            let held = lifecycle::stop(&self.sd, &self.name, &mut self.stopping, self.stop_timeout)
                .await?;
            self.held = Some(held);
            Ok(())
        }
        .boxed_local()
    }

    fn stopped_here(&self) -> bool {
        self.stopping.stopped_here
    }

    fn stop_refused(&self) -> bool {
        self.stopping.refused
    }

    fn check_held(&self) -> LocalBoxFuture<'_, Result<()>> {
        async move { lifecycle::check_held(&self.sd, &self.name, self.held.as_ref()).await }
            .boxed_local()
    }

    fn start_if_stopped_here(&self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            if self.stopping.stopped_here {
                crate::progress::say(format!("starting {}", self.name));
                ctl::act("start", &self.name, &["--no-block"], ctl::QUERY_LIMIT).await?;
            }
            Ok(())
        }
        .boxed_local()
    }

    fn start_and_watch(
        &self,
        wait: u64,
        backup: Option<String>,
    ) -> LocalBoxFuture<'_, Result<Started>> {
        async move {
            let logs_command = self.logs_command().unwrap_or_default();
            lifecycle::start_and_watch(
                &self.sd,
                &self.name,
                &self.log,
                &logs_command,
                wait,
                backup.as_deref(),
                self.start_timeout,
            )
            .await
        }
        .boxed_local()
    }

    fn state_now(&self) -> LocalBoxFuture<'_, Option<State>> {
        async move { self.sd.status(&self.name).await.ok().map(|s| s.state()) }.boxed_local()
    }

    /// The lines of the unit's last run that said something (in a restart loop or after a failure, of
    /// its last two runs): from journald by InvocationID, or from its log file since the main process
    /// last started.
    fn last_run(&self) -> LocalBoxFuture<'_, Result<Option<LogFindings>>> {
        async move {
            let now = self.sd.status(&self.name).await?;
            let ended = now.restarting() || matches!(now.active.as_str(), "failed" | "inactive");
            let (lines, source) = match &self.log {
                LogTarget::Journal => {
                    let source = format!("journal of {}", self.name);
                    let entries = journal::entries(&self.name, None, logs::TAIL).await?;
                    let last = journal::last_runs(&entries, 1);
                    let f = logs::scan_all(&last);
                    if f.is_silent() && ended {
                        (journal::last_runs(&entries, 2), source)
                    } else {
                        return Ok(Some(LogFindings {
                            source: Some(source),
                            ..f
                        }));
                    }
                }
                LogTarget::File(p) => (
                    journal::file_lines(
                        &PathBuf::from(p),
                        None,
                        now.main_started.map(|t| t - logs::START_SLACK_NS),
                    )?,
                    format!("log file {}", p.display()),
                ),
            };
            Ok(Some(LogFindings {
                source: Some(source),
                ..logs::scan_all(&lines)
            }))
        }
        .boxed_local()
    }

    fn fetch<'a>(
        &'a self,
        inside: &'a str,
        _companions: &'a [&'a str],
    ) -> LocalBoxFuture<'a, Result<Box<dyn InsideSet>>> {
        async move {
            Err(anyhow!(
                "{inside} is inside a container, and {} is a systemd unit whose files are on this machine",
                self.name
            ))
        }
        .boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_timeouts() {
        assert_eq!(
            unit_name("netbird-management"),
            "netbird-management.service"
        );
        assert_eq!(unit_name("dex.service"), "dex.service");
        assert_eq!(timeout_of("1min 30s"), Duration::from_secs(90));
        assert_eq!(timeout_of("5s"), Duration::from_secs(5));
        assert_eq!(timeout_of("infinity"), Duration::from_secs(3600));
        assert_eq!(timeout_of(""), Duration::from_secs(90));
    }
}
