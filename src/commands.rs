//! The commands, each one walk down the operator's flow: locate (what runs the IdP) -> reach (its store)
//! -> read (rows, config files) -> diagnose -> plan -> (apply) -> report. Each step is one call that
//! returns a value the next one takes; the walk keeps those values in a [`Trail`], and the report is made
//! from it at the end, whatever happened.

use crate::apply;
use crate::cli::{Cli, Command};
use crate::config;
use crate::evidence;
use crate::plan::{self, Next, Seen};
use crate::report::{self, Report, Trail};
use crate::runtime;
use crate::settings::Settings;
use crate::store;
use crate::verdict::{Declined, UsageError, Verdict};
use anyhow::{anyhow, bail, Result};
use std::io::{BufRead, IsTerminal, Write};

/// Runs one single-host command of `cli` and returns its report (fleet, completions and man are run by
/// `main`).
pub async fn run(cli: &Cli) -> (Settings, Report) {
    let (settings, refused) = Settings::from_cli(&cli.global, &cli.command);
    let name = cli.command.name();
    if let Some(e) = refused {
        return (settings, refused_report(name, e));
    }
    let report = match &cli.command {
        Command::Inspect(_) => inspect_or_fix("inspect", &settings).await,
        Command::Fix(_) => inspect_or_fix("fix", &settings).await,
        Command::LocalLogin(_) => inspect_or_fix("local-login", &settings).await,
        Command::Backup(_) => backup(&settings).await,
        Command::Backups(_) => backups(&settings).await,
        Command::Password(_) => password(&settings).await,
        Command::Secret(_) => secret(&settings).await,
        Command::Domain(_) => domain(&settings).await,
        Command::Restore(_) => restore(&settings).await,
        Command::Fleet(_) | Command::Completions { .. } | Command::Man(_) => {
            refused_report(name, UsageError("not a single-host command".into()))
        }
    };
    (settings, report)
}

/// The report of a command refused before its walk began (flags that cannot go together).
pub fn refused_report(command: &str, e: UsageError) -> Report {
    Report::make(command, Trail::default(), Verdict::failed(&e.into()))
}

/// Asks on the terminal; refuses to guess when there is none (a usage error, exit 2, nothing changed).
fn confirm(s: &Settings, question: &str, diff: &str) -> Result<()> {
    if s.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "stdin is not a terminal, so ozrepair cannot ask: {question} Nothing was changed; re-run with --yes to go ahead, or with --dry-run to see what it would do"
        ))
        .into());
    }
    let mut err = std::io::stderr();
    let asked = report::text::fit(
        &report::text::clean(question),
        crate::progress::columns(2).map(|w| w.saturating_sub(7)),
    );
    let _ = write!(err, "{diff}{} [y/N] ", asked.trim_end());
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Declined("not confirmed; nothing was changed".into()).into())
    }
}

/// What happens to what runs the IdP around a stop window (`unit`: it, when something runs it;
/// `during`: what is done while it is stopped), as the question and the dry run say it.
fn around(unit: Option<&runtime::Unit>, during: &str) -> String {
    match unit {
        Some(u)
            if matches!(
                u.state,
                runtime::State::Exited | runtime::State::Created | runtime::State::Dead
            ) =>
        {
            format!(
                "{} {} is not running ({}): it stays stopped while {during}.",
                noun(&u.name),
                u.name,
                u.state
            )
        }
        Some(u) => format!(
            "{} {} ({}) will be stopped while {during}, then started again.",
            noun(&u.name),
            u.name,
            u.state
        ),
        None => "Nothing is stopped (no container or unit runs it).".to_string(),
    }
}

/// The question before a stop window: what will be stopped and changed (`unit`: what runs the IdP).
fn question(unit: Option<&runtime::Unit>, what: &str, to: &str, steps: &str) -> String {
    match unit.map(|u| &u.name) {
        Some(c) => format!(
            "{what} {to}? {} {c} will be stopped, {steps} and started.",
            noun(c)
        ),
        None => format!("{what} {to}?"),
    }
}

/// What the prompt calls the thing it stops: a systemd unit's name has its type's suffix.
fn noun(name: &str) -> &'static str {
    if name.ends_with(".service") {
        "Unit"
    } else {
        "Container"
    }
}

/// `inspect` (read-only), `fix` and `local-login`.
async fn inspect_or_fix(command: &'static str, s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = async {
        let located = t
            .located
            .insert(runtime::locate(&s.target, &store::probe).await?);
        tracing::debug!("located");
        if located.place == runtime::StorePlace::Absent && !s.local_login {
            management(s, &mut t).await
        } else {
            look_and_fix(command, s, &mut t).await
        }
    }
    .await;
    Report::make(command, t, result.unwrap_or_else(|e| Verdict::failed(&e)))
}

/// The walk on a deployment with a Dex store: reach, read, diagnose, plan, apply.
async fn look_and_fix(command: &'static str, s: &Settings, t: &mut Trail) -> Result<Verdict> {
    let located = t
        .located
        .as_ref()
        .ok_or_else(|| anyhow!("the deployment was not located"))?;
    let store = t.store.insert(store::reach(located, s.apply.live()).await?);
    let stored = t.stored.insert(read(&**store)?);
    let configs = t.configs.insert(config::read(&located.configs));
    tracing::debug!(connectors = stored.rows.len(), "read");
    let plan = if s.local_login {
        t.plan.insert(plan::door::local_login(
            &stored.rows,
            configs,
            located.logs.as_ref(),
            s.output.show_secrets,
        ))
    } else {
        let diagnosis = evidence::diagnose(
            &*located.runtime,
            located.logs.as_ref(),
            stored,
            evidence::discover::Options::of(&s.plan.discovery).as_ref(),
            s.plan.connector.as_deref(),
        )
        .await?;
        tracing::debug!("diagnosed");
        t.plan.insert(plan::build(
            &Seen::of(stored, configs, &diagnosis),
            &s.plan,
            s.output.show_secrets,
        )?)
    };
    let unit = located.runtime.unit();
    let next = plan.next(unit, &s.apply);
    match next {
        Next::Judge => return Ok(plan.judge(Some(&*located.runtime), &mut t.notes)),
        Next::Start => {}
        Next::Write => {
            let q = question(unit, "Apply to", &store.shown(), "backed up, edited");
            let diff = report::prompt_diff(plan, s.output.show_secrets);
            confirm(s, &q, &diff)?;
        }
    }
    let (Some(located), Some(store), Some(configs), Some(plan)) =
        (&mut t.located, &mut t.store, &t.configs, &t.plan)
    else {
        bail!("the deployment was not read");
    };
    let saved: Vec<_> = configs.files.iter().map(|f| f.path.clone()).collect();
    let applied = apply::run(next, located, &mut **store, plan, &saved, &s.apply, command).await;
    verdict_of(t.applied.insert(applied)).map(|v| with_held_elsewhere(v, plan))
}

/// `inspect` and `fix` of the standalone setup (no Dex store): the management's own OIDC settings in
/// its management.json, checked against the provider's discovery document, corrected in the file.
async fn management(s: &Settings, t: &mut Trail) -> Result<Verdict> {
    let located = t
        .located
        .as_ref()
        .ok_or_else(|| anyhow!("the deployment was not located"))?;
    let configs = t.configs.insert(config::read(&located.configs));
    let asked = evidence::ask_management(
        configs,
        s.plan.issuer.is_some(),
        evidence::discover::Options::of(&s.plan.discovery).as_ref(),
    );
    let plan = t
        .plan
        .insert(plan::management::build(configs, asked.as_ref(), &s.plan)?);
    let unit = located.runtime.unit();
    match plan.next(unit, &s.apply) {
        Next::Judge | Next::Start => return Ok(plan.judge(Some(&*located.runtime), &mut t.notes)),
        Next::Write => {
            let q = match unit {
                Some(c) => format!(
                    "Apply to the management's config? {} {} will be stopped, its config backed up and edited, and started.",
                    noun(&c.name),
                    c.name
                ),
                None => "Apply to the management's config?".to_string(),
            };
            confirm(s, &q, &report::prompt_diff(plan, s.output.show_secrets))?;
        }
    }
    let (Some(located), Some(plan)) = (&mut t.located, &t.plan) else {
        bail!("the deployment was not read");
    };
    let applied = apply::files_only(located, plan, &s.apply).await;
    verdict_of(t.applied.insert(applied)).map(|v| with_held_elsewhere(v, plan))
}

fn verdict_of(applied: &apply::Applied) -> Result<Verdict> {
    applied
        .verdict
        .clone()
        .ok_or_else(|| anyhow!("the operation ended without a result"))
}

/// A change that was applied while a place ozrepair does not change still holds the old value: never
/// `fixed`, but `action_needed`, naming each place and what to do.
fn with_held_elsewhere(v: Verdict, plan: &plan::Plan) -> Verdict {
    if plan.held_elsewhere.is_empty() || v.outcome != crate::verdict::Outcome::Fixed {
        return v;
    }
    Verdict::new(
        crate::verdict::Outcome::ActionNeeded,
        crate::verdict::ExitCode::ActionNeeded,
    )
    .with_error(format!(
        "the change was written and verified, but {}",
        plan.held_elsewhere.join("; and ")
    ))
}

/// `backup`: a verified backup now, after the question (what is stopped, where the set goes); with
/// `--dry-run` only what it would do. The store is read without a check or hash of its own: the backup
/// hashes the bytes it copies on the way (and with `--check` proves the database whole as it copies).
async fn backup(s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = async {
        let located = t
            .located
            .insert(runtime::locate(&s.target, &store::probe).await?);
        let store = t.store.insert(store::reach(located, s.apply.live()).await?);
        t.stored = Some(crate::progress::during(
            format!("reading {}", store.shown()),
            || store.read_rows(),
        )?);
        let sets = backup_sets(s, &**store);
        let unit = located.runtime.unit();
        let plan = format!(
            "Back up {} into a new set in {}. {}",
            store.shown(),
            sets.path().display(),
            around(unit, "its database is copied and verified")
        );
        if s.apply.dry_run {
            t.notes.push(format!("--dry-run, nothing was done: {plan}"));
            return Ok(Verdict::pending());
        }
        confirm(s, &format!("{plan} Go ahead?"), "")?;
        let (Some(located), Some(store), Some(stored)) =
            (&mut t.located, &mut t.store, &mut t.stored)
        else {
            bail!("the deployment was not read");
        };
        let applied = t
            .applied
            .insert(apply::backup(located, &mut **store, &s.apply).await);
        stored.sha256 = match &applied.backup {
            Some(set) => set.db_sha256(),
            None => store.fingerprint().ok().flatten().unwrap_or_default(),
        };
        // What the set proves is said: its bytes always; the database whole only when asked.
        if applied.backup.is_some()
            && store.kind() == "sqlite"
            && s.apply.check == crate::backups::Check::Bytes
        {
            t.notes.push(
                "the set holds the database's exact bytes (hashed while copied, fsynced); the database itself was not checked for damage: `backup --check` adds SQLite's integrity_check".into(),
            );
        }
        verdict_of(applied)
    }
    .await;
    Report::make("backup", t, result.unwrap_or_else(|e| Verdict::failed(&e)))
}

/// The store's schema and rows, checked (and hashed): a line every half second while it takes.
fn read(store: &dyn store::Store) -> Result<crate::dex::Stored> {
    crate::progress::waiting(
        format!("reading and checking {}", store.shown()),
        store.holders(),
        || store.read(),
    )
}

/// The first three steps: locate, reach, read.
macro_rules! open {
    ($t:expr, $s:expr) => {{
        let located = $t
            .located
            .insert(runtime::locate(&$s.target, &store::probe).await?);
        let store = $t
            .store
            .insert(store::reach(located, $s.apply.live()).await?);
        let stored = $t.stored.insert(read(&**store)?);
        (located, store, stored)
    }};
}

/// `backups`: the sets of this deployment's store (with `--all`, every set in the directory).
async fn backups(s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = async {
        let (_, store, _) = open!(t, s);
        let sets = backup_sets(s, &**store);
        let source = store.source();
        let all = sets.list()?;
        let others = all.iter().filter(|b| !b.is_from(&source)).count();
        t.backups = if s.all_sets {
            all
        } else {
            all.into_iter().filter(|b| b.is_from(&source)).collect()
        };
        if t.backups.is_empty() {
            t.notes.push(format!(
                "no backups of {} in {}",
                store.shown(),
                sets.path().display()
            ));
        }
        if others > 0 && !s.all_sets {
            t.notes.push(format!(
                "{others} set(s) of other databases in {} are not listed (restore does not put them back); --all lists them",
                sets.path().display()
            ));
        }
        Ok(Verdict::listed())
    }
    .await;
    Report::make("backups", t, result.unwrap_or_else(|e| Verdict::failed(&e)))
}

/// Where this run's backups are: `--backup-dir`, else the store's default.
fn backup_sets(s: &Settings, store: &dyn store::Store) -> crate::backups::Sets {
    match s.apply.backup_dir() {
        Some(d) => crate::backups::Sets::at(d),
        None => store.default_backups(),
    }
}

/// `restore`: puts a backup back (the newest unless `--backup` names one; the set of an interrupted
/// restore first). Only to destinations ozrepair derives from the deployment: the store it located, and
/// the config files it reads there; a set's config files only when this host's key signs it.
async fn restore(s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = async {
        let (located, store, _) = open!(t, s);
        let sets = backup_sets(s, &**store);
        let source = store.source();
        let journal = crate::backups::Journal::load(&sets)?;
        let dir = match (&s.restore.backup, &journal) {
            (Some(p), _) => p.clone(),
            (None, Some(j)) => {
                t.notes.push(format!(
                    "a restore of {} was interrupted; it is finished now",
                    j.set.display()
                ));
                j.set.clone()
            }
            (None, None) => sets.newest_for(&source)?.dir,
        };
        let set = crate::backups::open(&dir)
            .and_then(|set| store.verify_set(&set).map(|_| set))
            .map_err(|e| anyhow!("{e:#}; nothing was changed; choose another with --backup (`ozrepair backups` lists them)"))?;
        if !set.is_from(&source) && !s.restore.allow_other_database {
            bail!(
                "{} was taken from {}, not from {source}; nothing was changed; choose a backup of this database, or pass --allow-other-database to put it back anyway",
                set.dir.display(),
                set.manifest.source
            );
        }
        let configs = t.configs.insert(config::read(&located.configs));
        let put_back = destinations(&set, configs, &mut t.notes)?;
        let during = "the current database is saved as a -pre-restore set and the backup is put in its place".to_string();
        let files = if put_back.is_empty() {
            String::new()
        } else {
            format!(
                " Config files put back with it: {}.",
                put_back
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let plan = format!(
            "Put the backup {} (taken {}) back onto {}. {}{files}",
            set.dir.display(),
            set.manifest.created,
            store.shown(),
            around(located.runtime.unit(), &during)
        );
        if s.apply.dry_run {
            t.notes.push(format!("--dry-run, nothing was done: {plan}"));
            return Ok(Verdict::pending());
        }
        confirm(s, &format!("{plan} Go ahead?"), "")?;
        let (Some(located), Some(store)) = (&mut t.located, &mut t.store) else {
            bail!("the deployment was not read");
        };
        let applied = apply::restore(located, &mut **store, &set, &put_back, &s.apply).await;
        verdict_of(t.applied.insert(applied))
    }
    .await;
    Report::make("restore", t, result.unwrap_or_else(|e| Verdict::failed(&e)))
}

/// Where each of a set's config files goes back: one of the deployment's own config files (the manifest's
/// path only names which one; a set that names any other file is refused), and only from a set this
/// host's key signs (a copy the IdP's container could have written or edited puts no bytes into a host
/// file: each is named instead).
fn destinations(
    set: &crate::backups::BackupSet,
    configs: &config::Configs,
    notes: &mut Vec<String>,
) -> Result<Vec<(std::path::PathBuf, crate::backups::ConfigEntry)>> {
    let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let ours: Vec<std::path::PathBuf> = configs.files.iter().map(|f| f.path.clone()).collect();
    let mut out = Vec::new();
    for c in &set.manifest.configs {
        let named = std::path::PathBuf::from(&c.source);
        let Some(dest) = ours.iter().find(|p| real(p) == real(&named)) else {
            bail!(
                "{} names {} as a config file of the deployment, and it is none of the config files ozrepair finds there ({}); nothing was changed; ozrepair puts files back only where it finds them itself",
                set.dir.display(),
                named.display(),
                if ours.is_empty() {
                    "none".to_string()
                } else {
                    ours.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        };
        out.push((dest.clone(), c.clone()));
    }
    if !out.is_empty() && !set.manifest.signed_here() {
        for (dest, c) in out.drain(..) {
            notes.push(format!(
                "{} was not put back: the set is not signed with this host's key (an older set, or a copy the IdP's container could have written), so its copy {} is not trusted; compare it with the file and copy it by hand if you trust it",
                dest.display(),
                set.dir.join(&c.file.name).display()
            ));
        }
    }
    Ok(out)
}

/// `password`: a local user's new password (see [`crate::dex::password`] for what it mirrors). The
/// password and the hashes (the stored one and the new one) join the report's scrub, whatever happens.
async fn password(s: &Settings) -> Report {
    let mut t = Trail::default();
    let mut secrets = Vec::new();
    let result = set_password(s, &mut t, &mut secrets).await;
    let mut r = Report::make(
        "password",
        t,
        result.unwrap_or_else(|e| Verdict::failed(&e)),
    );
    r.secrets.extend(secrets);
    r
}

async fn set_password(s: &Settings, t: &mut Trail, secrets: &mut Vec<String>) -> Result<Verdict> {
    use crate::dex::password as pw;
    use crate::report::PasswordChange;
    use crate::store::Found;
    let set = s
        .password
        .as_ref()
        .ok_or_else(|| anyhow!("no password was read; nothing was changed"))?;
    secrets.push(set.new.expose().to_string());
    let (_, store, _) = open!(t, s);
    let user = match store.find_user(&set.email)? {
        Found::User(u) => u,
        Found::Missing { users: 0 } => bail!(
            "{} holds no local users (its password table is empty), so there is no {} to set a password for; nothing was changed; create the user in the dashboard, or check that this is the deployment's database",
            store.shown(),
            set.email
        ),
        Found::Missing { users } => bail!(
            "no local user has the email {} ({} holds {users} local user(s), looked up lowercased as Dex does); nothing was changed; check the address",
            set.email,
            store.shown()
        ),
    };
    secrets.push(String::from_utf8_lossy(&user.hash).into_owned());
    t.password = Some(PasswordChange {
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
    if s.apply.dry_run {
        return Ok(Verdict::pending());
    }
    let unit = t.located.as_ref().and_then(|l| l.runtime.unit());
    let q = question(
        unit,
        &format!("Set the password of {} in", user.email),
        &store.shown(),
        "backed up, written",
    );
    confirm(s, &q, "")?;
    let hash = pw::hash(&set.new)?;
    secrets.push(String::from_utf8_lossy(&hash).into_owned());
    let (Some(located), Some(store)) = (&mut t.located, &mut t.store) else {
        bail!("the deployment was not read");
    };
    let applied =
        apply::set_password(located, &mut **store, &user, &set.new, &hash, &s.apply).await;
    if let Some(change) = &mut t.password {
        if let Some(n) = applied.sessions_removed {
            change.sessions_removed = n;
            change.applied = true;
        }
        if applied.already_stored {
            change.sessions_removed = 0;
        }
    }
    verdict_of(t.applied.insert(applied))
}

/// `secret`: a connector's secret (or the management's IdP-manager credential) set everywhere the
/// deployment keeps it, in the stop window; with `--verify` its provider is asked first, and a secret it
/// refuses is never written. The new secret and every stored one join the report's scrub, whatever
/// happens; the report shows only their lengths.
/// The write of a `secret` or `domain` plan in one stop window: rows and config files through the store
/// (its backup set holds the config files too), or the config files alone where the deployment has no
/// Dex database (`store` None).
async fn write_in_window(
    located: &mut runtime::Located,
    store: Option<&mut Box<dyn store::Store>>,
    configs: Option<&config::Configs>,
    plan: &plan::Plan,
    s: &Settings,
    command: &'static str,
) -> apply::Applied {
    match store {
        Some(store) => {
            let saved: Vec<_> = configs
                .iter()
                .flat_map(|c| c.files.iter().map(|f| f.path.clone()))
                .collect();
            apply::run(
                Next::Write,
                located,
                &mut **store,
                plan,
                &saved,
                &s.apply,
                command,
            )
            .await
        }
        None => apply::files_only(located, plan, &s.apply).await,
    }
}

async fn secret(s: &Settings) -> Report {
    let mut t = Trail::default();
    let mut extra = Vec::new();
    let result = set_secret(s, &mut t, &mut extra).await;
    let mut r = Report::make("secret", t, result.unwrap_or_else(|e| Verdict::failed(&e)));
    if let Some(set) = &s.secret {
        r.secrets.push(set.new.expose().to_string());
    }
    r.secrets.extend(extra);
    after_secret(&mut r);
    r
}

/// The changed connector's status after a `secret` run: ok only when its provider took the new secret;
/// written but not proven: unknown, saying why.
fn after_secret(r: &mut Report) {
    use crate::verdict::{ExitCode, Outcome};
    let Some(sc) = &r.secret_change else { return };
    let Some(v) = r
        .connectors
        .iter_mut()
        .find(|c| c.id == sc.connector && c.status_before.is_some())
    else {
        return;
    };
    match (r.result, sc.verified) {
        (Outcome::Fixed, _) => {
            v.status = plan::Status::Ok;
            v.checked_by = Some(plan::secret::BY_PROVIDER);
            v.problem = None;
        }
        (Outcome::Unverified, "not_asked") if r.exit_code == ExitCode::Done => {
            v.status = plan::Status::Unknown;
            v.checked_by = None;
            v.problem = Some(
                "the new secret was written and read back; its provider was not asked (--verify asks it)"
                    .into(),
            );
        }
        (Outcome::Unverified, "inconclusive" | "cannot_verify") => {
            v.status = plan::Status::Unknown;
            v.checked_by = None;
            v.problem = Some(format!(
                "the new secret was written and read back; its provider did not prove it ({})",
                sc.verified
            ));
        }
        _ => {}
    }
}

async fn set_secret(s: &Settings, t: &mut Trail, secrets: &mut Vec<String>) -> Result<Verdict> {
    use crate::evidence::token::Answer;
    use crate::report::SecretChange;
    use crate::verdict::{ExitCode, Outcome};
    let set = s
        .secret
        .as_ref()
        .ok_or_else(|| anyhow!("no secret was read; nothing was changed"))?;
    let evidence = format!("--secret-file {}", set.source);
    let located = t
        .located
        .insert(runtime::locate(&s.target, &store::probe).await?);
    let standalone = located.place == runtime::StorePlace::Absent;
    let configs = t.configs.insert(config::read(&located.configs));
    let sp = if set.connector == config::MANAGEMENT {
        plan::secret::management(configs, &set.new, &evidence)?
    } else if standalone {
        bail!(
            "this deployment has no Dex database (the standalone setup, an external IdP), so it has no connector {:?}; its one secret ozrepair sets is the management's IdP-manager credential: `--connector management`; nothing was changed",
            set.connector
        );
    } else {
        let store = t.store.insert(store::reach(located, s.apply.live()).await?);
        let stored = t.stored.insert(store.read()?);
        let diagnosis = evidence::diagnose(
            &*located.runtime,
            located.logs.as_ref(),
            stored,
            None,
            Some(&set.connector),
        )
        .await?;
        plan::secret::connector(
            &Seen::of(stored, configs, &diagnosis),
            &set.connector,
            &set.new,
            &evidence,
            s.output.show_secrets,
        )?
    };
    secrets.extend(sp.plan.secrets.iter().cloned());
    if let Some(why) = plan::generated::secret_target(&sp.plan, configs) {
        t.plan = Some(sp.plan);
        return Ok(Verdict::new(Outcome::ActionNeeded, ExitCode::ActionNeeded)
            .with_error(format!("{why}; nothing was changed")));
    }
    let mut change = SecretChange {
        connector: set.connector.clone(),
        field: sp.field.clone(),
        places: sp.places.clone(),
        bytes: set.new.expose().len(),
        applied: false,
        verified: "not_asked",
        verify_request: None,
        verify_endpoint: None,
        verify_answer: None,
    };
    // Asked before anything is written: a secret the provider refuses is never written.
    let mut proven: Option<Result<(), String>> = None;
    if let Some(opts) = &set.verify {
        match &sp.request {
            Err(why) => {
                change.verified = "cannot_verify";
                change.verify_request = Some(format!("none: {why}"));
                proven = Some(Err(format!("ozrepair cannot verify it: {why}")));
            }
            Ok(req) => {
                crate::progress::say("asking the provider's token endpoint with the new secret");
                let asked = evidence::token::ask(req, set.new.expose(), opts);
                change.verify_request = Some(asked.request.clone());
                change.verify_endpoint = Some(asked.endpoint.clone());
                match &asked.answer {
                    Answer::Accepted => {
                        change.verified = "accepted";
                        change.verify_answer = Some("a token: it takes the secret".into());
                        proven = Some(Ok(()));
                    }
                    Answer::Refused(said) => {
                        change.verified = "refused";
                        change.verify_answer = Some(said.clone());
                        t.secret = Some(change);
                        t.plan = Some(sp.plan);
                        bail!(
                            "the provider refused the new secret at {} ({said}); nothing was changed; check the secret at the provider (Entra wants the secret's Value, not its Secret ID) and run again",
                            asked.endpoint
                        );
                    }
                    Answer::Inconclusive(why) => {
                        change.verified = "inconclusive";
                        change.verify_answer = Some(why.clone());
                        proven = Some(Err(why.clone()));
                    }
                }
            }
        }
    }
    let plan = t.plan.insert(sp.plan);
    t.secret = Some(change);
    if plan.changes.is_empty() {
        t.notes.push(format!(
            "{} {} already holds this secret everywhere ozrepair reads it; nothing was changed",
            set.connector, sp.field
        ));
        return Ok(match &proven {
            // Stored is not proven: without the provider's word the run is unchecked, never healthy.
            None => {
                t.notes.push(
                    "the provider was not asked whether it takes the secret (--verify asks it)"
                        .into(),
                );
                Verdict::unchecked()
            }
            Some(Ok(())) => Verdict::healthy(),
            Some(Err(why)) => {
                t.notes.push(format!("the secret is not proven: {why}"));
                Verdict::unchecked()
            }
        });
    }
    if s.apply.dry_run {
        return Ok(Verdict::pending());
    }
    let unit = t.located.as_ref().and_then(|l| l.runtime.unit());
    let q = question(
        unit,
        &format!("Set the secret {} of {} in", sp.field, set.connector),
        &sp.places.join(" and "),
        "backed up, written",
    );
    confirm(s, &q, &report::prompt_diff(plan, false))?;
    let Some(located) = &mut t.located else {
        bail!("the deployment was not located");
    };
    let store = t.store.as_mut().filter(|_| !standalone);
    let applied = write_in_window(located, store, t.configs.as_ref(), plan, s, "secret").await;
    let applied = t.applied.insert(applied);
    let v = verdict_of(applied)?;
    if let Some(c) = &mut t.secret {
        c.applied =
            !applied.already_stored && matches!(v.outcome, Outcome::Fixed | Outcome::Unverified);
    }
    Ok(match (v.outcome, proven) {
        (Outcome::Fixed, Some(Ok(()))) => v,
        (Outcome::Fixed, None) => {
            t.notes.push(
                "the new secret was written and read back; its provider was not asked whether it takes it (--verify asks it before writing)"
                    .into(),
            );
            Verdict::new(Outcome::Unverified, ExitCode::Done)
        }
        (Outcome::Fixed, Some(Err(why))) => Verdict::new(Outcome::Unverified, ExitCode::NotUp)
            .with_error(format!(
                "the new secret was written and read back and the IdP stayed up, but it is not proven: {why}; a login through the connector proves it"
            )),
        _ => v,
    })
}

/// `domain`: the deployment's own host moved in every place ozrepair reads, shown as one diff; written
/// only with `--apply`, in one stop window with one backup set, and only when no place it does not edit
/// holds the old host. The places it never changes are a checklist in the notes.
async fn domain(s: &Settings) -> Report {
    let mut t = Trail::default();
    let result = move_domain(s, &mut t).await;
    Report::make("domain", t, result.unwrap_or_else(|e| Verdict::failed(&e)))
}

async fn move_domain(s: &Settings, t: &mut Trail) -> Result<Verdict> {
    use crate::plan::domain::{self, host_of};
    use crate::verdict::{ExitCode, Outcome, UsageError};
    let Some((to, from)) = &s.domain else {
        bail!("no new host was given; nothing was changed");
    };
    let located = t
        .located
        .insert(runtime::locate(&s.target, &store::probe).await?);
    let standalone = located.place == runtime::StorePlace::Absent;
    let configs = t.configs.insert(config::read(&located.configs));
    let rows = if standalone {
        Vec::new()
    } else {
        let store = t.store.insert(store::reach(located, s.apply.live()).await?);
        t.stored.insert(store.read()?).rows.clone()
    };
    let old = match from {
        Some(f) => f.clone(),
        None => {
            let from_auth = configs.auth.as_ref().and_then(|a| host_of(&a.issuer));
            let mut redirect_hosts: Vec<String> = rows
                .iter()
                .filter_map(|r| {
                    let cfg = r.config.as_deref()?;
                    let fields = crate::dex::jsonedit::top_level_fields(cfg).ok()?;
                    match crate::dex::jsonedit::string_value(cfg, &fields, "redirectURI") {
                        crate::dex::jsonedit::StrValue::Str(u) => host_of(&u),
                        _ => None,
                    }
                })
                .collect();
            redirect_hosts.sort();
            redirect_hosts.dedup();
            match (from_auth, redirect_hosts.as_slice()) {
                (Some(h), _) => h,
                (None, [one]) => one.clone(),
                _ => {
                    return Err(UsageError(
                        "ozrepair cannot tell the old host (no management AuthIssuer, and the connectors' redirectURIs do not name one host); nothing was changed; give it with --from HOST".into(),
                    )
                    .into())
                }
            }
        }
    };
    if old == *to {
        t.notes.push(format!(
            "{old} is already the deployment's host (its management's AuthIssuer or its connectors' redirectURI); nothing was changed; give --from OLD to move another host"
        ));
        return Ok(Verdict::unchecked());
    }
    let dp = domain::plan(&rows, configs, &old, to);
    t.notes.push(format!("moving {old} to {to}"));
    for c in &dp.checklist {
        t.notes.push(format!("to do, not by ozrepair: {c}"));
    }
    let plan = t.plan.insert(dp.plan);
    if !plan.held_elsewhere.is_empty() {
        return Ok(Verdict::new(Outcome::ActionNeeded, ExitCode::ActionNeeded).with_error(format!(
            "{}; nothing was changed: ozrepair moves the domain only when it can change every place it reads",
            plan.held_elsewhere.join("; and ")
        )));
    }
    if plan.changes.is_empty() {
        t.notes.push(format!(
            "no place ozrepair reads holds {old}; nothing was changed"
        ));
        return Ok(Verdict::unchecked());
    }
    if s.apply.dry_run {
        t.notes.push(
            "a dry run (the default): nothing was written or stopped; --apply writes it".into(),
        );
        return Ok(Verdict::pending());
    }
    let unit = t.located.as_ref().and_then(|l| l.runtime.unit());
    let q = question(
        unit,
        &format!("Move {old} to {to} in"),
        "every place above",
        "backed up, written",
    );
    confirm(s, &q, &report::prompt_diff(plan, false))?;
    let Some(located) = &mut t.located else {
        bail!("the deployment was not located");
    };
    let store = t.store.as_mut().filter(|_| !standalone);
    let applied = write_in_window(located, store, t.configs.as_ref(), plan, s, "domain").await;
    verdict_of(t.applied.insert(applied))
}
