//! A unit's lifecycle in a stop window: stop it and prove the stop holds (a `Restart=always` loop answers
//! `activating (auto-restart)` between its runs; a stop job must end with the unit inactive, with no job
//! queued and no process, and it must stay so), check it stayed stopped, start it and watch its new run:
//! active, the same run (InvocationID), NRestarts steady, and that run's lines with no connector failure
//! and the line that says it serves.

use super::bus::{self, Bus};
use super::ctl;
use super::journal::{self, FileMark};
use super::places::LogTarget;
use super::unit::{Status, STATUS_PROPS};
use crate::fault::{self, Point};
use crate::logs;
use crate::progress::say;
use crate::runtime::{watched, Started};
use crate::verdict::{ExitCode, Outcome, Verdict};
use anyhow::{anyhow, bail, Result};
use std::time::{Duration, Instant};

/// How often a unit is looked at while it is stopped or watched.
const POLL: Duration = Duration::from_millis(50);
/// The first pause of a watch: a new run usually logs its serving line within milliseconds of its start,
/// so the watch looks again after 10 ms, each pause half as long again, up to [`POLL`] (as Podman's
/// settle does).
const FIRST_POLL: Duration = Duration::from_millis(10);
/// How long a unit found stopped must be seen to stay stopped (the same run, inactive, no process,
/// nothing queued) before the first byte is written, when this run's own stop job did not stop it: one
/// more look, as on Docker. After this run's stop job ended `done`, one look that finds it down is the
/// proof: systemd never restarts by its Restart= setting a unit that a stop job stopped (a pending
/// automatic restart is cancelled by the stop, and a waiting one shows as `activating (auto-restart)`,
/// not down); anything else that starts it (a dependency, a timer, a path or socket unit, a script)
/// queues a job first, which a look sees, and a start during the write changes the InvocationID, which
/// [`check_held`] sees before the unit is started again. (A second look 25 ms later, kept until
/// 2026-12-06, proved nothing more and was a fifth of a fix's time on a systemd host.)
const HOLD: Duration = Duration::from_millis(25);
/// How long one question over D-Bus may take before `systemctl` is asked instead.
const BUS_LIMIT: Duration = Duration::from_secs(5);
/// Beyond the unit's own stop timeout, how long ozrepair keeps asking a unit that starts again to stop.
const STOP_EXTRA: Duration = Duration::from_secs(30);

/// What a stop did, for the window's record.
#[derive(Debug, Default)]
pub struct Stopping {
    /// The unit was asked to stop by this run.
    pub stopped_here: bool,
    /// It was asked to stop but did not stay stopped.
    pub refused: bool,
}

/// systemd as this run asks it: over D-Bus when it answers there ([`bus`]: a round trip per question,
/// on the process's one connection, [`bus::shared`]), else through `systemctl` (a process per question).
pub struct Manager;

impl Manager {
    async fn bus(&self) -> Option<&'static Bus> {
        bus::shared().await
    }

    /// The unit's state now.
    pub async fn status(&self, unit: &str) -> Result<Status> {
        if let Some(b) = self.bus().await {
            match tokio::time::timeout(BUS_LIMIT, b.status(unit)).await {
                Ok(Ok((load, _))) if load == "not-found" => bail!("unit {unit} is gone"),
                Ok(Ok((_, s))) => return Ok(s),
                Ok(Err(e)) => tracing::debug!(unit, "D-Bus: {e:#}; asking systemctl"),
                Err(_) => tracing::debug!(
                    unit,
                    "D-Bus: no answer within {BUS_LIMIT:?}; asking systemctl"
                ),
            }
        }
        let mut all = ctl::show(&[unit.to_string()], STATUS_PROPS).await?;
        let p = all
            .pop()
            .ok_or_else(|| anyhow!("systemctl did not describe {unit}"))?;
        if p.get("LoadState") == "not-found" {
            bail!("unit {unit} is gone");
        }
        Ok(Status::of(&p))
    }

    /// `systemctl VERB unit` (stop, start, reset-failed): stop and start wait for their job and fail
    /// when it fails.
    pub async fn act(&self, verb: &str, unit: &str, limit: Duration) -> Result<()> {
        match self.bus().await {
            Some(b) => tokio::time::timeout(limit, b.act(verb, unit))
                .await
                .map_err(|_| {
                    anyhow!(
                        "`systemctl {verb} {unit}` did not answer within {}s",
                        limit.as_secs()
                    )
                })?,
            None => ctl::act(verb, unit, &[], limit).await,
        }
    }
}

/// Started again between two looks: another run (InvocationID), another start, or more restarts.
fn started_again(seen: &Status, now: &Status) -> bool {
    now.invocation != seen.invocation
        || now.left_inactive != seen.left_inactive
        || now.n_restarts > seen.n_restarts
}

/// Stops the unit unless it is down already, and proves the stop holds: inactive or failed, no process,
/// no job queued, at one look after this run's stop job ended `done`, else the same for [`HOLD`]. A unit
/// started again meanwhile is asked again, until its own stop timeout and [`STOP_EXTRA`] have passed.
/// Returns the state it was proven stopped in. When it cannot be stopped, nothing is changed.
pub async fn stop(
    sd: &Manager,
    unit: &str,
    rec: &mut Stopping,
    stop_timeout: Duration,
) -> Result<Status> {
    let started = Instant::now();
    let limit = stop_timeout + STOP_EXTRA;
    let deadline = started + limit;
    let mut asked = 0u32;
    let mut starts = 0u32;
    let mut last_error: Option<String> = None;
    let mut now = sd.status(unit).await?;
    let mut stable: Option<(Instant, Status)> = None;
    // This run's stop job ended `done` since the last look.
    let mut stopped_by_job = false;
    loop {
        if !now.down() {
            if let Some((_, seen)) = stable.take() {
                if started_again(&seen, &now) {
                    starts += 1;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            if asked == 0 {
                say(format!("stopping {unit} ({})", now.shown()));
            }
            asked += 1;
            rec.stopped_here = true;
            // `systemctl stop` waits for its job; a pending automatic restart is cancelled by it.
            let asking = sd.act("stop", unit, limit).await;
            stopped_by_job = asking.is_ok();
            if let Err(e) = asking {
                tracing::debug!(unit, "stop: {e:#}");
                let e = format!("{e:#}");
                // Asking again does not help a stop this user may not make.
                if e.contains("Access denied") || e.contains("authentication required") {
                    rec.stopped_here = false;
                    bail!("{e}; nothing was changed; run ozrepair as root (or as a user who may stop {unit})");
                }
                last_error = Some(e);
                tokio::time::sleep(POLL).await;
            }
        } else {
            if std::mem::take(&mut stopped_by_job) {
                tracing::debug!(unit, asked, starts, "stop holds (its stop job ended done)");
                fault::point(Point::AfterStop);
                return Ok(now);
            }
            match &stable {
                Some((since, seen)) if !started_again(seen, &now) => {
                    if since.elapsed() >= HOLD {
                        tracing::debug!(unit, asked, starts, "stop holds");
                        fault::point(Point::AfterStop);
                        return Ok(now);
                    }
                }
                Some(_) => {
                    // Started again and ended between two looks.
                    starts += 1;
                    stable = Some((Instant::now(), now.clone()));
                }
                None => stable = Some((Instant::now(), now.clone())),
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(HOLD).await;
        }
        now = sd.status(unit).await?;
    }
    rec.refused = asked > 0;
    rec.stopped_here = false;
    bail!(
        "unit {unit} could not be stopped: it was started again {starts} time(s) after {asked} stop request(s) in {}s (it is {} now, {} restarts){}; nothing was changed; look for what starts it (`systemctl list-dependencies --reverse {unit}`, timers, scripts)",
        started.elapsed().as_secs(),
        now.shown(),
        now.n_restarts,
        last_error
            .map(|e| format!("; the last stop answer: {e}"))
            .unwrap_or_default()
    )
}

/// Fails unless the unit is still down in the state it was proven stopped in.
pub async fn check_held(sd: &Manager, unit: &str, held: Option<&Status>) -> Result<()> {
    let Some(held) = held else {
        return Ok(());
    };
    let now = sd.status(unit).await?;
    if !now.down() || started_again(held, &now) {
        bail!(
            "unit {unit} was started while its database was being written (it is {} now, {} restarts)",
            now.shown(),
            now.n_restarts
        );
    }
    Ok(())
}

/// The lines of the run `invocation` (journald), or the log file's lines after `mark`.
async fn run_lines(
    unit: &str,
    log: &LogTarget,
    invocation: &str,
    mark: Option<FileMark>,
) -> Result<Vec<logs::LogLine>> {
    match log {
        LogTarget::Journal => Ok(journal::entries(unit, Some(invocation), logs::TAIL)
            .await?
            .iter()
            .map(journal::Entry::line)
            .collect()),
        LogTarget::File(p) => journal::file_lines(p, mark, None),
    }
}

/// Starts the unit (clearing a failed state first: a unit that hit its start limit refuses a start
/// until then) and watches its new run for `wait` seconds: it must stay active in the same run with
/// NRestarts steady, and the run's lines must report no connector failure. Its serving line ends the
/// watch early. The verdict: fixed (0); unverified (4) when it did not stay up, naming `backup`; with
/// wait 0 unverified (0).
pub async fn start_and_watch(
    sd: &Manager,
    unit: &str,
    log: &LogTarget,
    logs_command: &str,
    wait: u64,
    backup: Option<&str>,
    start_timeout: Duration,
) -> Result<Started> {
    let before = sd.status(unit).await?;
    let mark = match log {
        LogTarget::File(p) => FileMark::take(p),
        LogTarget::Journal => None,
    };
    if before.active == "failed" || before.result != "success" {
        if let Err(e) = sd.act("reset-failed", unit, ctl::QUERY_LIMIT).await {
            tracing::debug!(unit, "reset-failed: {e:#}");
        }
    }
    fault::point(Point::BeforeStart);
    say(format!("starting {unit}"));
    let started = sd.act("start", unit, start_timeout + STOP_EXTRA).await;
    let first = sd.status(unit).await?;
    let mut notes = Vec::new();
    let down = if let Err(e) = started {
        Some(format!("its start failed ({e:#}); it is {}", first.shown()))
    } else if wait == 0 {
        return Ok(Started {
            verdict: Verdict::new(Outcome::Unverified, ExitCode::Done),
            state_after: Some(first.state()),
            notes: vec!["--wait 0: the unit was started but not watched".into()],
        });
    } else {
        say(format!("watching {unit} for up to {wait}s"));
        let deadline = Instant::now() + Duration::from_secs(wait);
        let mut pause = FIRST_POLL;
        loop {
            let now = sd.status(unit).await?;
            let coming_up = now.active == "activating" && !now.restarting();
            if (now.active != "active" && !coming_up)
                || now.invocation != first.invocation
                || now.n_restarts != first.n_restarts
            {
                break Some(format!(
                    "it is {} (exit status {}, {} restarts)",
                    now.shown(),
                    now.exit_status,
                    now.n_restarts
                ));
            }
            let lines = run_lines(unit, log, &first.invocation, mark).await?;
            let f = logs::scan_all(&lines);
            if let Some(ev) = f.evidence.first() {
                break Some(format!(
                    "it still reports issuer {:?} against {:?}",
                    ev.expected, ev.got
                ));
            }
            if let Some(fl) = f.failures.first() {
                break Some(format!("it reports: {}", fl.message));
            }
            if f.ready && !coming_up {
                break None;
            }
            if Instant::now() >= deadline {
                if coming_up {
                    break Some(format!("it is still {} after {wait}s", now.shown()));
                }
                notes.push(format!(
                    "{unit} stayed active for {wait}s with no connector failure, but did not log the line that says it serves"
                ));
                break None;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(POLL);
        }
    };
    let state_after = sd.status(unit).await.ok().map(|s| s.state());
    let verdict = watched(down, unit, wait, logs_command, backup);
    Ok(Started {
        verdict,
        state_after,
        notes,
    })
}
