//! systemd's manager over D-Bus (zbus), for the stop window's many small questions: a unit's state
//! (two `GetAll` calls on its object) and its stop, start and reset-failed (`StopUnit`, `StartUnit`,
//! `ResetFailedUnit`, waiting for the job's `JobRemoved` signal as `systemctl` does). Each question
//! through `systemctl` is a process of its own, 5 to 10 ms on a quiet machine; over D-Bus it is a round
//! trip of well under a millisecond, and a fix asks about twenty of them.
//!
//! The connection is to the system bus (root may stop and start units there without polkit; anyone else
//! is asked by polkit, as `systemctl` would be). Not to systemd's own socket (`/run/systemd/private`,
//! which `systemctl` uses as root): systemd sends its replies there from the name
//! `org.freedesktop.systemd1`, where a bus sends a unique name, and zbus 5 refuses such a message in its
//! reader, which leaves the call waiting (met on systemd 252). When the bus does not answer (no bus
//! daemon), [`shared`] returns None and the caller asks `systemctl` ([`super::ctl`]). Every question
//! has a time limit, after which `systemctl` is asked instead.

use super::ctl::bus_label;
use super::unit::Status;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{Connection, MatchRule, MessageStream};

const DEST: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const SERVICE: &str = "org.freedesktop.systemd1.Service";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// How long connecting may take before `systemctl` is asked instead.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// A connection to systemd's manager.
pub struct Bus {
    conn: Connection,
    /// `Subscribe` was answered on this connection (systemd sends job signals from then on).
    subscribed: tokio::sync::OnceCell<()>,
}

/// The process's one connection to systemd, made at its first question (discovery's or the stop
/// window's). None when the bus does not answer; it is not tried again, and `systemctl` is asked.
pub async fn shared() -> Option<&'static Bus> {
    static BUS: tokio::sync::OnceCell<Option<Bus>> = tokio::sync::OnceCell::const_new();
    BUS.get_or_init(connect).await.as_ref()
}

/// Connects to systemd through the system bus. None when it does not answer.
async fn connect() -> Option<Bus> {
    let made = tokio::time::timeout(CONNECT_LIMIT, async {
        match Connection::system().await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!("the system bus: {e}");
                None
            }
        }
    })
    .await
    .ok()
    .flatten()?;
    Some(Bus {
        conn: made,
        subscribed: tokio::sync::OnceCell::new(),
    })
}

/// The object path of a unit (systemd loads the unit when its path is asked about).
fn unit_path(unit: &str) -> String {
    format!("{MANAGER_PATH}/unit/{}", bus_label(unit))
}

type Dict = HashMap<String, OwnedValue>;

fn text(d: &Dict, k: &str) -> String {
    d.get(k)
        .and_then(|v| <&str>::try_from(v).ok().map(String::from))
        .unwrap_or_default()
}

fn unsigned(d: &Dict, k: &str) -> u64 {
    let Some(v) = d.get(k) else { return 0 };
    u32::try_from(v)
        .map(u64::from)
        .or_else(|_| u64::try_from(v))
        .unwrap_or(0)
}

fn signed(d: &Dict, k: &str) -> i64 {
    d.get(k)
        .and_then(|v| i32::try_from(v).ok())
        .map(i64::from)
        .unwrap_or(0)
}

/// A realtime timestamp (µs since the epoch, 0 for never) in ns, as [`super::ctl::Props::stamp`] gives it.
fn stamp(d: &Dict, k: &str) -> Option<i128> {
    match d.get(k).and_then(|v| u64::try_from(v).ok()) {
        None | Some(0) => None,
        Some(us) => Some(i128::from(us) * 1000),
    }
}

/// An `ay` id (InvocationID) as 32 lowercase hex digits, as `systemctl show` prints it; empty when unset.
fn id128(d: &Dict, k: &str) -> String {
    let Some(v) = d.get(k) else {
        return String::new();
    };
    let bytes: Vec<u8> = v
        .try_clone()
        .ok()
        .and_then(|v| v.try_into().ok())
        .unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A job `(uo)`: its id, or empty when there is none.
fn job(d: &Dict, k: &str) -> String {
    let Some(v) = d.get(k) else {
        return String::new();
    };
    let pair: Option<(u32, OwnedObjectPath)> = v.try_clone().ok().and_then(|v| v.try_into().ok());
    match pair {
        Some((id, _)) if id != 0 => id.to_string(),
        _ => String::new(),
    }
}

impl Bus {
    async fn get_all(&self, path: &str, interface: &str) -> Result<Dict> {
        let reply = self
            .conn
            .call_method(Some(DEST), path, Some(PROPERTIES), "GetAll", &(interface,))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        reply
            .body()
            .deserialize::<Dict>()
            .map_err(|e| anyhow!("{e}"))
    }

    /// The unit's state, the same values `systemctl show` gives for [`super::unit::STATUS_PROPS`];
    /// with its LoadState.
    pub async fn status(&self, unit: &str) -> Result<(String, Status)> {
        let path = unit_path(unit);
        let u = self
            .get_all(&path, UNIT)
            .await
            .with_context(|| format!("systemd did not describe {unit}"))?;
        let load = text(&u, "LoadState");
        // A unit that is not loaded has no Service interface to ask.
        let s = if load == "loaded" {
            self.get_all(&path, SERVICE)
                .await
                .with_context(|| format!("systemd did not describe {unit}"))?
        } else {
            Dict::new()
        };
        let status = Status {
            active: text(&u, "ActiveState"),
            sub: text(&u, "SubState"),
            n_restarts: unsigned(&s, "NRestarts"),
            result: text(&s, "Result"),
            invocation: id128(&u, "InvocationID"),
            exit_status: signed(&s, "ExecMainStatus"),
            main_pid: unsigned(&s, "MainPID"),
            control_pid: unsigned(&s, "ControlPID"),
            job: job(&u, "Job"),
            main_started: stamp(&s, "ExecMainStartTimestamp"),
            left_inactive: stamp(&u, "InactiveExitTimestamp"),
        };
        Ok((load, status))
    }

    /// `verb` (stop, start, reset-failed) on the unit; stop and start wait for their job, as `systemctl`
    /// does, and fail when it does not end `done`. The caller bounds how long
    /// ([`super::lifecycle::Manager::act`]).
    pub async fn act(&self, verb: &str, unit: &str) -> Result<()> {
        let method = match verb {
            "stop" => "StopUnit",
            "start" => "StartUnit",
            "reset-failed" => {
                self.conn
                    .call_method(
                        Some(DEST),
                        MANAGER_PATH,
                        Some(MANAGER),
                        "ResetFailedUnit",
                        &(unit,),
                    )
                    .await
                    .map_err(|e| anyhow!("`systemctl reset-failed {unit}` failed: {e}"))?;
                return Ok(());
            }
            _ => bail!("no such systemd action: {verb}"),
        };
        // Signals first (a job may end before its reply is read): the bus forwards what the rule asks
        // for, and systemd sends job signals once a client has subscribed (once per connection).
        let rule = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender(DEST)?
            .interface(MANAGER)?
            .member("JobRemoved")?
            .build();
        let mut removed = MessageStream::for_match_rule(rule, &self.conn, None)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        self.subscribed
            .get_or_try_init(|| async {
                self.conn
                    .call_method(Some(DEST), MANAGER_PATH, Some(MANAGER), "Subscribe", &())
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow!("`systemctl {verb} {unit}` failed: {e}"))
            })
            .await?;
        let reply = self
            .conn
            .call_method(
                Some(DEST),
                MANAGER_PATH,
                Some(MANAGER),
                method,
                &(unit, "replace"),
            )
            .await
            .map_err(|e| anyhow!("`systemctl {verb} {unit}` failed: {e}"))?;
        let job: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| anyhow!("`systemctl {verb} {unit}`: {e}"))?;
        let mut ended = None;
        while let Some(m) = removed.next().await {
            let Ok(m) = m else { continue };
            let Ok((_, path, _, result)) = m
                .body()
                .deserialize::<(u32, OwnedObjectPath, String, String)>()
            else {
                continue;
            };
            if path == job {
                ended = Some(result);
                break;
            }
        }
        match ended.as_deref() {
            Some("done") => Ok(()),
            Some(result) => bail!(
                "`systemctl {verb} {unit}` failed: its job ended {result}{}",
                if result == "failed" {
                    format!(" (see `systemctl status {unit}` and `journalctl -u {unit}`)")
                } else {
                    String::new()
                }
            ),
            None => bail!("`systemctl {verb} {unit}` failed: the connection to systemd closed"),
        }
    }

    /// The argv lists of Exec properties (`ExecStart`, `ExecStartPre`), exact (`a(sasbttttuii)`).
    pub async fn exec_argv(&self, unit: &str, props: &[&str]) -> Option<Vec<Vec<Vec<String>>>> {
        let path = unit_path(unit);
        let mut out = Vec::new();
        for p in props {
            let reply = self
                .conn
                .call_method(
                    Some(DEST),
                    path.as_str(),
                    Some(PROPERTIES),
                    "Get",
                    &(SERVICE, *p),
                )
                .await
                .ok()?;
            let v: OwnedValue = reply.body().deserialize().ok()?;
            type Exec = Vec<(String, Vec<String>, bool, u64, u64, u64, u64, u32, i32, i32)>;
            let cmds: Exec = v.try_into().ok()?;
            out.push(cmds.into_iter().map(|c| c.1).collect());
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::{ObjectPath, Value};

    fn owned(v: Value<'_>) -> OwnedValue {
        v.try_to_owned().unwrap()
    }

    #[test]
    fn reads_properties_as_systemctl_show_prints_them() {
        let mut d = Dict::new();
        d.insert("ActiveState".into(), owned(Value::from("activating")));
        d.insert("NRestarts".into(), owned(Value::from(7u32)));
        d.insert("ExecMainStatus".into(), owned(Value::from(-3i32)));
        d.insert(
            "InactiveExitTimestamp".into(),
            owned(Value::from(1_796_000_000_123_456u64)),
        );
        d.insert("ExecMainStartTimestamp".into(), owned(Value::from(0u64)));
        d.insert(
            "InvocationID".into(),
            owned(Value::from(vec![0x0au8, 0xff, 0x00, 0x10])),
        );
        d.insert(
            "Job".into(),
            owned(Value::from((
                12u32,
                ObjectPath::try_from("/org/freedesktop/systemd1/job/12").unwrap(),
            ))),
        );
        assert_eq!(text(&d, "ActiveState"), "activating");
        assert_eq!(text(&d, "Missing"), "");
        assert_eq!(unsigned(&d, "NRestarts"), 7);
        assert_eq!(signed(&d, "ExecMainStatus"), -3);
        // µs on the bus, ns as Props::stamp gives them; 0 is never.
        assert_eq!(
            stamp(&d, "InactiveExitTimestamp"),
            Some(1_796_000_000_123_456_000)
        );
        assert_eq!(stamp(&d, "ExecMainStartTimestamp"), None);
        assert_eq!(id128(&d, "InvocationID"), "0aff0010");
        assert_eq!(id128(&d, "Missing"), "");
        assert_eq!(job(&d, "Job"), "12");
        d.insert(
            "Job".into(),
            owned(Value::from((0u32, ObjectPath::try_from("/").unwrap()))),
        );
        assert_eq!(job(&d, "Job"), "");
    }

    #[test]
    fn unit_paths_are_escaped_as_systemd_escapes_them() {
        assert_eq!(
            unit_path("netbird-management.service"),
            "/org/freedesktop/systemd1/unit/netbird_2dmanagement_2eservice"
        );
    }
}
