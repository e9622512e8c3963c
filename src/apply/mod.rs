//! Applying: every write happens inside one stop window ([`window`]): the container is stopped and proven
//! stopped, a verified backup is taken ([`backup`]) before the first write, the new bytes go in one SQLite
//! transaction, the result is verified, and the container is started and watched. One writer at a time
//! ([`lock`]); [`fault`] points let the tests crash the process between the steps. Each operation returns
//! an [`Applied`]; when it fails, the verdict's error says exactly what state everything was left in and
//! what to do next.

pub mod backup;
pub mod door;
pub mod fault;
pub mod files;
pub mod lock;
pub mod owner;
pub mod window;

use crate::access::{host, Database};
use crate::config::Configs;
use crate::dex::{store, ConnectorRow};
use crate::docker::locate::Located;
use crate::docker::ContainerState;
use crate::plan::{edits, Next, Plan};
use crate::progress::say;
use crate::settings::Settings;
use crate::verdict::{Outcome, Verdict};
use anyhow::{anyhow, Result};
use backup::{BackupSet, Origin};
use std::path::{Path, PathBuf};
use window::{Started, Window};

/// What an operation did, for the report.
#[derive(Default)]
pub struct Applied {
    /// The backup taken before the write (fix, backup), or the set put back (restore).
    pub backup: Option<BackupSet>,
    pub sha256_after: Option<String>,
    pub state_after: Option<ContainerState>,
    pub notes: Vec<String>,
    /// Every planned value was already stored (another run applied it): nothing was written.
    pub already_stored: bool,
    pub verdict: Option<Verdict>,
}

impl Applied {
    fn verdict(mut self, v: Verdict) -> Applied {
        self.verdict = Some(v);
        self
    }

    fn record_start(&mut self, s: Started) {
        self.state_after = s.state_after;
        self.notes.extend(s.notes);
        self.verdict = Some(s.verdict);
    }

    /// A failure: the error, with the outcome of a watch that already ran kept (unverified stays so).
    fn failed(mut self, e: anyhow::Error) -> Applied {
        let failed = Verdict::failed(&e);
        self.verdict = Some(match self.verdict.take() {
            Some(v) if v.outcome == Outcome::Unverified => Verdict {
                error: failed.error,
                ..v
            },
            _ => failed,
        });
        self
    }
}

/// Where the backups go: `--backup-dir`, else the default for the database's access.
pub fn backup_root(settings: &Settings, db: &Database) -> PathBuf {
    settings
        .backup_dir
        .clone()
        .unwrap_or_else(|| db.default_backup_root())
}

/// What has been done so far, for the error message.
#[derive(Default)]
struct Done {
    stopped: bool,
    /// Asked to stop, it did not stay stopped: it runs (or loops) as before.
    stop_refused: bool,
    backup: Option<PathBuf>,
    /// Config files written (they hold the new values).
    files: Vec<PathBuf>,
    written: bool,
    /// Committed, but the check after the commit failed: the database changed, not as planned.
    unverified: bool,
    started: bool,
    /// The deployment has no database (the standalone setup): only files are spoken of.
    no_database: bool,
}

impl Done {
    fn state(&self, container: Option<&str>) -> String {
        let mut s = Vec::new();
        if let Some(c) = container {
            s.push(if self.started {
                format!("container {c} was started again")
            } else if self.stop_refused {
                format!("container {c} goes on as it was")
            } else if self.stopped {
                format!("container {c} is stopped")
            } else {
                format!("container {c} was not touched")
            });
        }
        for f in &self.files {
            s.push(format!("{} holds the new values", f.display()));
        }
        if self.no_database {
            if self.files.is_empty() {
                s.push("no file was changed".into());
            }
        } else {
            s.push(if self.unverified {
                "the database was changed and does not read back as planned".into()
            } else if self.written {
                "the database holds the new values".into()
            } else {
                "the database is unchanged".to_string()
            });
        }
        if let Some(b) = &self.backup {
            s.push(format!("the backup is at {}", b.display()));
        }
        s.join("; ")
    }

    fn next(&self, container: Option<&str>) -> String {
        let changed = self.written || self.unverified || !self.files.is_empty();
        match (&self.backup, changed, container) {
            (Some(_), true, _) => "run `ozrepair restore` to put the old database back, or `ozrepair fix` again to finish".into(),
            (_, false, Some(c)) if self.stop_refused => {
                format!("stop {c} yourself (and keep its restart policy from starting it), then run `ozrepair fix` again")
            }
            (_, false, Some(c)) if self.stopped && !self.started => {
                format!("fix the cause above and run `ozrepair fix` again (it starts {c}), or `docker start {c}`")
            }
            _ => "fix the cause above and run `ozrepair fix` again".into(),
        }
    }
}

/// `fix`: what the plan says is next ([`Next::Write`] or [`Next::Start`]; judging changes nothing here).
pub async fn run(
    next: Next,
    located: &Located,
    db: &mut Database,
    configs: &Configs,
    plan: &Plan,
    s: &Settings,
) -> Applied {
    match next {
        Next::Write => fix(located, db, configs, plan, s).await,
        Next::Start => start(located, s).await,
        Next::Judge => Applied::default(),
    }
}

/// Applies the plan's changes in one stop window.
async fn fix(
    located: &Located,
    db: &mut Database,
    configs: &Configs,
    plan: &Plan,
    s: &Settings,
) -> Applied {
    let mut applied = Applied::default();
    let mut done = Done::default();
    let result = fix_steps(located, db, configs, plan, s, &mut applied, &mut done).await;
    ended(located, applied, &done, result)
}

/// The `Applied` of a stop window that ended with `result`: an error says what state everything is in
/// and what to do next.
fn ended(located: &Located, applied: Applied, done: &Done, result: Result<Verdict>) -> Applied {
    match result {
        Ok(v) => applied.verdict(v),
        Err(e) => {
            let name = located.container.as_ref().map(|c| c.name.as_str());
            let e = anyhow!("{e:#}; {}; {}", done.state(name), done.next(name));
            applied.failed(e)
        }
    }
}

async fn fix_steps(
    located: &Located,
    db: &mut Database,
    configs: &Configs,
    plan: &Plan,
    s: &Settings,
    applied: &mut Applied,
    done: &mut Done,
) -> Result<Verdict> {
    // 0. One writer at a time, and the plan must still apply to the bytes as they are now.
    let mut w = Window::open(located, db)?;
    let now = store::connectors(&db.read()?.conn)?;
    let pending = edits::compute(&now, plan)?;
    let pending_rows = edits::new_rows(&now, plan);
    let pending_files = files::compute(plan)?;
    if pending.is_empty() && pending_rows.is_empty() && pending_files.is_empty() {
        applied.notes.push("the database and config files already hold every planned value (another run applied it); nothing was changed".into());
        applied.already_stored = true;
        return Ok(Verdict::healthy());
    }

    // 1. Stop: nothing may hold the database while it is copied and edited. A set that could not be put
    // back as it was is refused first.
    db.can_write_back()?;
    let stopped = w.stop(db).await;
    done.stopped = w.stopped_here();
    done.stop_refused = w.stop_refused();
    stopped?;

    // 2. Backup, verified, before the first write.
    let root = backup_root(s, db);
    say(format!(
        "backing up {} to {}",
        db.path().display(),
        root.display()
    ));
    let saved: Vec<PathBuf> = configs.files.iter().map(|f| f.path.clone()).collect();
    let (set, rows) = take_set(located, db, &root, None, &saved, &mut applied.notes)?;
    say(format!("backup verified: {}", set.dir.display()));
    done.backup = Some(set.dir.clone());
    applied.backup = Some(set);
    fault::point("after-backup");

    // 3. The edits, computed again from the bytes as they are now (the container may have written since).
    let edits = edits::compute(&rows, plan)?;
    let new_rows = edits::new_rows(&rows, plan);
    let file_writes = files::compute(plan)?;

    // 4a. Config files first, each replaced whole by rename: NetBird copies a static connector from its
    // file into the database at every start, so the file is what the next start reads.
    for fw in &file_writes {
        say(format!("writing {}", fw.path.display()));
        files::write(fw)?;
        done.files.push(fw.path.clone());
    }
    fault::point("after-files");
    if edits.is_empty() && new_rows.is_empty() {
        return finish_fix(located, db, s, applied, done, w).await;
    }

    // 4. One transaction; then integrity_check and a read-back of every edited row.
    say(format!(
        "writing {} change(s) to {}",
        edits.len() + new_rows.len(),
        db.path().display()
    ));
    // A failure after the commit leaves a changed database: the error must say so.
    match store::write_changes(db.path(), &edits, &new_rows) {
        Ok(()) => {}
        Err(e @ store::WriteError::AfterCommit(_)) => {
            done.unverified = true;
            return Err(anyhow!(e));
        }
        Err(e) => return Err(anyhow!(e).context("the write failed")),
    }
    if let Some(e) = &located.engine {
        db.write_back(e).await?;
    }
    done.written = true;
    finish_fix(located, db, s, applied, done, w).await
}

/// After the writes: the stop still held, the database's hash, then the start and the watch.
async fn finish_fix(
    located: &Located,
    db: &mut Database,
    s: &Settings,
    applied: &mut Applied,
    done: &mut Done,
    w: Window<'_>,
) -> Result<Verdict> {
    w.check_held().await?;
    fault::point("after-write");
    applied.sha256_after = Some(host::sha256_file(db.path())?);
    start_after_write(located, s, applied, done, w).await
}

/// 5. The stop window's end after the writes: start and watch (or leave it stopped with `--no-restart`).
async fn start_after_write(
    located: &Located,
    s: &Settings,
    applied: &mut Applied,
    done: &mut Done,
    w: Window<'_>,
) -> Result<Verdict> {
    let Some((e, c)) = located.managed() else {
        return Ok(Verdict::fixed());
    };
    if !s.restart {
        applied.state_after = w.state_now().await;
        applied.notes.push(format!(
            "--no-restart: {} is left stopped; `docker start {}` when ready",
            c.name, c.name
        ));
        return Ok(Verdict::fixed());
    }
    let shown = applied.backup.as_ref().map(|b| b.dir.display().to_string());
    let started = window::start_and_watch(e, c, s.wait, shown.as_deref()).await?;
    done.started = true;
    applied.state_after = started.state_after;
    applied.notes.extend(started.notes);
    Ok(started.verdict)
}

/// The standalone setup's repair (no Dex database): config-file edits in the same stop window as `fix`:
/// the lock beside the first file, stop and prove it, a verified backup of the files, the edits computed
/// again from the files as they are then, each written by rename and read back, start, watch.
pub async fn files_only(located: &Located, plan: &Plan, s: &Settings) -> Applied {
    let mut applied = Applied::default();
    let mut done = Done {
        no_database: true,
        ..Done::default()
    };
    let result = files_only_steps(located, plan, s, &mut applied, &mut done).await;
    ended(located, applied, &done, result)
}

async fn files_only_steps(
    located: &Located,
    plan: &Plan,
    s: &Settings,
    applied: &mut Applied,
    done: &mut Done,
) -> Result<Verdict> {
    let pending = files::compute(plan)?;
    let Some(first) = pending.first().map(|w| w.path.clone()) else {
        applied.notes.push("the config files already hold every planned value (another run applied it); nothing was changed".into());
        applied.already_stored = true;
        return Ok(Verdict::healthy());
    };
    let mut w = Window::open_beside(located, &first)?;
    let stopped = w.stop_only().await;
    done.stopped = w.stopped_here();
    done.stop_refused = w.stop_refused();
    stopped?;

    let root = s.backup_dir.clone().unwrap_or_else(|| {
        first
            .parent()
            .unwrap_or(Path::new("."))
            .join("ozrepair-backups")
    });
    say(format!("backing up the config files to {}", root.display()));
    let origin = Origin {
        source: first.display().to_string(),
        host: located.engine.as_ref().map(|e| e.endpoint.clone()),
        container: located.container.as_ref().map(|c| c.name.clone()),
        configs: pending.iter().map(|p| p.path.clone()).collect(),
        ..Origin::default()
    };
    let taken = backup::take_files(&root, &origin)?;
    applied.notes.extend(taken.notes);
    say(format!("backup verified: {}", taken.set.dir.display()));
    done.backup = Some(taken.set.dir.clone());
    applied.backup = Some(taken.set);
    fault::point("after-backup");

    for fw in &files::compute(plan)? {
        say(format!("writing {}", fw.path.display()));
        files::write(fw)?;
        done.files.push(fw.path.clone());
    }
    w.check_held().await?;
    fault::point("after-write");
    start_after_write(located, s, applied, done, w).await
}

/// `fix` when the database already holds the fix and only the container's start is due.
async fn start(located: &Located, s: &Settings) -> Applied {
    let mut applied = Applied::default();
    applied
        .notes
        .push("the database already holds the corrected issuer; starting the container".into());
    let Some((e, c)) = located.managed() else {
        return applied.verdict(Verdict::healthy());
    };
    match window::start_and_watch(e, c, s.wait, None).await {
        Ok(started) => {
            applied.record_start(started);
            applied
        }
        Err(e) => applied.failed(e),
    }
}

/// The database as a manifest names it: its real path on this machine, or `container:/path`.
pub fn source_of(db: &Database) -> String {
    match db {
        Database::Host(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
        Database::Archive(_) => db.shown(),
    }
}

/// A verified backup of the database as it is now, with the deployment recorded in its manifest; and the
/// connector rows as they were backed up. What was cleaned up on the way goes into `notes`.
fn take_set(
    located: &Located,
    db: &Database,
    root: &Path,
    kind: Option<&str>,
    configs: &[PathBuf],
    notes: &mut Vec<String>,
) -> Result<(BackupSet, Vec<ConnectorRow>)> {
    let snap = db.read()?;
    let schema = store::check_schema(&snap.conn, db.path())?;
    let rows = store::connectors(&snap.conn)?;
    drop(snap);
    let mut origin = Origin::of(located, source_of(db), &schema, &rows);
    origin.kind = kind.map(str::to_string);
    origin.configs = configs.to_vec();
    let taken = backup::take(db.path(), root, &origin)?;
    notes.extend(taken.notes);
    Ok((taken.set, rows))
}

/// `backup`: a verified backup into `root` now, with the container stopped around it and started again.
pub async fn backup_now(located: &Located, db: &mut Database, root: &Path) -> Applied {
    let mut applied = Applied::default();
    let result = async {
        let mut w = Window::open(located, db)?;
        w.stop(db).await?;
        let set = take_set(located, db, root, None, &[], &mut applied.notes).map(|(set, _)| set);
        w.start_if_stopped_here().await?;
        set
    }
    .await;
    match result {
        Ok(set) => Applied {
            sha256_after: Some(set.db_sha256()),
            backup: Some(set),
            ..applied
        }
        .verdict(Verdict::healthy()),
        Err(e) => applied.failed(e),
    }
}

/// `restore`: puts a verified set back in one stop window. The restored database is built and verified
/// beside the live one first; the live one is made consistent by SQLite and saved into `root` (a set of
/// kind `pre-restore`); then one rename swaps them. The container is started again (and watched) when this
/// run stopped it.
pub async fn restore(
    located: &Located,
    db: &mut Database,
    set: &BackupSet,
    root: &Path,
    s: &Settings,
) -> Applied {
    let mut applied = Applied::default();
    let result = async {
        let mut w = Window::open(located, db)?;
        db.can_write_back()?;
        w.stop(db).await?;
        let work = restore_steps(located, db, set, root, &mut applied);
        if let (Ok(()), Some(e)) = (&work, &located.engine) {
            db.write_back(e).await?;
        }
        // Started again when this run stopped it, whether the restore worked or not.
        if let (Some((e, c)), true, true) = (located.managed(), s.restart, w.stopped_here()) {
            let shown = applied.backup.as_ref().map(|b| b.dir.display().to_string());
            let started = window::start_and_watch(e, c, s.wait, shown.as_deref()).await?;
            applied.record_start(started);
        }
        work
    }
    .await;
    match (result, applied.verdict.is_some()) {
        // Without a watch the restore itself is the result.
        (Ok(()), false) => applied.verdict(Verdict::fixed()),
        (Ok(()), true) => applied,
        (Err(e), _) => applied.failed(e),
    }
}

fn restore_steps(
    located: &Located,
    db: &Database,
    set: &BackupSet,
    root: &Path,
    applied: &mut Applied,
) -> Result<()> {
    let path = db.path();
    if !lock::holders(path).is_empty() {
        return Err(anyhow!(
            "{} is open in {}; nothing was changed; stop it first, then run the restore again",
            path.display(),
            lock::holders(path).join(", ")
        ));
    }
    let untouched = "the live database was not touched";
    let prepared = backup::Prepared::build(set, path).map_err(|e| {
        anyhow!("{e:#}; building the restored copy failed and it was removed; {untouched}")
    })?;
    applied.notes.extend(prepared.notes.iter().cloned());
    fault::step("built the restored copy");
    backup::settle(path).map_err(|e| {
        anyhow!("{e:#}; the live database is as SQLite reads it (any change SQLite made to it was its own rollback or checkpoint); nothing was restored")
    })?;
    // The config files saved with the set are saved again as they are now, and put back after the swap.
    let configs: Vec<PathBuf> = set
        .manifest
        .configs
        .iter()
        .map(|c| PathBuf::from(&c.source))
        .filter(|p| crate::config::read_file(p).is_ok())
        .collect();
    let (before, _) = take_set(located, db, root, Some(backup::PRE_RESTORE), &configs, &mut applied.notes)
        .map_err(|e| {
            anyhow!("{e:#}; could not save the current database first, so nothing was restored; the live database is as SQLite reads it")
        })?;
    applied.notes.push(format!(
        "the database as it was before the restore is saved in {}",
        before.dir.display()
    ));
    let sha = prepared.swap().map_err(|e| {
        anyhow!(
            "{e:#}; the database is either as it was or the restored one, never a mix (the one rename decides); the database before the restore is in {}; run `ozrepair restore --backup {}` to retry",
            before.dir.display(),
            set.dir.display()
        )
    })?;
    applied.backup = Some(set.clone());
    applied.sha256_after = Some(sha);
    for c in &set.manifest.configs {
        let path = PathBuf::from(&c.source);
        let put_back = (|| -> Result<bool> {
            let copy = std::fs::read(set.dir.join(&c.file.name))?;
            if host::hex(&sha2_of(&copy)) != c.file.sha256 {
                anyhow::bail!("its copy in the set does not match the manifest");
            }
            let now = crate::config::read_file(&path)?;
            if now == copy {
                return Ok(false);
            }
            files::write(&files::FileWrite {
                path: path.clone(),
                before: now,
                after: copy,
            })?;
            Ok(true)
        })();
        match put_back {
            Ok(true) => applied
                .notes
                .push(format!("{} was put back from the set", path.display())),
            Ok(false) => {}
            Err(e) => {
                return Err(anyhow!(
                    "{e:#}; the database was restored but {} was not put back; its copy is {} in {}; the state before the restore is in {}",
                    path.display(),
                    c.file.name,
                    set.dir.display(),
                    before.dir.display()
                ))
            }
        }
    }
    Ok(())
}

fn sha2_of(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

#[cfg(test)]
mod tests {
    use super::Done;

    #[test]
    fn a_failure_after_the_commit_never_says_unchanged() {
        let done = Done {
            stopped: true,
            unverified: true,
            backup: Some("/b/idp.db-1".into()),
            ..Done::default()
        };
        let s = done.state(Some("mgmt"));
        assert!(!s.contains("unchanged"), "{s}");
        assert!(s.contains("was changed"), "{s}");
        assert!(done.next(Some("mgmt")).contains("ozrepair restore"));
        assert!(Done::default().state(None).contains("unchanged"));
    }
}
