//! The commands, each a walk down the same path: locate -> reach -> read -> diagnose -> plan ->
//! (apply) -> report. They return a Report whatever happens; main only prints it and exits.

use crate::apply::{self, ApplyOptions};
use crate::backup;
use crate::cli::{
    BackupArgs, BackupsArgs, DiscoverArgs, FixArgs, Global, InspectArgs, RestoreArgs,
};
use crate::diagnose::{self, LogFindings};
use crate::engine::Engine;
use crate::locate::{self, Deployment, Wanted};
use crate::plan::{self, Inputs, Plan, UsageError};
use crate::reach;
use crate::report::{BackupListing, ContainerPart, DatabasePart, Outcome, Report};
use crate::store::{self, ConnectorRow, Schema};
use anyhow::{anyhow, bail, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Everything read about one deployment, before any change.
struct Session {
    engine: Option<Engine>,
    /// The private copy of a database reached through the archive API (removed when the session ends).
    _archive_copy: Option<crate::archive::Fetched>,
    dep: Deployment,
    schema: Schema,
    rows: Vec<ConnectorRow>,
    logs: Option<LogFindings>,
}

/// Turns a command body's error into the report's error (exit 1, or 2 for usage errors).
fn settle(mut report: Report, result: Result<()>) -> Report {
    if let Err(e) = result {
        let usage = e.downcast_ref::<UsageError>().is_some();
        report.fail(format!("{e:#}"));
        if usage {
            report.exit_code = 2;
        }
    }
    report
}

async fn open(g: &Global, report: &mut Report) -> Result<Session> {
    let (engine, dep) = match &g.db {
        Some(db) => {
            if g.container.is_some() || g.volume.is_some() {
                return Err(UsageError("--db works on a file without Docker; it does not go with --container or --volume".into()).into());
            }
            let dep = Deployment {
                container: None,
                volume: None,
                db: db.clone(),
                why: vec![
                    "--db: the file itself, without Docker (nothing is stopped or started)".into(),
                ],
                ..Default::default()
            };
            (None, dep)
        }
        None => {
            let engine = Engine::connect(g.host.as_deref())?;
            engine.ping().await?;
            report.host = Some(engine.endpoint.clone());
            let dep = locate::locate(
                &engine,
                &Wanted {
                    container: g.container.as_deref(),
                    volume: g.volume.as_deref(),
                    access: g.access,
                },
            )
            .await?;
            (Some(engine), dep)
        }
    };
    // Through the archive API: work on a private local copy; `dep.db` points at it.
    let mut dep = dep;
    let mut archive_copy = None;
    if let (Some(e), Some(c), Some(inside)) = (&engine, &dep.container, dep.inside.clone()) {
        let f = crate::archive::fetch(e, &c.id, &inside).await?;
        dep.db = f.db.clone();
        archive_copy = Some(f);
    }
    report.located = dep.why.clone();
    if let Some(c) = &dep.container {
        report.container = Some(ContainerPart {
            name: c.name.clone(),
            id: c.id.clone(),
            state_before: c.status.clone(),
            state_after: None,
            restart_count: c.restart_count,
        });
    }
    report.database = Some(DatabasePart {
        path: match (&dep.inside, &dep.container) {
            (Some(inside), Some(c)) => format!("{}:{inside}", c.name),
            _ => dep.db.display().to_string(),
        },
        volume: dep.volume.clone(),
        sha256_before: None,
        sha256_after: None,
        dex_migrations: None,
        schema: None,
    });
    let (schema, rows) = {
        let snap = reach::read(&dep.db)?;
        let schema = store::check_schema(&snap.conn, &dep.db)?;
        store::quick_check(&snap.conn, &dep.db)?;
        (schema.clone(), store::connectors(&snap.conn)?)
    };
    report.secrets = crate::redact::secrets_in(&rows);
    if let Some(d) = report.database.as_mut() {
        d.sha256_before = Some(backup::sha256_file(&dep.db)?);
        d.dex_migrations = Some(schema.migrations);
        d.schema = Some(schema.describe());
    }
    if schema.newer_than_known() {
        report.notes.push(format!(
            "the database has {} Dex migrations, newer than the {} this build knows; its connector table has every column ozrepair needs, so it goes on",
            schema.migrations,
            store::KNOWN_MIGRATIONS
        ));
    }
    let logs = match (&engine, &dep.container) {
        (Some(e), Some(c)) => Some(diagnose::scan(
            &e.logs(&c.id, crate::LOG_TAIL).await?,
            &c.started_at,
        )),
        _ => None,
    };
    Ok(Session {
        engine,
        _archive_copy: archive_copy,
        dep,
        schema,
        rows,
        logs,
    })
}

/// What the operator asked the plan to consider (fix's flags; inspect uses the defaults and --discover).
#[derive(Default)]
pub struct PlanFlags<'a> {
    pub only: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub discover: Option<crate::discover::Options>,
    pub sets: &'a [plan::SetField],
    pub issuer_alias: bool,
    /// --show-secrets: list secret fields with the connector's endpoints.
    pub show_secrets: bool,
}

fn make_plan(s: &Session, flags: &PlanFlags, report: &mut Report) -> Result<Plan> {
    let running = s
        .dep
        .container
        .as_ref()
        .is_some_and(|c| c.status == "running");
    // --discover: ask each OIDC connector's provider (one GET each; loopback-only plain http).
    let mut discovered = Vec::new();
    if let Some(opts) = &flags.discover {
        for r in &s.rows {
            if flags.only.is_some_and(|o| o != r.id) || r.typ != "oidc" {
                continue;
            }
            let Some(cfg) = r.config.as_deref() else {
                continue;
            };
            let Ok(fields) = crate::jsonedit::top_level_fields(cfg) else {
                continue;
            };
            if let crate::jsonedit::StrValue::Str(issuer) =
                crate::jsonedit::string_value(cfg, &fields, "issuer")
            {
                eprintln!(
                    "ozrepair: asking {}",
                    crate::discover::discovery_url(&issuer)
                );
                let answer =
                    crate::discover::published_issuer(&issuer, opts).map_err(|e| e.to_string());
                discovered.push((r.id.clone(), answer));
            }
        }
    }
    let (views, plan) = plan::build(&Inputs {
        rows: &s.rows,
        logs: s.logs.as_ref(),
        running,
        only: flags.only,
        explicit_issuer: flags.issuer,
        discovered: &discovered,
        sets: flags.sets,
        issuer_alias: flags.issuer_alias,
        static_ids: &s.dep.static_connectors,
    })?;
    report.connectors = views;
    if flags.show_secrets {
        for (v, r) in report.connectors.iter_mut().zip(&s.rows) {
            let cfg = r
                .config
                .as_deref()
                .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok());
            for (k, val) in cfg
                .as_ref()
                .and_then(|c| c.as_object())
                .into_iter()
                .flatten()
            {
                if let (true, Some(text)) = (crate::redact::is_secret_field(k), val.as_str()) {
                    v.endpoints.insert(k.clone(), text.to_string());
                }
            }
        }
    }
    report.changes = plan.changes.clone();
    report.diff = plan::render_diff(&plan, &report.connectors);
    report.notes.extend(plan.notes.iter().cloned());
    Ok(plan)
}

/// Where backups go by default: beside the database, or for a database reached through the archive API,
/// on this machine under ~/ozrepair-backups/<container>.
fn default_backup_root(s: &Session) -> PathBuf {
    match (&s.dep.inside, &s.dep.container) {
        (Some(_), Some(c)) => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join("ozrepair-backups")
                .join(&c.name)
        }
        _ => backup::default_root(&s.dep.db),
    }
}

/// The container is down because of a connector whose fix is already in the database.
fn needs_start(s: &Session, plan: &Plan) -> bool {
    s.dep
        .container
        .as_ref()
        .is_some_and(|c| matches!(c.status.as_str(), "exited" | "created"))
        && plan.already_applied > 0
}

/// Sets the outcome of a read-only look: pending (3), healthy (0), or failed (1) when the container is
/// down for a reason ozrepair cannot see.
fn judge_without_changes(s: &Session, plan: &Plan, report: &mut Report) {
    if !plan.changes.is_empty() {
        report.finish(Outcome::Pending, 3);
        return;
    }
    if needs_start(s, plan) {
        report.notes.push("the database already holds the corrected issuer; the container is stopped: `ozrepair fix` starts it".into());
        report.finish(Outcome::Pending, 3);
        return;
    }
    let down = s
        .dep
        .container
        .as_ref()
        .filter(|c| c.status == "restarting" || (c.status == "exited" && c.exit_code != 0));
    match down {
        Some(c) => {
            report.finish(Outcome::Failed, 1);
            let why = match plan.notes.first() {
                Some(n) => format!("ozrepair has no database change that fixes it: {n}"),
                None => "its logs since the last start show no connector error ozrepair can fix"
                    .to_string(),
            };
            report.error = Some(format!(
                "container {} is {} (exit code {}) and {why}; nothing was changed; read `docker logs {}`, and if you know the right issuer pass --issuer with --connector",
                c.name, c.status, c.exit_code, c.name
            ));
        }
        None => report.finish(Outcome::Healthy, 0),
    }
}

fn discover_options(d: &DiscoverArgs) -> Option<crate::discover::Options> {
    d.discover.then(|| crate::discover::Options {
        timeout: std::time::Duration::from_secs(d.discover_timeout.max(1)),
        ca_file: d.ca_file.clone(),
        allow_http: d.allow_http,
    })
}

pub async fn inspect(g: &Global, a: &InspectArgs) -> Report {
    let mut report = Report::new("inspect");
    let result = inspect_body(g, a, &mut report).await;
    settle(report, result)
}

async fn inspect_body(g: &Global, a: &InspectArgs, r: &mut Report) -> Result<()> {
    let s = open(g, r).await?;
    let flags = PlanFlags {
        discover: discover_options(&a.discovery),
        show_secrets: g.show_secrets,
        ..Default::default()
    };
    let plan = make_plan(&s, &flags, r)?;
    judge_without_changes(&s, &plan, r);
    Ok(())
}

/// Asks on the terminal; refuses to guess when there is none.
fn confirm(g: &Global, question: &str, diff: &str) -> Result<()> {
    if g.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "a change is due and stdin is not a terminal, so ozrepair cannot ask: {question} Re-run with --yes to apply it; nothing was changed"
        ))
        .into());
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{diff}{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("not confirmed; nothing was changed")
    }
}

pub async fn fix(g: &Global, a: &FixArgs) -> Report {
    let mut report = Report::new("fix");
    let result = fix_body(g, a, &mut report).await;
    settle(report, result)
}

async fn fix_body(g: &Global, a: &FixArgs, r: &mut Report) -> Result<()> {
    let s = open(g, r).await?;
    let flags = PlanFlags {
        only: a.connector.as_deref(),
        issuer: a.issuer.as_deref(),
        discover: discover_options(&a.discovery),
        sets: &a.set,
        issuer_alias: a.issuer_alias,
        show_secrets: g.show_secrets,
    };
    let plan = make_plan(&s, &flags, r)?;
    if a.dry_run || plan.changes.is_empty() {
        if !a.dry_run && needs_start(&s, &plan) && !a.no_restart {
            if let (Some(e), Some(c)) = (&s.engine, &s.dep.container) {
                r.notes.push(
                    "the database already holds the corrected issuer; starting the container"
                        .into(),
                );
                return apply::start_and_watch(e, &c.id, &c.name, a.wait, r).await;
            }
        }
        judge_without_changes(&s, &plan, r);
        return Ok(());
    }
    let what = match &s.dep.container {
        Some(c) => format!(
            "Apply to {}? Container {} will be stopped, backed up, edited and started.",
            s.dep.db.display(),
            c.name
        ),
        None => format!("Apply to {}?", s.dep.db.display()),
    };
    confirm(g, &what, &r.diff)?;
    let opts = ApplyOptions {
        backup_root: a
            .backup_dir
            .clone()
            .unwrap_or_else(|| default_backup_root(&s)),
        restart: !a.no_restart,
        wait: a.wait,
    };
    apply::apply(s.engine.as_ref(), &s.dep, &plan, &opts, r).await
}

fn origin(s: &Session, report: &Report) -> backup::Origin {
    backup::Origin {
        host: report.host.clone(),
        container: s.dep.container.as_ref().map(|c| c.name.clone()),
        volume: s.dep.volume.clone(),
        dex_schema: Some(s.schema.migrations),
        connectors: s.rows.iter().map(|r| r.id.clone()).collect(),
    }
}

/// Stops the container when it runs, does `work`, then starts it again if it was stopped here.
/// `wait`: None starts it without watching (a backup of a healthy container).
async fn with_container_stopped<T>(
    s: &Session,
    restart: bool,
    wait: Option<u64>,
    push_back: bool,
    report: &mut Report,
    work: impl FnOnce(&mut Report) -> Result<T>,
) -> Result<T> {
    let _lock = crate::lock::acquire(&s.dep.db)?;
    let running = match (&s.engine, &s.dep.container) {
        (Some(e), Some(c)) if matches!(c.status.as_str(), "running" | "restarting" | "paused") => {
            Some((e, c))
        }
        _ => None,
    };
    if let Some((e, c)) = running {
        eprintln!("ozrepair: stopping {}", c.name);
        e.stop(&c.id, 10).await?;
    }
    // Through the archive API: copy the set out again now that nothing writes it, and back in after.
    let archive = match (&s.engine, &s.dep.container, &s.dep.inside) {
        (Some(e), Some(c), Some(inside)) => Some((e, c, inside)),
        _ => None,
    };
    let mut entries = Vec::new();
    if let Some((e, c, inside)) = archive {
        entries = crate::archive::refresh(e, &c.id, inside, &s.dep.db).await?;
    }
    let out = work(report);
    if let (Some((e, c, inside)), true, true) = (archive, push_back, out.is_ok()) {
        eprintln!("ozrepair: copying the database back into {}", c.name);
        crate::archive::put(e, &c.id, inside, &s.dep.db, &entries).await?;
    }
    if let (Some((e, c)), true) = (running, restart) {
        match wait {
            Some(w) => apply::start_and_watch(e, &c.id, &c.name, w, report).await?,
            None => {
                eprintln!("ozrepair: starting {}", c.name);
                e.start(&c.id).await?;
            }
        }
    }
    out
}

pub async fn backup_now(g: &Global, a: &BackupArgs) -> Report {
    let mut report = Report::new("backup");
    let result = backup_now_body(g, a, &mut report).await;
    settle(report, result)
}

async fn backup_now_body(g: &Global, a: &BackupArgs, r: &mut Report) -> Result<()> {
    let s = open(g, r).await?;
    let root = a
        .backup_dir
        .clone()
        .unwrap_or_else(|| default_backup_root(&s));
    let o = origin(&s, r);
    let set = with_container_stopped(&s, true, None, false, r, |_| {
        backup::take(&s.dep.db, &root, &o)
    })
    .await?;
    r.backup = Some(apply::backup_part(&set));
    r.finish(Outcome::Healthy, 0);
    Ok(())
}

pub async fn backups(g: &Global, a: &BackupsArgs) -> Report {
    let mut report = Report::new("backups");
    let result = backups_body(g, a, &mut report).await;
    settle(report, result)
}

async fn backups_body(g: &Global, a: &BackupsArgs, r: &mut Report) -> Result<()> {
    let s = open(g, r).await?;
    let root = a
        .backup_dir
        .clone()
        .unwrap_or_else(|| default_backup_root(&s));
    for set in backup::list(&root)? {
        r.backups.push(BackupListing {
            dir: set.dir.display().to_string(),
            created: set.manifest.created.clone(),
            sha256: set.db_sha256(),
            size: set.manifest.files.first().map(|f| f.size).unwrap_or(0),
            connectors: set.manifest.connectors.clone(),
        });
    }
    if r.backups.is_empty() {
        r.notes.push(format!("no backups in {}", root.display()));
    }
    r.finish(Outcome::Healthy, 0);
    Ok(())
}

pub async fn restore(g: &Global, a: &RestoreArgs) -> Report {
    let mut report = Report::new("restore");
    let result = restore_body(g, a, &mut report).await;
    settle(report, result)
}

async fn restore_body(g: &Global, a: &RestoreArgs, r: &mut Report) -> Result<()> {
    let s = open(g, r).await?;
    let root = a
        .backup_dir
        .clone()
        .unwrap_or_else(|| default_backup_root(&s));
    let dir: PathBuf = match &a.backup {
        Some(p) => p.clone(),
        None => backup::list(&root)?.pop().map(|b| b.dir).ok_or_else(|| {
            anyhow!(
                "there are no backups in {}; nothing was changed; name one with --backup",
                root.display()
            )
        })?,
    };
    let set = backup::verify(&dir).map_err(|e| anyhow!("{e:#}; nothing was changed; choose another with --backup (`ozrepair backups` lists them)"))?;
    confirm(
        g,
        &format!(
            "Put the backup {} back onto {}?",
            set.dir.display(),
            s.dep.db.display()
        ),
        "",
    )?;
    let o = origin(&s, r);
    let db = s.dep.db.clone();
    with_container_stopped(&s, !a.no_restart, Some(a.wait), true, r, |r| {
        let before = backup::take(&db, &root, &o)
            .map_err(|e| anyhow!("{e:#}; could not save the current database first, so nothing was restored"))?;
        r.notes.push(format!("the database as it was before the restore is saved in {}", before.dir.display()));
        backup::restore(&set, &db).map_err(|e| {
            anyhow!("{e:#}; the database before the restore is in {}; run `ozrepair restore --backup {}` to retry", before.dir.display(), set.dir.display())
        })?;
        r.backup = Some(apply::backup_part(&set));
        if let Some(d) = r.database.as_mut() {
            d.sha256_after = Some(set.db_sha256());
        }
        Ok(())
    })
    .await?;
    // start_and_watch set the outcome when it ran; otherwise the restore itself is the result.
    if r.result == Outcome::Failed {
        r.finish(Outcome::Fixed, 0);
    }
    Ok(())
}
