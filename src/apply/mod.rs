//! Apply: every change happens inside one stop window ([`window`]): the store's lock, the IdP stopped and
//! proven stopped, a verified backup before the first write, the one write (config files first, by
//! rename: [`files`]; then the store's one transaction), the result verified, and the IdP started and
//! watched. Each operation returns an [`Applied`]; when it fails, the verdict's error says exactly what
//! state everything was left in and what to do next. Nothing here knows which runtime or store it drives.

pub mod files;
pub mod window;

use crate::backups::{BackupSet, Origin};
use crate::dex::password::{LocalUser, NewPassword};
use crate::plan::{Next, Plan};
use crate::runtime::{Located, State};
use crate::settings::ApplyOpts;
use crate::store::Store;
use crate::verdict::Verdict;
use std::path::PathBuf;
use window::{Window, Work};

/// What an operation did, for the report.
#[derive(Default)]
pub struct Applied {
    /// The backup taken before the write (fix, backup), or the set put back (restore).
    pub backup: Option<BackupSet>,
    pub sha256_after: Option<String>,
    pub state_after: Option<State>,
    pub notes: Vec<String>,
    /// Every planned value was already stored (another run applied it): nothing was written.
    pub already_stored: bool,
    /// `password`: the sessions the write removed (None when nothing was written).
    pub sessions_removed: Option<usize>,
    pub verdict: Option<Verdict>,
}

/// A window over `located`'s runtime and `store`.
fn window<'w>(
    located: &'w mut Located,
    store: &'w mut dyn Store,
    opts: &'w ApplyOpts,
) -> Window<'w> {
    let origin = Origin {
        host: located.runtime.host().map(str::to_string),
        container: located.runtime.unit().map(|u| u.name.clone()),
        volume: located.volume.clone(),
        ..Origin::default()
    };
    Window {
        runtime: &mut *located.runtime,
        store,
        origin,
        opts,
    }
}

/// `fix` and `local-login`: what the plan says is next ([`Next::Write`] or [`Next::Start`]; judging
/// changes nothing here). `saved`: the config files to save with the store in the backup.
pub async fn run(
    next: Next,
    located: &mut Located,
    store: &mut dyn Store,
    plan: &Plan,
    saved: &[PathBuf],
    opts: &ApplyOpts,
    command: &'static str,
) -> Applied {
    match next {
        Next::Write => {
            let work = Work::Plan {
                plan,
                command,
                saved,
            };
            window(located, store, opts).run(work).await
        }
        Next::Start => window::start_only(&*located.runtime, opts).await,
        Next::Judge => Applied::default(),
    }
}

/// The standalone setup's repair (no Dex store): the plan's config-file edits in the same stop window,
/// the lock beside the first file to change, the backup a set of those files.
pub async fn files_only(located: &mut Located, plan: &Plan, opts: &ApplyOpts) -> Applied {
    let pending = match files::compute(plan) {
        Ok(p) => p,
        Err(e) => {
            return Applied {
                verdict: Some(Verdict::failed(&e)),
                ..Applied::default()
            }
        }
    };
    let Some(first) = pending.first().map(|w| w.path.clone()) else {
        return Applied {
            notes: vec!["the config files already hold every planned value (another run applied it); nothing was changed".into()],
            already_stored: true,
            verdict: Some(Verdict::healthy()),
            ..Applied::default()
        };
    };
    let saved: Vec<PathBuf> = pending.into_iter().map(|w| w.path).collect();
    let mut store = crate::store::none::ConfigOnly::beside(&first);
    let work = Work::Plan {
        plan,
        command: "fix",
        saved: &saved,
    };
    window(located, &mut store, opts).run(work).await
}

/// `backup`: a verified backup now, with the IdP stopped around it and started again.
pub async fn backup(located: &mut Located, store: &mut dyn Store, opts: &ApplyOpts) -> Applied {
    window(located, store, opts).run(Work::Backup).await
}

/// `restore`: puts a verified set back in one stop window (see [`Work::Restore`]). The IdP is started
/// again (and watched) when this run stopped it.
pub async fn restore(
    located: &mut Located,
    store: &mut dyn Store,
    set: &BackupSet,
    put_back: &[(PathBuf, crate::backups::ConfigEntry)],
    opts: &ApplyOpts,
) -> Applied {
    window(located, store, opts)
        .run(Work::Restore { set, put_back })
        .await
}

/// `password`: `new` (already hashed as `hash`) as the password of `user`, in one stop window.
pub async fn set_password(
    located: &mut Located,
    store: &mut dyn Store,
    user: &LocalUser,
    new: &NewPassword,
    hash: &[u8],
    opts: &ApplyOpts,
) -> Applied {
    window(located, store, opts)
        .run(Work::Password { user, hash, new })
        .await
}
