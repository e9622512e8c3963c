//! Applying a plan: stop the container, take a verified backup, write the new bytes in one SQLite
//! transaction, verify, start the container and watch it come up. Each step records what it did, so an
//! error can say exactly what state everything was left in and what to do next.

use crate::backup::{self, BackupSet, Origin};
use crate::engine::Engine;
use crate::jsonedit;
use crate::locate::Deployment;
use crate::plan::Plan;
use crate::report::{BackupPart, Outcome, Report};
use crate::{diagnose, reach, store};
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Seconds `docker stop` waits before it kills.
const STOP_GRACE: i32 = 10;
const POLL: Duration = Duration::from_millis(250);

pub struct ApplyOptions {
    pub backup_root: PathBuf,
    pub restart: bool,
    /// Seconds to watch the started container; 0 does not watch.
    pub wait: u64,
}

/// What has been done so far, for the error message.
#[derive(Default)]
struct Done {
    stopped: bool,
    backup: Option<BackupSet>,
    written: bool,
    started: bool,
}

impl Done {
    fn state(&self, container: Option<&str>) -> String {
        let mut s = Vec::new();
        if let Some(c) = container {
            s.push(if self.started {
                format!("container {c} was started again")
            } else if self.stopped {
                format!("container {c} is stopped")
            } else {
                format!("container {c} was not touched")
            });
        }
        s.push(if self.written {
            "the database holds the new values".into()
        } else {
            "the database is unchanged".to_string()
        });
        if let Some(b) = &self.backup {
            s.push(format!("the backup is at {}", b.dir.display()));
        }
        s.join("; ")
    }

    fn next(&self, container: Option<&str>) -> String {
        match (&self.backup, self.written, container) {
            (Some(_), true, _) => "run `ozrepair restore` to put the old database back, or `ozrepair fix` again to finish".into(),
            (_, false, Some(c)) if self.stopped && !self.started => {
                format!("fix the cause above and run `ozrepair fix` again (it starts {c}), or `docker start {c}`")
            }
            _ => "fix the cause above and run `ozrepair fix` again".into(),
        }
    }
}

pub async fn apply(
    engine: Option<&Engine>,
    dep: &Deployment,
    plan: &Plan,
    opts: &ApplyOptions,
    report: &mut Report,
) -> Result<()> {
    let mut done = Done::default();
    let name = dep.container.as_ref().map(|c| c.name.clone());
    let result = run(engine, dep, plan, opts, report, &mut done).await;
    result.map_err(|e| {
        anyhow!(
            "{e:#}; {}; {}",
            done.state(name.as_deref()),
            done.next(name.as_deref())
        )
    })
}

async fn run(
    engine: Option<&Engine>,
    dep: &Deployment,
    plan: &Plan,
    opts: &ApplyOptions,
    report: &mut Report,
    done: &mut Done,
) -> Result<()> {
    let container = match (engine, &dep.container) {
        (Some(e), Some(c)) => Some((e, c)),
        _ => None,
    };

    // 0. One writer at a time, and the plan must still apply to the bytes as they are now.
    let _lock = crate::lock::acquire(&dep.db)?;
    let pending = {
        let snap = reach::read(&dep.db)?;
        compute_edits(&store::connectors(&snap.conn)?, plan)?
    };
    if pending.is_empty() {
        report.notes.push("the database already holds every planned value (another run applied it); nothing was changed".into());
        report.changes.clear();
        report.finish(Outcome::Healthy, 0);
        return Ok(());
    }

    // 1. Stop: nothing may hold the database while it is copied and edited.
    if let Some((e, c)) = container {
        if matches!(c.status.as_str(), "running" | "restarting" | "paused") {
            eprintln!("ozrepair: stopping {} ({})", c.name, c.status);
            e.stop(&c.id, STOP_GRACE)
                .await
                .context("stopping the container failed")?;
            done.stopped = true;
            let now = e
                .container(&c.id)
                .await?
                .ok_or_else(|| anyhow!("container {} disappeared", c.name))?;
            if matches!(now.status.as_str(), "running" | "restarting") {
                bail!("container {} is still {} after stop", c.name, now.status);
            }
        }
    }
    crate::fault::point("after-stop");
    // Through the archive API: copy the set out again now that the container is stopped.
    let archive = match (container, &dep.inside) {
        (Some((e, c)), Some(inside)) => Some((e, c, inside)),
        _ => None,
    };
    let mut entries = Vec::new();
    if let Some((e, c, inside)) = archive {
        entries = crate::archive::refresh(e, &c.id, inside, &dep.db).await?;
    }

    // 2. Backup, verified, before the first write.
    let rows = {
        let snap = reach::read(&dep.db)?;
        let schema = store::check_schema(&snap.conn, &dep.db)?;
        let rows = store::connectors(&snap.conn)?;
        let origin = Origin {
            host: report.host.clone(),
            container: dep.container.as_ref().map(|c| c.name.clone()),
            volume: dep.volume.clone(),
            dex_schema: Some(schema.migrations),
            connectors: rows.iter().map(|r| r.id.clone()).collect(),
        };
        eprintln!(
            "ozrepair: backing up {} to {}",
            dep.db.display(),
            opts.backup_root.display()
        );
        let set = backup::take(&dep.db, &opts.backup_root, &origin)?;
        eprintln!("ozrepair: backup verified: {}", set.dir.display());
        report.backup = Some(backup_part(&set));
        done.backup = Some(set);
        rows
    };
    crate::fault::point("after-backup");

    // 3. The edits, computed again from the bytes as they are now (the container may have written since).
    let edits = compute_edits(&rows, plan)?;

    // 4. One transaction; then integrity_check and a read-back of every edited row.
    eprintln!(
        "ozrepair: writing {} change(s) to {}",
        edits.len(),
        dep.db.display()
    );
    store::write_edits(&dep.db, &edits).map_err(|e| {
        // write_edits fails before its commit unless the check after it fails.
        e.context("the write failed")
    })?;
    if let Some((e, c, inside)) = archive {
        eprintln!("ozrepair: copying the database back into {}", c.name);
        crate::archive::put(e, &c.id, inside, &dep.db, &entries).await?;
    }
    done.written = true;
    crate::fault::point("after-write");
    if let Some(d) = report.database.as_mut() {
        d.sha256_after = Some(backup::sha256_file(&dep.db)?);
    }

    // 5. Start and watch.
    let Some((e, c)) = container else {
        report.finish(Outcome::Fixed, 0);
        return Ok(());
    };
    if !opts.restart {
        set_state_after(e, &c.id, report).await;
        report.finish(Outcome::Fixed, 0);
        report.notes.push(format!(
            "--no-restart: {} is left stopped; `docker start {}` when ready",
            c.name, c.name
        ));
        return Ok(());
    }
    start_and_watch(e, &c.id, &c.name, opts.wait, report).await?;
    done.started = true;
    Ok(())
}

/// The edits that bring `rows` to the plan: one per connector, its changes applied one after the other.
/// A change whose target value is already stored is skipped; a value that is neither the planned `from`
/// nor its `to` means the database moved under the plan, and nothing is done.
fn compute_edits(rows: &[store::ConnectorRow], plan: &Plan) -> Result<Vec<store::Edit>> {
    let mut edits: Vec<store::Edit> = Vec::new();
    for c in &plan.changes {
        let row = rows
            .iter()
            .find(|r| r.id == c.connector)
            .ok_or_else(|| anyhow!("connector {} is gone", c.connector))?;
        let original = row
            .config
            .clone()
            .ok_or_else(|| anyhow!("connector {} has no config", c.connector))?;
        let pos = match edits.iter().position(|e| e.id == c.connector) {
            Some(p) => p,
            None => {
                edits.push(store::Edit {
                    id: c.connector.clone(),
                    before: original.clone(),
                    after: original,
                    resource_version: store::bumped(&row.resource_version),
                });
                edits.len() - 1
            }
        };
        let fields = jsonedit::top_level_fields(&edits[pos].after)
            .map_err(|e| anyhow!("connector {}: {e}", c.connector))?;
        if jsonedit::string_value(&edits[pos].after, &fields, &c.field)
            == jsonedit::StrValue::Str(c.to.clone())
        {
            continue;
        }
        let after = edit_field(&edits[pos].after, c)
            .map_err(|e| anyhow!("connector {}: {e}", c.connector))?;
        edits[pos].after = after;
    }
    edits.retain(|e| e.after != e.before);
    Ok(edits)
}

/// One change applied to a config's bytes: the value's bytes replaced, or (for issuerAlias, which Dex
/// configs usually lack) the field added right after `issuer`, where Go's sorted keys would put it.
fn edit_field(config: &[u8], c: &crate::plan::Change) -> Result<Vec<u8>> {
    let fields = jsonedit::top_level_fields(config).map_err(|e| anyhow!("{e}"))?;
    match jsonedit::string_value(config, &fields, &c.field) {
        jsonedit::StrValue::Str(s) if s == c.from => {}
        jsonedit::StrValue::Absent | jsonedit::StrValue::Null if c.from.is_empty() => {}
        _ => bail!(
            "{} is no longer {:?}; run ozrepair again to re-plan",
            c.field,
            c.from
        ),
    }
    if let Some(out) = jsonedit::set_string(config, &c.field, &c.to).map_err(|e| anyhow!("{e}"))? {
        return Ok(out);
    }
    if c.field != "issuerAlias" {
        bail!(
            "it has no {} field; ozrepair never adds fields other than issuerAlias",
            c.field
        );
    }
    let issuer = jsonedit::effective_field(&fields, "issuer")
        .ok_or_else(|| anyhow!("it has no issuer field"))?;
    let at = issuer.value.end;
    let add = format!(
        ",{}:{}",
        jsonedit::go_json_string(&c.field),
        jsonedit::go_json_string(&c.to)
    );
    let out = jsonedit::splice(config, at..at, add.as_bytes());
    jsonedit::top_level_fields(&out).map_err(|e| anyhow!("{e}"))?;
    Ok(out)
}

pub fn backup_part(b: &BackupSet) -> BackupPart {
    BackupPart {
        path: b.db_file().display().to_string(),
        sha256: b.db_sha256(),
        dir: b.dir.display().to_string(),
    }
}

async fn set_state_after(e: &Engine, id: &str, report: &mut Report) {
    if let Ok(Some(now)) = e.container(id).await {
        if let Some(cp) = report.container.as_mut() {
            cp.state_after = Some(now.status);
        }
    }
}

/// Starts the container and watches it for `wait` seconds: it must stay running with the same restart
/// count, and its logs since this start must report no connector failure. A line saying the server is up
/// ends the watch early. Sets the outcome: fixed (0), unverified (4 when it did not stay up; 0 with wait 0).
pub async fn start_and_watch(
    e: &Engine,
    id: &str,
    name: &str,
    wait: u64,
    report: &mut Report,
) -> Result<()> {
    // Only what the container logs after this start counts: remember the last line before it.
    let mark = e
        .logs(id, 1)
        .await?
        .pop()
        .map(|l| l.time)
        .filter(|t| !t.is_empty());
    crate::fault::point("before-start");
    eprintln!("ozrepair: starting {name}");
    e.start(id).await.context("starting the container failed")?;
    let first = e
        .container(id)
        .await?
        .ok_or_else(|| anyhow!("container {name} disappeared"))?;
    if wait == 0 {
        set_state_after(e, id, report).await;
        report
            .notes
            .push("--wait 0: the container was started but not watched".into());
        report.finish(Outcome::Unverified, 0);
        return Ok(());
    }
    eprintln!("ozrepair: watching {name} for up to {wait}s");
    let deadline = Instant::now() + Duration::from_secs(wait);
    let down = loop {
        let now = e
            .container(id)
            .await?
            .ok_or_else(|| anyhow!("container {name} disappeared"))?;
        if now.status != "running"
            || now.restart_count > first.restart_count
            || now.started_at != first.started_at
        {
            break Some(format!(
                "it is {} (exit code {}, {} restarts)",
                now.status, now.exit_code, now.restart_count
            ));
        }
        let lines = e.logs(id, crate::LOG_TAIL).await?;
        let f = diagnose::scan_after(&lines, mark.as_deref());
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
    set_state_after(e, id, report).await;
    match down {
        None => {
            report.finish(Outcome::Fixed, 0);
            Ok(())
        }
        Some(why) => {
            report.finish(Outcome::Unverified, 4);
            report.error = Some(format!(
                "the change is written and verified, but {name} did not stay up within {wait}s: {why}; see `docker logs {name}`{}",
                report.backup.as_ref().map(|b| format!("; the old database is in {} (`ozrepair restore` puts it back)", b.dir)).unwrap_or_default()
            ));
            Ok(())
        }
    }
}
