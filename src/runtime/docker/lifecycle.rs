//! A container's lifecycle in a stop window: stop it and prove the stop holds (a restart loop answers a stop
//! with "already stopped" and starts again), check it stayed stopped, start it and watch its new run.
//! Driven by [`super::Docker`]'s [`crate::runtime::Runtime`] methods.

use super::engine::{
    podman_stop_seen, started_again, Container, Engine, Flavour, Lifecycle, LogRange, StopSeen,
    PODMAN_EVENTS_POLL,
};
use crate::fault::{self, Point};
use crate::logs::{self, LogLine};
use crate::progress::say;
use crate::runtime::{watched, Started, State};
use crate::timefmt::stamp_bounds;
use crate::verdict::{ExitCode, Outcome, Verdict};
use anyhow::{anyhow, bail, Context, Result};
use std::time::{Duration, Instant};

/// Seconds `docker stop` waits before it kills.
const STOP_GRACE: i32 = 10;
const POLL: Duration = Duration::from_millis(250);
/// How long a stopped container must stay stopped (the same run, not running) before the first byte is
/// written, on Podman when its event log cannot tell ([`podman_stop_and_hold`]): it may answer a stop
/// with "already stopped" between two runs of a restart loop and start it again right after (measured
/// on 4.3 in a loop without back-off: of 200 stops, all 149 answered 304 were followed by a restart 0.1
/// to 0.5 s later, and so were 2 of 51 answered 204), and it does not say whether a stop was its
/// user's (no `StoppedByUser` in 4.3's inspect).
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
/// holds: on Podman from its event log ([`podman_stop_and_hold`]), else (and when that log says nothing)
/// it must be stopped and stay stopped (the same StartedAt and restart count) for [`HOLD`] on Podman,
/// [`HOLD_DOCKER`] on Docker. A stop answered while a restart loop goes on is asked again. Returns the
/// run it was proven stopped in (None when nothing needed stopping). When it cannot be stopped, nothing
/// is changed.
pub async fn stop(e: &Engine, c: &Container, rec: &mut Stopping) -> Result<Option<Container>> {
    // A restart loop this run has just seen needs stopping whatever a look now says: no look first (on
    // Podman an inspect waits for the container's lock, which its cleanup holds for most of a loop's
    // period while it restarts the container).
    let now = if c.loop_seen.is_some() && c.status == State::Restarting {
        c.clone()
    } else {
        inspect(e, c).await?
    };
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

/// What the stop window asked and saw, for its error when the container cannot be stopped.
#[derive(Default)]
struct Tally {
    asked: u32,
    restarts: u32,
    last_error: Option<String>,
}

impl Tally {
    /// Asks the engine to stop the container once more (its refusal is kept for the error).
    async fn ask(&mut self, e: &Engine, c: &Container, rec: &mut Stopping) {
        if self.asked == 0 {
            say(format!("stopping {} ({})", c.name, c.status));
        }
        self.asked += 1;
        rec.stopped_here = true;
        if let Err(err) = e.stop(&c.id, STOP_GRACE).await {
            tracing::debug!(container = %c.name, "stop: {err:#}");
            self.last_error = Some(format!("{err:#}"));
        }
    }
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
    let mut t = Tally::default();
    let mut now = first;
    if flavour == Flavour::Podman {
        match podman_stop_and_hold(e, c, &now, rec, deadline, &mut t).await? {
            Some(held) => return Ok(held),
            None => now = inspect(e, c).await?,
        }
    }
    // The run seen stopped, and since when.
    let mut stable: Option<(Instant, Container)> = None;
    loop {
        if !now.status.stays_down() {
            if let Some((_, seen)) = stable.take() {
                if started_again(&seen, &now) {
                    t.restarts += 1;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            t.ask(e, c, rec).await;
        } else {
            match &stable {
                Some((since, seen)) if !started_again(seen, &now) => {
                    if since.elapsed() >= hold {
                        tracing::debug!(container = %c.name, asked = t.asked, restarts = t.restarts, "stop holds");
                        return Ok(now);
                    }
                    // Podman restarts a loop without back-off, and its runs may be over before a
                    // stop seen running arrives (answered "already stopped"): ask again while it is
                    // down, so that a stop lands on the next run as soon as it starts.
                    if flavour == Flavour::Podman && t.asked > 0 {
                        t.ask(e, c, rec).await;
                    }
                }
                Some(_) => {
                    // Started again and ended between two looks: the loop goes on.
                    t.restarts += 1;
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
    Err(refused(c, &now, started, t, rec))
}

/// The error of a container that could not be stopped (nothing was changed).
fn refused(
    c: &Container,
    now: &Container,
    started: Instant,
    t: Tally,
    rec: &mut Stopping,
) -> anyhow::Error {
    rec.refused = t.asked > 0;
    rec.stopped_here = false;
    anyhow!(
            "container {} could not be stopped: it started again by itself {} time(s) after {} stop request(s) in {}s (restart policy {:?}, state {}){}; nothing was changed",
            c.name,
            t.restarts,
            t.asked,
            started.elapsed().as_secs(),
            now.restart_policy,
            now.status,
            t.last_error.map(|e| format!("; the last stop answer: {e}")).unwrap_or_default()
        )
}

/// How long after Podman logs the `cleanup` of a stopped run its log must still show no `restart`,
/// `init` or `start` before the stop is taken as holding, when that cleanup is the only one logged after
/// the death ([`podman_stop_and_hold`]). Podman 4.3 restarts without delay, and inside the cleanup that
/// follows a death, before that cleanup would be logged: a death is followed by two cleanups, conmon's
/// and the stop request's (a stop answered "already stopped" runs none), and each either restarts the
/// container (`restart` logged first) or logs `cleanup`. Measured on this machine's 4.3.1 (private
/// rootful service, the stand-in crash-looping without back-off, events read from the log):
/// - a loop's `restart` follows its `died` by 1.5 to 29.5 ms (median 9.8, p90 22.4, 83 deaths), its
///   `init` by 73 to 132 ms (median 98), its `start` by 87 to 146 ms (median 111): no cleanup is logged
///   between the runs of a loop;
/// - 40 fresh loops stopped with bare stop requests, asked again after each "already stopped" until one
///   was answered 204: 32 logged a cleanup, each time two, the second 0.6 to 52.7 ms after the first
///   (median 3.4); none of the 32 was followed by a `restart`, `init` or `start` in the rest of
///   a 3.5 s recording of the container's events; the other 8 went on looping (6 of them after a
///   stop answered 204).
///
/// So the proof ends at the second cleanup after the death (both cleanups decided not to restart), or
/// at the first when no second one and no start came within this bound: about twice the longest gap
/// measured between the two, counted on this machine's clock from the read that first showed the
/// cleanup (so after it, whatever the engine's clock says).
const CLEANUP_BOUND: Duration = Duration::from_millis(100);

/// How long ozrepair waits for Podman's log to show a death after a stop was answered (a stop waits for
/// the run to end), before the inspects decide instead.
const EVENTS_SILENT: Duration = Duration::from_secs(2);

/// The stop window on Podman, from its own event log (read every [`PODMAN_EVENTS_POLL`], and at once after
/// each answer to a stop): a stop is asked when the loop goes on, and again at each restart Podman logs
/// (a stop answered "already stopped" between two runs, or one that the cleanup of the run it ended
/// raced, leaves the policy restarting it: of 40 fresh loops stopped by bare requests, 6 went on after
/// a stop answered 204).
/// Asked when the `restart` is logged, a stop waits for the container's lock, which Podman's cleanup
/// holds while it restarts the container (about 90 ms here), and lands as the next run starts; asked
/// when its `start` is logged instead, a stop reached the stand-in as it was dying by itself (it fails
/// within 30 ms) and the loop went on in 2 of 3 runs measured (up to 9 stops, 1.9 s); a SIGTERM through
/// Podman's kill before each stop did worse (the loop went on in 4 of 5 runs, up to 16 kills), and so did
/// a SIGKILL through libpod's kill instead of the stop (the run had ended when it came, 20 times in 21). The
/// stop holds once Podman logged the last run's two cleanups (neither restarted it), or one and no
/// start followed within [`CLEANUP_BOUND`], and inspect shows it stopped in that run. None when the
/// log cannot be read or shows no death (then the inspects decide, as on Docker).
async fn podman_stop_and_hold(
    e: &Engine,
    c: &Container,
    first: &Container,
    rec: &mut Stopping,
    deadline: Instant,
    t: &mut Tally,
) -> Result<Option<Container>> {
    // The events of this window, a little before it for a clock that is a little off.
    let since = wall_ns() - EVENTS_MARGIN_NS;
    let restarts_of = |ev: &[Lifecycle]| ev.iter().filter(|l| l.action == "restart").count();
    // The number of restarts in the log when a stop was last asked: one stop per restart.
    let mut asked_at: Option<usize> = None;
    // The cleanup seen, and when it was first seen.
    let mut cleaned: Option<(i128, Instant)> = None;
    let mut silent_since: Option<Instant> = None;
    loop {
        let Some(events) = e.podman_events(&c.id, since).await else {
            return Ok(None);
        };
        let asked_before = t.asked;
        let restarts = restarts_of(&events);
        t.restarts = restarts as u32;
        let seen = podman_stop_seen(&events);
        if !matches!(seen, StopSeen::CleanedUp { .. }) {
            cleaned = None;
        }
        match seen {
            StopSeen::CleanedUp { at, cleanups } => {
                let first_seen = match cleaned {
                    Some((was, when)) if was == at => when,
                    _ => Instant::now(),
                };
                cleaned = Some((at, first_seen));
                if cleanups >= 2 || first_seen.elapsed() >= CLEANUP_BOUND {
                    let now = inspect(e, c).await?;
                    let run = crate::timefmt::parse_rfc3339(&now.started_at);
                    if now.status.stays_down() && run.is_some_and(|r| r <= at) {
                        tracing::debug!(container = %c.name, asked = t.asked, restarts = t.restarts, cleanups, "stop holds (Podman's events)");
                        return Ok(Some(now));
                    }
                    // Started since (by someone): what follows in the log decides.
                    cleaned = None;
                }
            }
            StopSeen::Restarted => {
                if asked_at != Some(restarts) {
                    asked_at = Some(restarts);
                    t.ask(e, c, rec).await;
                }
            }
            StopSeen::Died => {}
            StopSeen::Nothing => {
                if asked_at.is_none() && !first.status.stays_down() {
                    asked_at = Some(restarts);
                    t.ask(e, c, rec).await;
                } else if silent_since.get_or_insert_with(Instant::now).elapsed() >= EVENTS_SILENT {
                    tracing::debug!(container = %c.name, "Podman's events show no death: inspects decide");
                    return Ok(None);
                }
            }
        }
        if Instant::now() >= deadline {
            let now = inspect(e, c).await?;
            return Err(refused(
                c,
                &now,
                deadline - STOP_TRYING,
                std::mem::take(t),
                rec,
            ));
        }
        // A stop answers once the run it landed on has ended (or at once when there was none): the log
        // is read again at once after it.
        if t.asked == asked_before {
            tokio::time::sleep(PODMAN_EVENTS_POLL).await;
        }
    }
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
        let last = e.logs(id, LogRange::LastStamp).await?;
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
    // Only what the container logs after this start counts: remember where the log ends before it
    // (nothing is read after it with --wait 0).
    let mark = if wait == 0 {
        None
    } else {
        Some(Mark::take(e, id).await?)
    };
    fault::point(Point::BeforeStart);
    say(format!("starting {name}"));
    e.start(id).await.context("starting the container failed")?;
    let first = e
        .container(id)
        .await?
        .ok_or_else(|| anyhow!("container {name} disappeared"))?;
    let Some(mark) = mark else {
        return Ok(Started {
            verdict: Verdict::new(Outcome::Unverified, ExitCode::Done),
            state_after: Some(first.status),
            notes: vec!["--wait 0: the container was started but not watched".into()],
        });
    };
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
    let verdict = watched(down, name, wait, &format!("docker logs {name}"), backup_dir);
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
