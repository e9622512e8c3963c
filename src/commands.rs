//! The commands, each one walk down the operator's flow: locate -> reach -> read -> diagnose -> plan ->
//! (apply) -> report. Each step is one call that returns a value the next one takes; the walk keeps those
//! values in a [`Trail`], and the report is made from it at the end, whatever happened.

use crate::access::Database;
use crate::apply::{self, backup};
use crate::config;
use crate::dex;
use crate::docker::locate;
use crate::evidence;
use crate::plan::{self, Next, Seen};
use crate::report::{self, Report, Trail};
use crate::settings::Settings;
use crate::verdict::{UsageError, Verdict};
use anyhow::{anyhow, bail, Result};
use std::io::{BufRead, IsTerminal, Write};

/// The report of a walk, whether it finished or stopped at an error.
fn finish(command: &str, mut t: Trail, result: Result<Verdict>) -> Report {
    // The plan's connectors move into the report (10,000 of them are not copied).
    let (connectors, secrets) = t
        .plan
        .as_mut()
        .map(|p| {
            (
                std::mem::take(&mut p.connectors),
                std::mem::take(&mut p.secrets),
            )
        })
        .unwrap_or_default();
    let mut r = Report::make(command, &t, result.unwrap_or_else(|e| Verdict::failed(&e)));
    r.connectors = connectors;
    if t.plan.is_some() {
        r.secrets = secrets;
    }
    r
}

/// The report of a command refused before its walk began (flags that cannot go together).
pub fn refused(command: &str, e: UsageError) -> Report {
    finish(command, Trail::default(), Err(e.into()))
}

/// Asks on the terminal; refuses to guess when there is none.
fn confirm(s: &Settings, question: &str, diff: &str) -> Result<()> {
    if s.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "a change is due and stdin is not a terminal, so ozrepair cannot ask: {question} Re-run with --yes to apply it; nothing was changed"
        ))
        .into());
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{diff}{} [y/N] ", report::text::clean(question));
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("not confirmed; nothing was changed")
    }
}

/// The first three steps of every command: locate the deployment, reach its database, read the store.
/// Each value is kept in its place of the trail (given field by field, so the rest stays free).
async fn open<'t>(
    s: &Settings,
    located: &'t mut Option<locate::Located>,
    db: &'t mut Option<Database>,
    stored: &'t mut Option<dex::Stored>,
) -> Result<(&'t locate::Located, &'t mut Database, &'t dex::Stored)> {
    let located = located.insert(locate::locate(&s.target).await?);
    reach_and_read(located, db, stored).await
}

/// Steps two and three, for a deployment already located.
async fn reach_and_read<'t>(
    located: &'t locate::Located,
    db: &'t mut Option<Database>,
    stored: &'t mut Option<dex::Stored>,
) -> Result<(&'t locate::Located, &'t mut Database, &'t dex::Stored)> {
    let db = db.insert(Database::reach(located).await?);
    let stored = stored.insert(dex::read(db)?);
    Ok((located, db, stored))
}

/// `inspect` (read-only) and `fix`.
pub async fn inspect_or_fix(command: &str, s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = look_and_fix(s, &mut t).await;
    finish(command, t, result)
}

async fn look_and_fix(s: &Settings, t: &mut Trail) -> Result<Verdict> {
    let located = t.located.insert(locate::locate(&s.target).await?);
    if located.place == locate::DbPlace::Absent && !s.local_login {
        return management(s, t).await;
    }
    let (located, db, stored) = reach_and_read(located, &mut t.db, &mut t.stored).await?;
    let configs = t.configs.insert(config::read(located));
    let plan = if s.local_login {
        let running = located
            .container
            .as_ref()
            .is_some_and(|c| c.status == crate::docker::ContainerState::Running);
        t.plan
            .insert(plan::door::local_login(&stored.rows, configs, running, s))
    } else {
        let diagnosis = evidence::diagnose(located, stored, s).await?;
        t.plan.insert(plan::build(
            &Seen::of(located, stored, configs, &diagnosis),
            s,
        )?)
    };
    let next = plan.next(located, s);
    match next {
        Next::Judge => return Ok(plan.judge(located.container.as_ref(), &mut t.notes)),
        Next::Start => {}
        Next::Write => {
            let question = match &located.container {
                Some(c) => format!(
                    "Apply to {}? Container {} will be stopped, backed up, edited and started.",
                    db.path().display(),
                    c.name
                ),
                None => format!("Apply to {}?", db.path().display()),
            };
            confirm(s, &question, &report::prompt_diff(plan, s))?;
        }
    }
    verdict_of(
        t.applied
            .insert(apply::run(next, located, db, configs, plan, s).await),
    )
}

/// `inspect` and `fix` of the standalone setup (no Dex database): the management's own OIDC settings in
/// its management.json, checked against the provider's discovery document, corrected in the file.
async fn management(s: &Settings, t: &mut Trail) -> Result<Verdict> {
    let located = t
        .located
        .as_ref()
        .ok_or_else(|| anyhow!("the deployment was not located"))?;
    let configs = t.configs.insert(config::read(located));
    let asked = evidence::ask_management(configs, s);
    let plan = t
        .plan
        .insert(plan::management::build(configs, asked.as_ref(), s)?);
    match plan.next(located, s) {
        Next::Judge | Next::Start => {
            return Ok(plan.judge(located.container.as_ref(), &mut t.notes))
        }
        Next::Write => {
            let question = match &located.container {
                Some(c) => format!(
                    "Apply to the management's config? Container {} will be stopped, its config backed up and edited, and started.",
                    c.name
                ),
                None => "Apply to the management's config?".to_string(),
            };
            confirm(s, &question, &report::prompt_diff(plan, s))?;
        }
    }
    verdict_of(t.applied.insert(apply::files_only(located, plan, s).await))
}

fn verdict_of(applied: &apply::Applied) -> Result<Verdict> {
    applied
        .verdict
        .clone()
        .ok_or_else(|| anyhow!("the operation ended without a result"))
}

/// `backup`: a verified backup now. The store is read without a check or hash of its own: the backup
/// proves the integrity of the bytes it copies and hashes them on the way.
pub async fn backup(s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = async {
        let located = t.located.insert(locate::locate(&s.target).await?);
        let db = t.db.insert(Database::reach(located).await?);
        let stored = t.stored.insert(dex::read_rows(db)?);
        let root = apply::backup_root(s, db);
        let applied = t
            .applied
            .insert(apply::backup_now(located, db, &root).await);
        stored.sha256 = match &applied.backup {
            Some(set) => set.db_sha256(),
            None => crate::access::host::sha256_file(db.path()).unwrap_or_default(),
        };
        verdict_of(applied)
    }
    .await;
    finish("backup", t, result)
}

/// `backups`: the sets of this deployment's database.
pub async fn backups(s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = async {
        let (_, db, _) = open(s, &mut t.located, &mut t.db, &mut t.stored).await?;
        let root = apply::backup_root(s, db);
        t.backups = backup::list(&root)?;
        if t.backups.is_empty() {
            t.notes.push(format!("no backups in {}", root.display()));
        }
        Ok(Verdict::healthy())
    }
    .await;
    finish("backups", t, result)
}

/// `restore`: puts a backup back (the newest unless `--backup` names one).
pub async fn restore(s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = async {
        let (located, db, _) = open(s, &mut t.located, &mut t.db, &mut t.stored).await?;
        let root = apply::backup_root(s, db);
        let source = apply::source_of(db);
        let dir = match &s.backup {
            Some(p) => p.clone(),
            None => backup::newest_for(&root, &source)?.dir,
        };
        let set = backup::verify(&dir).map_err(|e| anyhow!("{e:#}; nothing was changed; choose another with --backup (`ozrepair backups` lists them)"))?;
        if !set.is_from(&source) && !s.allow_other_database {
            bail!(
                "{} was taken from {}, not from {source}; nothing was changed; choose a backup of this database, or pass --allow-other-database to put it back anyway",
                set.dir.display(),
                set.manifest.source
            );
        }
        confirm(
            s,
            &format!(
                "Put the backup {} back onto {}?",
                set.dir.display(),
                db.path().display()
            ),
            "",
        )?;
        verdict_of(t.applied.insert(apply::restore(located, db, &set, &root, s).await))
    }
    .await;
    finish("restore", t, result)
}

/// `password`: a local user's new password (see [`crate::dex::password`] for what it mirrors). The
/// password and the hashes (the stored one and the new one) join the report's scrub, whatever happens.
pub async fn password(s: &Settings) -> Report {
    let mut t = Trail::default();
    let mut secrets = Vec::new();
    let result = set_password(s, &mut t, &mut secrets).await;
    let mut r = finish("password", t, result);
    r.secrets.extend(secrets);
    r
}

async fn set_password(s: &Settings, t: &mut Trail, secrets: &mut Vec<String>) -> Result<Verdict> {
    use crate::dex::password::{self as pw, Found};
    use crate::report::PasswordChange;
    let set = s
        .password
        .as_ref()
        .ok_or_else(|| anyhow!("no password was read; nothing was changed"))?;
    secrets.push(set.new.expose().to_string());
    let (located, db, _) = open(s, &mut t.located, &mut t.db, &mut t.stored).await?;
    let user = match pw::find(&db.read()?.conn, &set.email)? {
        Found::User(u) => u,
        Found::Missing { users: 0 } => bail!(
            "{} holds no local users (its password table is empty), so there is no {} to set a password for; nothing was changed; create the user in the dashboard, or check that this is the deployment's database",
            db.shown(),
            set.email
        ),
        Found::Missing { users } => bail!(
            "no local user has the email {} ({} holds {users} local user(s), looked up lowercased as Dex does); nothing was changed; check the address",
            set.email,
            db.shown()
        ),
    };
    secrets.push(String::from_utf8_lossy(&user.hash).into_owned());
    let change = t.password.insert(PasswordChange {
        email: user.email.clone(),
        user_id: user.user_id.clone(),
        sessions_removed: user.sessions,
        applied: false,
    });
    if pw::dex_accepts(&user.hash, set.new.expose()) {
        t.notes.push(format!(
            "{} already has this password; nothing was changed",
            user.email
        ));
        return Ok(Verdict::healthy());
    }
    t.notes.push(
        "refresh tokens and offline sessions are left as they are, as NetBird's `admin user change-password` leaves them (Dex does not check the password when it refreshes)".into(),
    );
    if s.dry_run {
        return Ok(Verdict::pending());
    }
    let question = match &located.container {
        Some(c) => format!(
            "Set the password of {} in {}? Container {} will be stopped, backed up, written and started.",
            user.email,
            db.path().display(),
            c.name
        ),
        None => format!("Set the password of {} in {}?", user.email, db.path().display()),
    };
    confirm(s, &question, "")?;
    let hash = pw::hash(&set.new)?;
    secrets.push(String::from_utf8_lossy(&hash).into_owned());
    let door = apply::door::set_password(located, db, &user, &set.new, &hash, s).await;
    if let Some(n) = door.sessions_removed {
        change.sessions_removed = n;
        change.applied = true;
    }
    if door.applied.already_stored {
        change.sessions_removed = 0;
    }
    verdict_of(t.applied.insert(door.applied))
}
