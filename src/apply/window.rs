//! The one stop window every change goes through, and the sequence it owns: take the store's lock, make
//! sure the work is still due, stop the IdP and prove the stop holds, take the store again as it is now,
//! back it up (verified), do the one write ([`Work`], passed in as a value), check the stop held, and start
//! the IdP and watch it. [`Done`] records how far it got, so that a failure says what state everything is
//! in and what to do next. The window knows the runtime and the store only through their traits
//! ([`Runtime`], [`Store`]).

use super::{files, Applied};
use crate::backups::{BackupSet, Check, Origin, Sets};
use crate::dex::password::{LocalUser, NewPassword};
use crate::fault::{self, Point};
use crate::plan::{edits, Plan};
use crate::progress::say;
use crate::runtime::Runtime;
use crate::settings::ApplyOpts;
use crate::store::{Found, Store, Write, WriteError, Wrote};
use crate::verdict::{Outcome, Refused, Verdict};
use anyhow::{anyhow, Result};
use std::path::PathBuf;

/// The change a window makes, as a value.
pub enum Work<'a> {
    /// The plan's changes: the config files first (each replaced whole by rename), then the store's one
    /// transaction. `command` is the command that asked (`fix`, `local-login`), for the next step.
    Plan {
        plan: &'a Plan,
        command: &'static str,
        /// The config files saved with the store in the backup.
        saved: &'a [PathBuf],
    },
    /// A local user's new password (already hashed) and the end of their local sessions.
    Password {
        user: &'a LocalUser,
        hash: &'a [u8],
        new: &'a NewPassword,
    },
    /// Nothing is written: the backup is the work, and the IdP is started again when this run stopped
    /// it, without a watch.
    Backup,
    /// A set put back: the live store saved first (a `pre-restore` set, with the config files as they
    /// are now), then swapped for the set's, then the config files put back. `put_back`: each config file
    /// to write, at a destination ozrepair derived from the deployment itself (never one a manifest
    /// names), with the set's copy of it.
    Restore {
        set: &'a BackupSet,
        put_back: &'a [(PathBuf, crate::backups::ConfigEntry)],
    },
}

impl Work<'_> {
    /// The command to run again after a failure, for the work whose errors say the state they leave.
    fn command(&self) -> Option<&'static str> {
        match self {
            Work::Plan { command, .. } => Some(command),
            Work::Password { .. } => Some("password"),
            Work::Backup | Work::Restore { .. } => None,
        }
    }

    /// Whether anything is written (then the store must be writable before anything stops).
    fn writes(&self) -> bool {
        !matches!(self, Work::Backup)
    }
}

/// What has been done so far, for the error message.
#[derive(Debug, Default)]
pub struct Done {
    pub stopped: bool,
    /// Asked to stop, it did not stay stopped: it runs (or loops) as before.
    pub stop_refused: bool,
    pub backup: Option<PathBuf>,
    /// Config files written (they hold the new values).
    pub files: Vec<PathBuf>,
    pub written: bool,
    /// Committed, but the check after the commit failed: the store changed, not as planned.
    pub unverified: bool,
    pub started: bool,
    /// The deployment has no store (the standalone setup): only files are spoken of.
    pub no_database: bool,
}

impl Done {
    /// Whether anything was done yet (stopped, backed up, written).
    pub fn anything(&self) -> bool {
        self.stopped
            || self.stop_refused
            || self.backup.is_some()
            || !self.files.is_empty()
            || self.written
            || self.unverified
            || self.started
    }

    /// The state everything is in, for an error (`name`: the IdP's, when something runs it).
    pub fn state(&self, name: Option<&str>) -> String {
        let mut s = Vec::new();
        if let Some(c) = name {
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

    /// What to do next after a failure of `command` (`name`: the IdP's; `start`: how to start it by
    /// hand).
    pub fn next(&self, command: &str, name: Option<&str>, start: Option<&str>) -> String {
        let changed = self.written || self.unverified || !self.files.is_empty();
        match (&self.backup, changed, name) {
            (Some(_), true, _) => format!("run `ozrepair restore` to put the old database back, or `ozrepair {command}` again to finish"),
            (_, false, Some(c)) if self.stop_refused => {
                format!("stop {c} yourself (and keep its restart policy from starting it), then run `ozrepair {command}` again")
            }
            (_, false, Some(c)) if self.stopped && !self.started => {
                let by_hand = start.map(|s| format!(", or `{s}`")).unwrap_or_default();
                if command == "fix" {
                    format!("fix the cause above and run `ozrepair fix` again (it starts {c}){by_hand}")
                } else {
                    format!("fix the cause above and run `ozrepair {command}` again{by_hand}")
                }
            }
            _ => format!("fix the cause above and run `ozrepair {command}` again"),
        }
    }
}

/// A stop window over what runs the IdP and where it keeps its state.
pub struct Window<'w> {
    pub runtime: &'w mut dyn Runtime,
    pub store: &'w mut dyn Store,
    /// The deployment as a backup's manifest records it (the store's own parts are filled in here).
    pub origin: Origin,
    pub opts: &'w ApplyOpts,
}

impl Window<'_> {
    /// Runs `work` in the window; the result says what was done and, on failure, what state everything
    /// was left in.
    pub async fn run(mut self, work: Work<'_>) -> Applied {
        let mut applied = Applied::default();
        let mut done = Done {
            no_database: self.store.kind() == "none",
            ..Done::default()
        };
        let result = self.steps(&work, &mut applied, &mut done).await;
        // Restore starts the IdP again when it stopped it, whether the restore worked or not: the live
        // store is whole either way.
        if let (Work::Restore { .. }, Err(_)) = (&work, &result) {
            if self.opts.restart() && self.runtime.stopped_here() && !done.started {
                let shown = applied.backup.as_ref().map(|b| b.dir.display().to_string());
                if let Ok(started) = self.runtime.start_and_watch(self.opts.wait(), shown).await {
                    applied.record_start(started);
                }
            }
        }
        match result {
            Ok(v) => applied.verdict(v),
            // Refused before anything was done: the refusal says so itself, once.
            Err(e) if e.is::<Refused>() && !done.anything() => applied.failed(e),
            Err(e) => {
                let e = match work.command() {
                    Some(command) => {
                        let name = self.runtime.unit().map(|u| u.name.clone());
                        let start = self.runtime.start_command();
                        anyhow!(
                            "{e:#}; {}; {}",
                            done.state(name.as_deref()),
                            done.next(command, name.as_deref(), start.as_deref())
                        )
                    }
                    None => e,
                };
                applied.failed(e)
            }
        }
    }

    async fn steps(
        &mut self,
        work: &Work<'_>,
        applied: &mut Applied,
        done: &mut Done,
    ) -> Result<Verdict> {
        // 0. One writer at a time, and the work must still be due (another run may have done it); an
        // interrupted restore is finished before anything else.
        let _lock = self.store.lock()?;
        if !matches!(work, Work::Restore { .. }) {
            if let Some(j) = crate::backups::Journal::load(&self.sets())? {
                anyhow::bail!(
                    "a restore of {} was interrupted and is not finished; nothing was changed; run `ozrepair restore` to finish it first",
                    j.set.display()
                );
            }
        }
        if let Some(note) = self.already_done(work)? {
            applied.notes.push(note);
            applied.already_stored = true;
            return Ok(Verdict::healthy());
        }

        // 1. Stop: nothing may hold the store while it is copied and written. A store that could not be
        // put back as it was is refused first.
        self.sets().check_writable()?;
        if work.writes() {
            self.store.can_write()?;
        }
        let stopped = self.runtime.stop().await;
        done.stopped = self.runtime.stopped_here();
        done.stop_refused = self.runtime.stop_refused();
        stopped?;
        self.store.refresh().await?;
        if let Work::Restore { set, .. } = work {
            let notes =
                crate::progress::during(format!("preparing {}", set.dir.display()), || {
                    self.store.prepare_restore(set)
                })?;
            applied.notes.extend(notes);
        }

        // 2. A verified backup before the first write.
        let set = self.backup(work, applied)?;
        if let Work::Backup = work {
            applied.sha256_after = Some(set.db_sha256());
            applied.backup = Some(set);
            self.runtime.start_if_stopped_here().await?;
            return Ok(Verdict::backed_up());
        }
        done.backup = Some(set.dir.clone());
        match work {
            // The report names the set put back (once it is), the note the copy saved first.
            Work::Restore { .. } => applied.notes.push(format!(
                "the database as it was before the restore is saved in {}",
                set.dir.display()
            )),
            _ => applied.backup = Some(set),
        }
        fault::point(Point::AfterBackup);

        // 3. The write, computed again from the store and files as they are now.
        self.write(work, applied, done).await?;
        applied.notes.extend(self.store.notes());
        self.runtime.check_held().await?;
        fault::point(Point::AfterWrite);
        if applied.sha256_after.is_none() {
            applied.sha256_after = crate::progress::during(
                format!("hashing {} as written", self.store.shown()),
                || self.store.fingerprint(),
            )?;
        }

        // 4. Start and watch (or leave it stopped with --no-restart).
        self.start(work, applied, done).await
    }

    /// Some(note) when the store and files already hold everything the work would write.
    fn already_done(&self, work: &Work<'_>) -> Result<Option<String>> {
        Ok(match work {
            Work::Plan { plan, .. } => {
                let now = self.store.connectors()?;
                let pending = edits::compute(&now, plan)?;
                let pending_rows = edits::new_rows(&now, plan);
                let pending_files = files::compute(plan)?;
                (pending.is_empty() && pending_rows.is_empty() && pending_files.is_empty()).then(|| {
                    if self.store.kind() == "none" {
                        "the config files already hold every planned value (another run applied it); nothing was changed".to_string()
                    } else {
                        "the database and config files already hold every planned value (another run applied it); nothing was changed".to_string()
                    }
                })
            }
            Work::Password { user, new, .. } => {
                let now = self.user_now(&user.email)?;
                crate::dex::password::dex_accepts(&now.hash, new.expose()).then(|| {
                    format!(
                        "the password of {} is already the new one (another run set it); nothing was changed",
                        user.email
                    )
                })
            }
            Work::Backup | Work::Restore { .. } => None,
        })
    }

    /// The user as the store holds them now.
    fn user_now(&self, email: &str) -> Result<LocalUser> {
        match self.store.find_user(email)? {
            Found::User(u) => Ok(u),
            Found::Missing { .. } => Err(anyhow!(
                "the password row of {email} is gone since it was read"
            )),
        }
    }

    /// Where this window's backups go: `--backup-dir`, else the store's default.
    fn sets(&self) -> Sets {
        match self.opts.backup_dir() {
            Some(d) => Sets::at(d),
            None => self.store.default_backups(),
        }
    }

    /// The verified backup of the store as it is now, with the config files the work will write (or, for
    /// a restore, those the set will put back) saved with it.
    fn backup(&self, work: &Work<'_>, applied: &mut Applied) -> Result<BackupSet> {
        let sets = self.sets();
        let (configs, kind): (Vec<PathBuf>, Option<&str>) = match work {
            Work::Plan { saved, .. } => (saved.to_vec(), None),
            // The config files to put back are saved again as they are now.
            Work::Restore { put_back, .. } => (
                put_back
                    .iter()
                    .map(|(p, _)| p.clone())
                    .filter(|p| crate::config::read_file(p).is_ok())
                    .collect(),
                Some(crate::backups::PRE_RESTORE),
            ),
            Work::Password { .. } | Work::Backup => (Vec::new(), None),
        };
        if self.store.kind() == "none" {
            say(format!(
                "backing up the config files to {}",
                sets.path().display()
            ));
        } else if matches!(work, Work::Restore { .. }) {
            say(format!(
                "saving {} as it is now to {}",
                self.store.shown(),
                sets.path().display()
            ));
        } else {
            say(format!(
                "backing up {} to {}",
                self.store.shown(),
                sets.path().display()
            ));
        }
        let stored = self.store.read_rows()?;
        let mut origin = self.origin.clone();
        origin.source = self.store.source();
        origin.kind = kind.map(str::to_string);
        origin.dex_schema = Some(stored.schema.migrations);
        origin.connectors = stored.rows.iter().map(|r| r.id.to_string()).collect();
        origin.configs = configs;
        // `backup --check` proves the source whole too; a fix's own backup needs only the bytes (the fix
        // checks the store before it writes and after).
        let check = match work {
            Work::Backup => self.opts.check,
            _ => Check::Bytes,
        };
        let taken = crate::progress::waiting(
            format!("backing up {}", self.store.shown()),
            self.store.holders(),
            || self.store.backup(&sets, &origin, check),
        )
        .map_err(|e| match work {
            Work::Restore { .. } => anyhow!("{e:#}; could not save the current database first, so nothing was restored; the live database is as SQLite reads it"),
            _ => e,
        })?;
        applied.notes.extend(taken.notes);
        say(format!("backup verified: {}", taken.set.dir.display()));
        Ok(taken.set)
    }

    /// The one write of the work, into `done` as it goes.
    async fn write(
        &mut self,
        work: &Work<'_>,
        applied: &mut Applied,
        done: &mut Done,
    ) -> Result<()> {
        match work {
            Work::Plan { plan, .. } => {
                let rows = self.store.connectors()?;
                let edits = edits::compute(&rows, plan)?;
                let new_rows = edits::new_rows(&rows, plan);
                let file_writes = files::compute(plan)?;
                // Config files first, each replaced whole by rename: NetBird copies a static connector
                // from its file into the database at every start, so the file is what the next start
                // reads.
                for fw in &file_writes {
                    say(format!("writing {}", fw.path.display()));
                    files::write(fw)?;
                    done.files.push(fw.path.clone());
                    fault::point(Point::InsideFiles);
                }
                fault::point(Point::AfterFiles);
                if edits.is_empty() && new_rows.is_empty() {
                    return Ok(());
                }
                say(format!(
                    "writing {} change(s) to {}",
                    edits.len() + new_rows.len(),
                    self.store.shown()
                ));
                let w = Write::Connectors {
                    edits: &edits,
                    new_rows: &new_rows,
                };
                self.store_write(w, done).await?;
            }
            Work::Password { user, hash, new } => {
                // The row as it is now (the IdP may have written it before it stopped) guards the write.
                let now = self.user_now(&user.email)?;
                say(format!(
                    "setting the password of {} and removing their local sessions in {}",
                    user.email,
                    self.store.shown()
                ));
                let w = Write::Password {
                    user: &now,
                    hash,
                    new,
                };
                if let Wrote::Password { sessions_removed } = self.store_write(w, done).await? {
                    applied.sessions_removed = Some(sessions_removed);
                }
            }
            Work::Restore { set, put_back } => {
                self.restore(set, put_back, applied, done).await?;
            }
            Work::Backup => {}
        }
        Ok(())
    }

    /// The store's one transaction: a failure after its commit leaves a changed store, and says so.
    async fn store_write(&mut self, w: Write<'_>, done: &mut Done) -> Result<Wrote> {
        let _t = crate::progress::Ticker::waiting(
            format!("writing and checking {}", self.store.shown()),
            self.store.holders(),
        );
        match self.store.write(w).await {
            Ok(wrote) => {
                done.written = true;
                Ok(wrote)
            }
            Err(e @ WriteError::AfterCommit(_)) => {
                done.unverified = true;
                Err(anyhow!(e))
            }
            Err(e) => Err(anyhow!(e).context("the write failed")),
        }
    }

    /// Restore's write. Every destination is checked first (the set's copy matches its manifest; the
    /// file is there, a regular file with one link, in a directory this process may write), and a
    /// journal of what follows is written (signed, durable) before the first swap; then the store is
    /// swapped for the set's, each config file put back by rename, and the journal removed. A kill at any
    /// instant leaves each file old or new, and the journal for the next `restore` to finish the same set.
    async fn restore(
        &mut self,
        set: &BackupSet,
        put_back: &[(PathBuf, crate::backups::ConfigEntry)],
        applied: &mut Applied,
        done: &mut Done,
    ) -> Result<()> {
        let before = done.backup.clone().unwrap_or_default();
        let sets = self.sets();
        let mut writes = Vec::new();
        let mut journal = crate::backups::Journal {
            set: set.dir.clone(),
            before: before.clone(),
            files: Vec::new(),
            mac: None,
        };
        for (path, c) in put_back {
            let checked = (|| -> Result<Option<files::FileWrite>> {
                let copy = std::fs::read(set.dir.join(&c.file.name))?;
                if crate::digest::sha256_hex(&copy) != c.file.sha256 {
                    anyhow::bail!("its copy in the set does not match the manifest");
                }
                let now = crate::config::read_for_edit(path)?;
                files::can_replace(path)?;
                Ok((now != copy).then(|| files::FileWrite {
                    path: path.clone(),
                    before: now,
                    after: copy,
                }))
            })()
            .map_err(|e| {
                anyhow!(
                    "{e:#}; {} could not be put back, so nothing was restored; the live database is as SQLite reads it",
                    path.display()
                )
            })?;
            if let Some(w) = checked {
                journal.files.push(crate::backups::JournalFile {
                    path: w.path.clone(),
                    before: crate::digest::sha256_hex(&w.before),
                    after: crate::digest::sha256_hex(&w.after),
                });
                writes.push(w);
            }
        }
        // The one rename of the store needs no journal; config files to put back after it do.
        let journaled = !writes.is_empty();
        if journaled {
            journal.save(&sets).map_err(|e| {
                anyhow!(
                    "{e:#}; the restore's journal could not be written, so nothing was restored"
                )
            })?;
        }
        let swapped = {
            let _t = crate::progress::Ticker::new(format!("putting {} back", set.dir.display()));
            self.store.write(Write::Restore).await
        };
        match swapped {
            Ok(_) => {
                done.written = true;
                applied.backup = Some(set.clone());
            }
            Err(e) => {
                return Err(anyhow!(
                    "{e}; the database is either as it was or the restored one, never a mix (the one rename decides); the database before the restore is in {}; run `ozrepair restore --backup {}` to retry",
                    before.display(),
                    set.dir.display()
                ))
            }
        }
        applied.sha256_after = crate::progress::during(
            format!("hashing {} as restored", self.store.shown()),
            || self.store.fingerprint(),
        )?;
        for w in &writes {
            match files::write(w) {
                Ok(()) => applied
                    .notes
                    .push(format!("{} was put back from the set", w.path.display())),
                Err(e) => {
                    return Err(anyhow!(
                        "{e:#}; the database was restored but {} was not put back; run `ozrepair restore` to finish (the journal in {} says what is left); the state before the restore is in {}",
                        w.path.display(),
                        sets.path().display(),
                        before.display()
                    ))
                }
            }
        }
        if journaled {
            crate::backups::Journal::remove(&sets)?;
        }
        Ok(())
    }

    /// The window's end after the write: start and watch (or leave it stopped with `--no-restart`). A
    /// restore starts only what it stopped.
    async fn start(
        &mut self,
        work: &Work<'_>,
        applied: &mut Applied,
        done: &mut Done,
    ) -> Result<Verdict> {
        let done_word = match work {
            Work::Restore { .. } => Verdict::restored(),
            _ => Verdict::fixed(),
        };
        let Some(unit) = self.runtime.unit().cloned() else {
            return Ok(done_word);
        };
        if let Work::Restore { .. } = work {
            if !(self.opts.restart() && self.runtime.stopped_here()) {
                return Ok(done_word);
            }
        } else if !self.opts.restart() {
            applied.state_after = self.runtime.state_now().await;
            let start = self.runtime.start_command().unwrap_or_default();
            applied.notes.push(format!(
                "--no-restart: {} is left stopped; `{start}` when ready",
                unit.name
            ));
            return Ok(done_word);
        }
        let shown = applied.backup.as_ref().map(|b| b.dir.display().to_string());
        let started = self
            .runtime
            .start_and_watch(self.opts.wait(), shown)
            .await?;
        done.started = true;
        let mut verdict = started.verdict.clone();
        if verdict.outcome == Outcome::Fixed {
            verdict.outcome = done_word.outcome;
        }
        applied.record_start(started);
        Ok(verdict)
    }
}

/// `fix` when the store already holds the fix and only the IdP's start is due.
pub async fn start_only(runtime: &dyn Runtime, opts: &ApplyOpts) -> Applied {
    let mut applied = Applied::default();
    applied
        .notes
        .push("the database already holds the corrected issuer; starting the container".into());
    if runtime.unit().is_none() {
        return applied.verdict(Verdict::healthy());
    }
    match runtime.start_and_watch(opts.wait(), None).await {
        Ok(started) => {
            applied.record_start(started);
            applied
        }
        Err(e) => applied.failed(e),
    }
}

impl Applied {
    fn verdict(mut self, v: Verdict) -> Applied {
        self.verdict = Some(v);
        self
    }

    fn record_start(&mut self, s: crate::runtime::Started) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backups::{self, Taken};
    use crate::dex::{ConnectorRow, Schema, Storage, Stored};
    use crate::logs::LogFindings;
    use crate::plan::{Change, Source, Store as Where};
    use crate::runtime::{InsideSet, Started, State, Unit};
    use crate::store::{Lock, NewRow};
    use crate::verdict::ExitCode;
    use futures_util::future::LocalBoxFuture;
    use futures_util::FutureExt;
    use std::cell::RefCell;
    use std::rc::Rc;

    type Calls = Rc<RefCell<Vec<String>>>;

    /// How the fake runtime behaves.
    #[derive(Clone, Copy, Default)]
    struct Runs {
        /// Its stop is refused: it starts again by itself.
        refuses_stop: bool,
        /// Something started it again while the window was open.
        restarted_meanwhile: bool,
        /// The start ends in a restart loop.
        loops_after_start: bool,
    }

    struct FakeRuntime {
        how: Runs,
        unit: Unit,
        stopped_here: bool,
        refused: bool,
        calls: Calls,
    }

    impl Runtime for FakeRuntime {
        fn kind(&self) -> &'static str {
            "fake"
        }
        fn host(&self) -> Option<&str> {
            None
        }
        fn unit(&self) -> Option<&Unit> {
            Some(&self.unit)
        }
        fn start_command(&self) -> Option<String> {
            Some("fake start mgmt".into())
        }
        fn logs_command(&self) -> Option<String> {
            None
        }
        fn stop(&mut self) -> LocalBoxFuture<'_, Result<()>> {
            async move {
                self.calls.borrow_mut().push("stop".into());
                if self.how.refuses_stop {
                    self.refused = true;
                    return Err(anyhow!("container mgmt could not be stopped: it started again by itself; nothing was changed"));
                }
                self.stopped_here = true;
                Ok(())
            }
            .boxed_local()
        }
        fn stopped_here(&self) -> bool {
            self.stopped_here
        }
        fn stop_refused(&self) -> bool {
            self.refused
        }
        fn check_held(&self) -> LocalBoxFuture<'_, Result<()>> {
            async move {
                self.calls.borrow_mut().push("check_held".into());
                if self.how.restarted_meanwhile {
                    return Err(anyhow!(
                        "container mgmt was started while its database was being written"
                    ));
                }
                Ok(())
            }
            .boxed_local()
        }
        fn start_if_stopped_here(&self) -> LocalBoxFuture<'_, Result<()>> {
            async move {
                self.calls.borrow_mut().push("start".into());
                Ok(())
            }
            .boxed_local()
        }
        fn start_and_watch(
            &self,
            _wait: u64,
            _backup: Option<String>,
        ) -> LocalBoxFuture<'_, Result<Started>> {
            async move {
                self.calls.borrow_mut().push("start_and_watch".into());
                Ok(if self.how.loops_after_start {
                    Started {
                        verdict: Verdict::new(Outcome::Unverified, ExitCode::NotUp)
                            .with_error("mgmt did not stay up".into()),
                        state_after: Some(State::Restarting),
                        notes: Vec::new(),
                    }
                } else {
                    Started {
                        verdict: Verdict::fixed(),
                        state_after: Some(State::Running),
                        notes: Vec::new(),
                    }
                })
            }
            .boxed_local()
        }
        fn state_now(&self) -> LocalBoxFuture<'_, Option<State>> {
            async { Some(State::Exited) }.boxed_local()
        }
        fn last_run(&self) -> LocalBoxFuture<'_, Result<Option<LogFindings>>> {
            async { Ok(None) }.boxed_local()
        }
        fn fetch<'a>(
            &'a self,
            _inside: &'a str,
            _companions: &'a [&'a str],
        ) -> LocalBoxFuture<'a, Result<Box<dyn InsideSet>>> {
            async { Err(anyhow!("no files inside")) }.boxed_local()
        }
    }

    /// How the fake store's write ends.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Writes {
        Commits,
        FailsBeforeCommit,
        FailsAfterCommit,
    }

    struct FakeStore {
        rows: Vec<ConnectorRow>,
        writes: Writes,
        dir: tempfile::TempDir,
        calls: Calls,
    }

    impl Store for FakeStore {
        fn kind(&self) -> &'static str {
            "fake"
        }
        fn shown(&self) -> String {
            "fake-store".into()
        }
        fn source(&self) -> String {
            "fake-store".into()
        }
        fn default_backups(&self) -> Sets {
            Sets::at(self.dir.path())
        }
        fn read(&self) -> Result<Stored> {
            self.read_rows()
        }
        fn read_rows(&self) -> Result<Stored> {
            Ok(Stored {
                schema: Schema {
                    migrations: 11,
                    has_grant_types: false,
                    flavour_only: 0,
                },
                rows: self.rows.clone(),
                sha256: String::new(),
            })
        }
        fn connectors(&self) -> Result<Vec<ConnectorRow>> {
            Ok(self.rows.clone())
        }
        fn find_user(&self, _email: &str) -> Result<Found> {
            Ok(Found::Missing { users: 0 })
        }
        fn lock(&self) -> Result<Lock> {
            self.calls.borrow_mut().push("lock".into());
            Ok(Box::new(()))
        }
        fn can_write(&self) -> Result<()> {
            Ok(())
        }
        fn refresh(&mut self) -> LocalBoxFuture<'_, Result<()>> {
            async move {
                self.calls.borrow_mut().push("refresh".into());
                Ok(())
            }
            .boxed_local()
        }
        fn backup(
            &self,
            sets: &Sets,
            origin: &backups::Origin,
            _check: backups::Check,
        ) -> Result<Taken> {
            self.calls.borrow_mut().push("backup".into());
            Ok(Taken {
                set: BackupSet {
                    dir: sets.path().join("set-1"),
                    manifest: backups::manifest(origin, Vec::new(), Vec::new()),
                },
                notes: Vec::new(),
            })
        }
        fn write<'a>(&'a mut self, w: Write<'a>) -> LocalBoxFuture<'a, Result<Wrote, WriteError>> {
            async move {
                let Write::Connectors { edits, new_rows } = w else {
                    return Err(WriteError::RolledBack(anyhow!("not a connector write")));
                };
                let _: &[NewRow] = new_rows;
                self.calls
                    .borrow_mut()
                    .push(format!("write {}", edits.len()));
                match self.writes {
                    Writes::Commits => {
                        for e in edits {
                            if let Some(r) = self.rows.iter_mut().find(|r| r.id == e.id) {
                                r.config = Some(e.after.clone());
                            }
                        }
                        Ok(Wrote::Rows)
                    }
                    Writes::FailsBeforeCommit => {
                        Err(WriteError::RolledBack(anyhow!("the disk is full")))
                    }
                    Writes::FailsAfterCommit => Err(WriteError::AfterCommit(anyhow!(
                        "connector a does not read back as written"
                    ))),
                }
            }
            .boxed_local()
        }
        fn fingerprint(&self) -> Result<Option<String>> {
            Ok(Some("f1".into()))
        }
        fn verify_set(&self, _set: &BackupSet) -> Result<()> {
            Ok(())
        }
        fn prepare_restore(&mut self, _set: &BackupSet) -> Result<Vec<String>> {
            Ok(Vec::new())
        }
    }

    /// The plan that corrects connector `a`'s issuer from `https://x` to `https://x/`.
    fn plan() -> Plan {
        Plan {
            changes: vec![Change {
                connector: "a".into(),
                field: "issuer".into(),
                from: "https://x".into(),
                to: "https://x/".into(),
                source: Source::Explicit,
                evidence: "--issuer".into(),
                store: Where::Database,
                hidden: None,
            }],
            ..Plan::default()
        }
    }

    /// Runs the plan's window with a fake runtime and store; the result and the calls made, in order.
    fn window(runs: Runs, writes: Writes) -> (Applied, Vec<String>) {
        window_on(runs, writes, "https://x", State::Restarting)
    }

    /// The same, on a store whose connector `a` holds `issuer`, and an IdP in `state`.
    fn window_on(runs: Runs, writes: Writes, issuer: &str, state: State) -> (Applied, Vec<String>) {
        let calls: Calls = Rc::default();
        let mut runtime = FakeRuntime {
            how: runs,
            unit: Unit {
                name: "mgmt".into(),
                id: "1".into(),
                state,
                exit_code: 1,
                restarts: 3,
            },
            stopped_here: false,
            refused: false,
            calls: calls.clone(),
        };
        let mut store = FakeStore {
            rows: vec![ConnectorRow {
                id: "a".into(),
                typ: "oidc".into(),
                name: "a".into(),
                resource_version: String::new(),
                config: Some(format!(r#"{{"issuer":"{issuer}"}}"#).into_bytes()),
                storage: Storage::Blob,
            }],
            writes,
            dir: tempfile::tempdir().unwrap(),
            calls: calls.clone(),
        };
        let opts = ApplyOpts::default();
        let plan = plan();
        let w = Window {
            runtime: &mut runtime,
            store: &mut store,
            origin: Origin::default(),
            opts: &opts,
        };
        let work = Work::Plan {
            plan: &plan,
            command: "fix",
            saved: &[],
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let applied = rt.block_on(w.run(work));
        let calls = calls.borrow().clone();
        (applied, calls)
    }

    fn error(a: &Applied) -> String {
        a.verdict
            .as_ref()
            .and_then(|v| v.error.clone())
            .unwrap_or_default()
    }

    #[test]
    fn the_window_runs_its_steps_in_order() {
        let (a, calls) = window(Runs::default(), Writes::Commits);
        assert_eq!(
            calls,
            [
                "lock",
                "stop",
                "refresh",
                "backup",
                "write 1",
                "check_held",
                "start_and_watch"
            ]
        );
        let v = a.verdict.unwrap();
        assert_eq!((v.outcome, v.exit), (Outcome::Fixed, ExitCode::Done));
        assert!(a.backup.is_some() && a.sha256_after.as_deref() == Some("f1"));
        assert_eq!(a.state_after, Some(State::Running));
    }

    #[test]
    fn a_refused_stop_writes_nothing_and_says_it_goes_on() {
        let runs = Runs {
            refuses_stop: true,
            ..Runs::default()
        };
        let (a, calls) = window(runs, Writes::Commits);
        assert_eq!(calls, ["lock", "stop"], "no backup, no write, no start");
        let e = error(&a);
        assert!(e.contains("could not be stopped"), "{e}");
        assert!(e.contains("container mgmt goes on as it was"), "{e}");
        assert!(e.contains("the database is unchanged"), "{e}");
        assert!(e.contains("stop mgmt yourself"), "{e}");
        assert!(a.backup.is_none());
    }

    #[test]
    fn a_stop_that_does_not_hold_is_a_failure_that_names_the_written_store() {
        let runs = Runs {
            restarted_meanwhile: true,
            ..Runs::default()
        };
        let (a, calls) = window(runs, Writes::Commits);
        assert_eq!(
            calls,
            ["lock", "stop", "refresh", "backup", "write 1", "check_held"],
            "never started by ozrepair"
        );
        let e = error(&a);
        assert!(e.contains("was started while"), "{e}");
        assert!(e.contains("the database holds the new values"), "{e}");
        assert!(e.contains("ozrepair restore"), "{e}");
        assert_eq!(a.verdict.unwrap().outcome, Outcome::Failed);
    }

    #[test]
    fn a_write_that_fails_before_its_commit_leaves_the_store_unchanged_and_the_backup_named() {
        let (a, calls) = window(Runs::default(), Writes::FailsBeforeCommit);
        assert_eq!(calls, ["lock", "stop", "refresh", "backup", "write 1"]);
        let e = error(&a);
        assert!(e.contains("the write failed"), "{e}");
        assert!(e.contains("container mgmt is stopped"), "{e}");
        assert!(e.contains("the database is unchanged"), "{e}");
        assert!(e.contains("the backup is at"), "{e}");
        assert!(e.contains("fake start mgmt"), "{e}");
    }

    #[test]
    fn a_write_that_fails_after_its_commit_never_says_unchanged() {
        let (a, _) = window(Runs::default(), Writes::FailsAfterCommit);
        let e = error(&a);
        assert!(e.contains("was committed"), "{e}");
        assert!(!e.contains("unchanged"), "{e}");
        assert!(e.contains("does not read back as planned"), "{e}");
        assert!(e.contains("ozrepair restore"), "{e}");
    }

    #[test]
    fn a_start_that_loops_is_unverified_exit_4() {
        let runs = Runs {
            loops_after_start: true,
            ..Runs::default()
        };
        let (a, calls) = window(runs, Writes::Commits);
        assert_eq!(calls.last().map(String::as_str), Some("start_and_watch"));
        let v = a.verdict.unwrap();
        assert_eq!((v.outcome, v.exit), (Outcome::Unverified, ExitCode::NotUp));
        assert_eq!(a.state_after, Some(State::Restarting));
    }

    #[test]
    fn work_already_done_stops_nothing() {
        let (a, calls) = window_on(
            Runs::default(),
            Writes::Commits,
            "https://x/",
            State::Running,
        );
        assert_eq!(calls, ["lock"], "nothing stopped");
        assert!(a.already_stored);
        assert_eq!(a.verdict.unwrap().outcome, Outcome::Healthy);
    }

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
        assert!(done
            .next("fix", Some("mgmt"), Some("docker start mgmt"))
            .contains("ozrepair restore"));
        assert!(Done::default().state(None).contains("unchanged"));
    }
}
