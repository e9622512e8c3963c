//! The one stop window every write goes through (fix, backup, restore): the database's lock is taken, the
//! container is stopped and proven stopped, the database set is taken as it is now, the work is done, and
//! the container is started and watched. Nothing else in ozrepair stops or starts a container.

use crate::access::Database;
use crate::apply::{fault, lock};
use crate::docker::locate::Located;
use crate::docker::{Container, ContainerState, Engine};
use crate::evidence::logs;
use crate::progress::say;
use crate::verdict::{ExitCode, Outcome, Verdict};
use anyhow::{anyhow, bail, Context, Result};
use std::time::{Duration, Instant};

/// Seconds `docker stop` waits before it kills.
const STOP_GRACE: i32 = 10;
const POLL: Duration = Duration::from_millis(250);

/// An open window on one database: its lock is held until the window is dropped.
pub struct Window<'a> {
    managed: Option<(&'a Engine, &'a Container)>,
    /// The container was stopped by this run.
    stopped_here: bool,
    _lock: lock::Lock,
}

/// How a start went.
pub struct Started {
    pub verdict: Verdict,
    pub state_after: Option<ContainerState>,
    pub notes: Vec<String>,
}

impl<'a> Window<'a> {
    /// Takes the database's lock (one writer at a time); nothing is stopped yet.
    pub fn open(located: &'a Located, db: &Database) -> Result<Window<'a>> {
        Ok(Window {
            managed: located.managed(),
            stopped_here: false,
            _lock: lock::acquire(db.path())?,
        })
    }

    pub fn stopped_here(&self) -> bool {
        self.stopped_here
    }

    /// Stops the container when it may hold the database and proves it is stopped, then takes the database
    /// set as it is now (through the archive API, copied out again).
    pub async fn stop(&mut self, db: &mut Database) -> Result<()> {
        if let Some((e, c)) = self.managed {
            if c.status.holds_database() {
                say(format!("stopping {} ({})", c.name, c.status));
                e.stop(&c.id, STOP_GRACE)
                    .await
                    .context("stopping the container failed")?;
                self.stopped_here = true;
                let now = e
                    .container(&c.id)
                    .await?
                    .ok_or_else(|| anyhow!("container {} disappeared", c.name))?;
                if matches!(
                    now.status,
                    ContainerState::Running | ContainerState::Restarting
                ) {
                    bail!("container {} is still {} after stop", c.name, now.status);
                }
            }
        }
        fault::point("after-stop");
        if let Some((e, _)) = self.managed {
            db.refresh(e).await?;
        }
        Ok(())
    }

    /// Starts the container again when this window stopped it, without watching (a backup).
    pub async fn start_if_stopped_here(&self) -> Result<()> {
        if let (Some((e, c)), true) = (self.managed, self.stopped_here) {
            say(format!("starting {}", c.name));
            e.start(&c.id).await?;
        }
        Ok(())
    }

    /// The container's state now, for the report.
    pub async fn state_now(&self) -> Option<ContainerState> {
        let (e, c) = self.managed?;
        state_of(e, c).await
    }
}

async fn state_of(e: &Engine, c: &Container) -> Option<ContainerState> {
    match e.container(&c.id).await {
        Ok(Some(now)) => Some(now.status),
        _ => None,
    }
}

/// Starts the container and watches it for `wait` seconds: it must stay running with the same restart
/// count, and its logs since this start must report no connector failure. A line saying the server is up
/// ends the watch early. The verdict: fixed (0), unverified (4 when it did not stay up; 0 with wait 0).
/// `backup_dir` is named in the error when it did not stay up.
pub async fn start_and_watch(
    e: &Engine,
    c: &Container,
    wait: u64,
    backup_dir: Option<&str>,
) -> Result<Started> {
    let (id, name) = (c.id.as_str(), c.name.as_str());
    // Only what the container logs after this start counts: remember the last line before it.
    let mark = e
        .logs(id, 1)
        .await?
        .pop()
        .map(|l| l.time)
        .filter(|t| !t.is_empty());
    fault::point("before-start");
    say(format!("starting {name}"));
    e.start(id).await.context("starting the container failed")?;
    let first = e
        .container(id)
        .await?
        .ok_or_else(|| anyhow!("container {name} disappeared"))?;
    if wait == 0 {
        return Ok(Started {
            verdict: Verdict::new(Outcome::Unverified, ExitCode::Done),
            state_after: state_of(e, c).await,
            notes: vec!["--wait 0: the container was started but not watched".into()],
        });
    }
    say(format!("watching {name} for up to {wait}s"));
    let deadline = Instant::now() + Duration::from_secs(wait);
    let down = loop {
        let now = e
            .container(id)
            .await?
            .ok_or_else(|| anyhow!("container {name} disappeared"))?;
        if now.status != ContainerState::Running
            || now.restart_count > first.restart_count
            || now.started_at != first.started_at
        {
            break Some(format!(
                "it is {} (exit code {}, {} restarts)",
                now.status, now.exit_code, now.restart_count
            ));
        }
        let lines = e.logs(id, crate::LOG_TAIL).await?;
        let f = logs::scan_after(&lines, mark.as_deref());
        if let Some(ev) = f.evidence.first() {
            break Some(format!(
                "it still reports issuer {:?} against {:?}",
                ev.expected, ev.got
            ));
        }
        if let Some(fl) = f.failures.first() {
            break Some(format!("it reports: {}", fl.message));
        }
        if f.ready || Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(POLL).await;
    };
    let state_after = state_of(e, c).await;
    let verdict = match down {
        None => Verdict::fixed(),
        Some(why) => Verdict::new(Outcome::Unverified, ExitCode::NotUp).with_error(format!(
            "the change is written and verified, but {name} did not stay up within {wait}s: {why}; see `docker logs {name}`{}",
            backup_dir
                .map(|d| format!("; the old database is in {d} (`ozrepair restore` puts it back)"))
                .unwrap_or_default()
        )),
    };
    Ok(Started {
        verdict,
        state_after,
        notes: Vec::new(),
    })
}
