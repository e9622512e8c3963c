//! A container's lifecycle in a stop window: stop it and prove the stop holds (a restart loop answers a stop
//! with "already stopped" and starts again), check it stayed stopped, start it and watch its new run.
//! Driven by [`super::Docker`]'s [`crate::runtime::Runtime`] methods.

use super::engine::{podman_stop_holds, started_again, Container, Engine, Flavour, LogRange};
use crate::fault::{self, Point};
use crate::logs::{self, LogLine};
use crate::progress::say;
use crate::runtime::{Started, State};
use crate::timefmt::stamp_bounds;
use crate::verdict::{ExitCode, Outcome, Verdict};
use anyhow::{anyhow, bail, Context, Result};
use std::time::{Duration, Instant};

/// Seconds `docker stop` waits before it kills.
const STOP_GRACE: i32 = 10;
const POLL: Duration = Duration::from_millis(250);
/// How long a stopped container must stay stopped (the same run, not running) before the first byte is
/// written, on Podman, unless its events prove it sooner ([`podman_stop_holds`]): it may answer a stop with "already stopped" between two runs of a restart loop
/// and start it again right after (measured on 4.3 in a loop without back-off: of 200 stops, all 149
/// answered 304 were followed by a restart 0.1 to 0.5 s later, and so were 2 of 51 answered 204), and it
/// does not say whether a stop was its user's (no `StoppedByUser` in 4.3's inspect).
const HOLD: Duration = Duration::from_secs(2);
/// The same on Docker, whose stop ends the restart manager's loop (`HasBeenManuallyStopped`): a container
/// it reports stopped after a stop is not started again by its policy (measured in a back-off loop: 40
/// of 40 stops held for 3 s). One more look confirms it.
const HOLD_DOCKER: Duration = STOP_POLL;

/// How often the container is looked at while it is being stopped.
const STOP_POLL: Duration = Duration::from_millis(40);
/// How long ozrepair keeps asking a container that starts again by itself to stop.
const STOP_TRYING: Duration = Duration::from_secs(STOP_GRACE as u64 + 30);

/// How long a stop must be seen to hold on an engine of this flavour.
fn hold_for(flavour: Flavour) -> Duration {
    match flavour {
        Flavour::Docker => HOLD_DOCKER,
        Flavour::Podman => HOLD,
    }
}

/// What a stop did, for the window's record.
#[derive(Debug, Default)]
pub struct Stopping {
    /// The container was asked to stop by this run.
    pub stopped_here: bool,
    /// It was asked to stop but did not stay stopped: it runs as before.
    pub refused: bool,
}

/// Stops the container when it may hold the database or start again by itself, and proves the stop
/// holds: it must be stopped and stay stopped (the same StartedAt and restart count) for [`HOLD`] on
/// Podman, [`HOLD_DOCKER`] on Docker. A stop answered while a restart loop goes on is asked again. Returns
/// the run it was proven stopped in (None when nothing needed stopping). When it cannot be stopped,
/// nothing is changed.
pub async fn stop(e: &Engine, c: &Container, rec: &mut Stopping) -> Result<Option<Container>> {
    let now = inspect(e, c).await?;
    let must_watch = c.status.holds_database()
        || now.status.holds_database()
        || !now.status.stays_down()
        || now.restarts_by_itself();
    let held = if must_watch {
        Some(stop_and_hold(e, c, now, rec).await?)
    } else {
        None
    };
    fault::point(Point::AfterStop);
    Ok(held)
}

async fn stop_and_hold(
    e: &Engine,
    c: &Container,
    first: Container,
    rec: &mut Stopping,
) -> Result<Container> {
    let started = Instant::now();
    let deadline = started + STOP_TRYING;
    let flavour = e.kind().await.flavour;
    let hold = hold_for(flavour);
    // Podman's events of this window (a little before it, for a clock that is a little off).
    let events_since = (flavour == Flavour::Podman).then(|| wall_ns() - EVENTS_MARGIN_NS);
    let mut asked = 0u32;
    let mut restarts = 0u32;
    let mut last_error: Option<String> = None;
    let mut now = first;
    // The run seen stopped, and since when.
    let mut stable: Option<(Instant, Container)> = None;
    loop {
        if !now.status.stays_down() {
            if let Some((_, seen)) = stable.take() {
                if started_again(&seen, &now) {
                    restarts += 1;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            if asked == 0 {
                say(format!("stopping {} ({})", c.name, c.status));
            }
            asked += 1;
            rec.stopped_here = true;
            if let Err(err) = e.stop(&c.id, STOP_GRACE).await {
                tracing::debug!(container = %c.name, "stop: {err:#}");
                last_error = Some(format!("{err:#}"));
            }
        } else {
            match &stable {
                Some((since, seen)) if !started_again(seen, &now) => {
                    if since.elapsed() >= hold {
                        tracing::debug!(container = %c.name, asked, restarts, "stop holds");
                        return Ok(now);
                    }
                    if podman_says_held(e, c, &now, events_since).await {
                        tracing::debug!(container = %c.name, asked, restarts, "stop holds (Podman's events)");
                        return Ok(now);
                    }
                    // Podman restarts a loop without back-off, and its runs may be over before a
                    // stop seen running arrives (answered "already stopped"): ask again while it is
                    // down, so that a stop lands on the next run as soon as it starts.
                    if events_since.is_some() && asked > 0 {
                        asked += 1;
                        if let Err(err) = e.stop(&c.id, STOP_GRACE).await {
                            tracing::debug!(container = %c.name, "stop: {err:#}");
                            last_error = Some(format!("{err:#}"));
                        }
                    }
                }
                Some(_) => {
                    // Started again and ended between two looks: the loop goes on.
                    restarts += 1;
                    stable = Some((Instant::now(), now.clone()));
                }
                None => stable = Some((Instant::now(), now.clone())),
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(STOP_POLL).await;
        }
        now = inspect(e, c).await?;
    }
    rec.refused = asked > 0;
    rec.stopped_here = false;
    bail!(
            "container {} could not be stopped: it started again by itself {restarts} time(s) after {asked} stop request(s) in {}s (restart policy {:?}, state {}){}; nothing was changed",
            c.name,
            started.elapsed().as_secs(),
            now.restart_policy,
            now.status,
            last_error.map(|e| format!("; the last stop answer: {e}")).unwrap_or_default()
        )
}

/// Fails unless the container is still in the run it was proven stopped in (nothing started it while
/// the window was open).
pub async fn check_held(e: &Engine, c: &Container, held: Option<&Container>) -> Result<()> {
    if let Some(held) = held {
        let now = inspect(e, c).await?;
        if started_again(held, &now) || !now.status.stays_down() {
            bail!(
                    "container {} was started while its database was being written (it is {} now, {} restarts)",
                    c.name,
                    now.status,
                    now.restart_count
                );
        }
    }
    Ok(())
}

/// How far before the stop window Podman's events are read from.
const EVENTS_MARGIN_NS: i128 = 5_000_000_000;

/// Now, Unix time in ns.
fn wall_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Whether Podman's own events prove that the run `now` shows stopped will not be started again by its
/// restart policy ([`podman_stop_holds`]): then the stop holds without waiting out [`HOLD`]. Never on
/// Docker (`since` is None), and not when the events cannot be read.
async fn podman_says_held(e: &Engine, c: &Container, now: &Container, since: Option<i128>) -> bool {
    let (Some(since), Some(started)) = (since, crate::timefmt::parse_rfc3339(&now.started_at))
    else {
        return false;
    };
    match e.podman_events(&c.id, since).await {
        Some(events) => podman_stop_holds(&events, started),
        None => false,
    }
}

async fn inspect(e: &Engine, c: &Container) -> Result<Container> {
    e.container(&c.id)
        .await?
        .ok_or_else(|| anyhow!("container {} disappeared", c.name))
}

/// What the log held before a start, to tell the lines of the run ozrepair starts from every earlier one
/// by their position, never by their stamps (Podman stamps whole seconds: one second may hold the end of
/// the previous run and the start of this one).
struct Mark {
    /// The instant the last line before the start stands for (its first), when there is one.
    since: Option<i128>,
    /// The lines from `since` on (or the last lines), as the engine gave them before the start.
    before: Vec<LogLine>,
}

impl Mark {
    /// Taken while the container is stopped, so that nothing is added before the start.
    async fn take(e: &Engine, id: &str) -> Result<Mark> {
        let last = e.logs(id, LogRange::Tail(1)).await?;
        let since = last
            .iter()
            .find_map(|l| stamp_bounds(&l.time))
            .map(|(first, _)| first);
        let before = match since {
            Some(s) => e.logs(id, LogRange::Since(s, None)).await?,
            None if last.is_empty() => Vec::new(),
            None => e.logs(id, LogRange::Tail(crate::logs::TAIL)).await?,
        };
        Ok(Mark { since, before })
    }

    fn range(&self) -> LogRange {
        match self.since {
            Some(s) => LogRange::Since(s, None),
            None => LogRange::Tail(crate::logs::TAIL),
        }
    }
}

/// The lines of `after` that came after every line of `before` (both read from the same log, `before`
/// first): `after` goes on where `before` ends, so the longest end of `before` that `after` starts with is
/// skipped. When they share nothing (the log was rotated), only lines stamped after `before`'s last one
/// count: an earlier line is never taken for a new one.
pub fn new_lines<'l>(before: &[LogLine], after: &'l [LogLine]) -> &'l [LogLine] {
    if before.is_empty() {
        return after;
    }
    let most = before.len().min(after.len());
    if let Some(k) = (1..=most)
        .rev()
        .find(|&k| after[..k] == before[before.len() - k..])
    {
        return &after[k..];
    }
    let last = before.iter().rev().find_map(|l| stamp_bounds(&l.time));
    match last {
        Some((_, end)) => {
            let from = after
                .iter()
                .position(|l| stamp_bounds(&l.time).is_some_and(|(first, _)| first > end))
                .unwrap_or(after.len());
            &after[from..]
        }
        None => &after[after.len()..],
    }
}

pub async fn state_of(e: &Engine, c: &Container) -> Option<State> {
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
    // Only what the container logs after this start counts: remember where the log ends before it.
    let mark = Mark::take(e, id).await?;
    fault::point(Point::BeforeStart);
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
        if now.status != State::Running
            || now.restart_count > first.restart_count
            || now.started_at != first.started_at
        {
            break Some(format!(
                "it is {} (exit code {}, {} restarts)",
                now.status, now.exit_code, now.restart_count
            ));
        }
        let lines = e.logs(id, mark.range()).await?;
        let f = logs::scan_all(new_lines(&mark.before, &lines));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn l(t: &str, text: &str) -> LogLine {
        LogLine {
            time: t.into(),
            text: text.into(),
        }
    }

    const FATL: &str = "FATL … issuer did not match …";
    const READY: &str = "INFO running HTTP server and gRPC server on the same port";

    #[test]
    fn the_started_run_is_told_by_position_not_by_whole_second_stamps() {
        // Podman: the previous run's failure and this run's lines share one whole second.
        let before = vec![
            l("2026-12-01T09:09:31Z", "INFO loading"),
            l("2026-12-01T09:09:31Z", FATL),
        ];
        let mut after = before.clone();
        after.push(l("2026-12-01T09:09:31Z", "INFO loading"));
        after.push(l("2026-12-01T09:09:31Z", READY));
        let fresh = new_lines(&before, &after);
        assert_eq!(fresh, &after[2..]);
        let f = logs::scan_all(fresh);
        assert!(f.ready, "this run's ready line of the same second is seen");
        assert!(
            f.evidence.is_empty(),
            "the previous run's failure is never seen"
        );
        // This run fails in the same second: its failure is seen.
        let mut failing = before.clone();
        failing.push(l("2026-12-01T09:09:31Z", "INFO loading"));
        failing.push(l("2026-12-01T09:09:31Z", FATL));
        assert_eq!(new_lines(&before, &failing).len(), 2);
        // Nothing new yet.
        assert!(new_lines(&before, &before).is_empty());
        assert_eq!(new_lines(&[], &after).len(), 4);
    }

    #[test]
    fn a_tail_that_moved_on_still_lines_up() {
        let before: Vec<LogLine> = (0..5)
            .map(|i| l(&format!("2026-12-01T09:09:3{i}Z"), &format!("old {i}")))
            .collect();
        // The last three old lines, then two new ones (a tail of five read after the start).
        let mut after = before[2..].to_vec();
        after.push(l("2026-12-01T09:09:35Z", "new 1"));
        after.push(l("2026-12-01T09:09:35Z", "new 2"));
        let fresh = new_lines(&before, &after);
        assert_eq!(fresh.len(), 2);
        assert_eq!(fresh[0].text, "new 1");
    }

    #[test]
    fn without_common_lines_only_later_stamps_count() {
        let before = vec![l("2026-12-01T09:09:31Z", "old")];
        let after = vec![
            l("2026-12-01T09:09:31Z", "rotated away, same second"),
            l("2026-12-01T09:09:32Z", "new"),
        ];
        assert_eq!(new_lines(&before, &after), &after[1..]);
        let unstamped = vec![l("", "old")];
        assert!(new_lines(&unstamped, &after).is_empty());
    }
}
