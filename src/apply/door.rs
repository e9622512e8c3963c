//! `ozrepair password`: a local user's new password in one stop window, the same window as `fix` (see
//! [`super::window`]): lock, stop and prove it stopped, the set taken again, a verified backup before the
//! first write, one transaction ([`crate::dex::password::write`]: the hash replaced, guarded by the row as
//! it was read, and the user's local sessions deleted), `integrity_check` and the read-back, then start and
//! watch. The hash is made before the window opens, so the container is down only for the copy and the
//! write. No message here carries the password or a hash.

use super::{backup_root, fault, take_set, window, Applied, Done};
use crate::access::{host, Database};
use crate::dex::password::{self, Found, LocalUser, NewPassword};
use crate::dex::store::WriteError;
use crate::docker::locate::Located;
use crate::progress::say;
use crate::settings::Settings;
use crate::verdict::Verdict;
use anyhow::{anyhow, Result};
use window::Window;

/// What `password` did: the window's result, and how many sessions the write removed.
pub struct Door {
    pub applied: Applied,
    /// None when nothing was written.
    pub sessions_removed: Option<usize>,
}

/// The user as the database holds them now (the lookup that the report's "not found" also uses).
fn user_now(db: &Database, email: &str) -> Result<LocalUser> {
    match password::find(&db.read()?.conn, email)? {
        Found::User(u) => Ok(u),
        Found::Missing { .. } => Err(anyhow!(
            "the password row of {email} is gone since it was read"
        )),
    }
}

/// Sets `new` (already hashed as `hash`) as the password of `user` in one stop window.
pub async fn set_password(
    located: &Located,
    db: &mut Database,
    user: &LocalUser,
    new: &NewPassword,
    hash: &[u8],
    s: &Settings,
) -> Door {
    let mut door = Door {
        applied: Applied::default(),
        sessions_removed: None,
    };
    let mut done = Done::default();
    match steps(located, db, user, new, hash, s, &mut door, &mut done).await {
        Ok(v) => door.applied.verdict = Some(v),
        Err(e) => {
            let name = located.container.as_ref().map(|c| c.name.as_str());
            let e = anyhow!("{e:#}; {}; {}", done.state(name), next(&done, name));
            door.applied = std::mem::take(&mut door.applied).failed(e);
        }
    }
    door
}

/// What to do after a failure, in `password`'s words ([`Done::next`] says `fix`).
fn next(done: &Done, container: Option<&str>) -> String {
    match (&done.backup, done.written || done.unverified, container) {
        (Some(_), true, _) => "run `ozrepair restore` to put the old database back, or `ozrepair password` again to finish".into(),
        (_, false, Some(c)) if done.stop_refused => {
            format!("stop {c} yourself (and keep its restart policy from starting it), then run `ozrepair password` again")
        }
        (_, false, Some(c)) if done.stopped && !done.started => {
            format!("fix the cause above and run `ozrepair password` again, or `docker start {c}`")
        }
        _ => "fix the cause above and run `ozrepair password` again".into(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn steps(
    located: &Located,
    db: &mut Database,
    user: &LocalUser,
    new: &NewPassword,
    hash: &[u8],
    s: &Settings,
    door: &mut Door,
    done: &mut Done,
) -> Result<Verdict> {
    // 0. One writer at a time; the row must still be the one that was read.
    let mut w = Window::open(located, db)?;
    let now = user_now(db, &user.email)?;
    if password::dex_accepts(&now.hash, new.expose()) {
        door.applied.notes.push(format!(
            "the password of {} is already the new one (another run set it); nothing was changed",
            user.email
        ));
        door.applied.already_stored = true;
        return Ok(Verdict::healthy());
    }

    // 1. Stop, and prove it stopped.
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
    let (set, _) = take_set(located, db, &root, None, &[], &mut door.applied.notes)?;
    say(format!("backup verified: {}", set.dir.display()));
    done.backup = Some(set.dir.clone());
    door.applied.backup = Some(set);
    fault::point("after-backup");

    // 3. The row as it is now (the container may have written it before it stopped) guards the write.
    let now = user_now(db, &user.email)?;
    say(format!(
        "setting the password of {} and removing their local sessions in {}",
        user.email,
        db.path().display()
    ));
    match password::write(db.path(), &now, hash, new) {
        Ok(n) => door.sessions_removed = Some(n),
        Err(e @ WriteError::AfterCommit(_)) => {
            done.unverified = true;
            return Err(anyhow!(e));
        }
        Err(e) => return Err(anyhow!(e).context("the write failed")),
    }
    if let Some(e) = &located.engine {
        db.write_back(e).await?;
    }
    done.written = true;
    w.check_held().await?;
    fault::point("after-write");
    door.applied.sha256_after = Some(host::sha256_file(db.path())?);

    // 4. Start and watch.
    let Some((e, c)) = located.managed() else {
        return Ok(Verdict::fixed());
    };
    if !s.restart {
        door.applied.state_after = w.state_now().await;
        door.applied.notes.push(format!(
            "--no-restart: {} is left stopped; `docker start {}` when ready",
            c.name, c.name
        ));
        return Ok(Verdict::fixed());
    }
    let shown = door
        .applied
        .backup
        .as_ref()
        .map(|b| b.dir.display().to_string());
    let started = window::start_and_watch(e, c, s.wait, shown.as_deref()).await?;
    done.started = true;
    door.applied.state_after = started.state_after;
    door.applied.notes.extend(started.notes);
    Ok(started.verdict)
}
