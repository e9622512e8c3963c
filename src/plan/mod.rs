//! The plan: from connector rows and evidence to a list of field changes. Plain data, shared by inspect,
//! `fix --dry-run` and `fix`. The right value comes from the operator (`--issuer`, `--set`), from the
//! container's own log line, or from the provider's discovery document (`--discover`), in that order; the
//! tool never invents one (it never adds or strips a slash on its own). [`build`] takes each source in
//! turn, one small function each; [`edits`] turns a plan into the bytes to write.

pub mod domain;
pub mod door;
pub mod edits;
pub mod endpoints;
pub mod generated;
pub mod logins;
pub mod management;
pub mod secret;

use crate::config::{self, Configs};
use crate::dex::jsonedit::{self, string_value, top_level_fields, StrValue};
use crate::dex::{ConnectorRow, Stored};
use crate::evidence::{Asked, Diagnosis};
use crate::fields::Strings;
use crate::logs::LogFindings;
use crate::runtime::{Runtime, Unit};
use crate::settings::{ApplyOpts, PlanArgs, SetField};
use crate::shared::Shared;
use crate::verdict::{ExitCode, Outcome, UsageError, Verdict};
use anyhow::{bail, Result};
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Mismatch,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Mismatch => "mismatch",
            Status::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Logs,
    Discovery,
    Explicit,
}

impl Source {
    /// Who said the value, in the report's words.
    pub fn says(self) -> &'static str {
        match self {
            Source::Logs => "the IdP's log (go-oidc: the provider publishes it)",
            Source::Discovery => BY_DISCOVERY,
            Source::Explicit => BY_OPERATOR,
        }
    }
}

crate::fields! {
    /// A connector as the report shows it: never its secrets, only what identifies it and its issuer.
    #[derive(Debug, Clone, Serialize)]
    pub struct ConnectorView {
        /// The id, type and name: the row's own strings (see [`crate::shared::Shared`]).
        pub id: Shared,
        #[serde(rename = "type")]
        pub typ: Shared,
        pub name: Shared,
        /// Its `issuer` endpoint's value where it has one (the same string).
        pub issuer: Option<Shared>,
        pub status: Status,
        /// Why the status is not ok, in a few words (extension of the contract).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub problem: Option<String>,
        /// The fields that locate the provider, for every connector type (extension): issuer, baseURL,
        /// hostName, tenant, ssoURL, redirectURI, clientID…
        pub endpoints: Endpoints,
        /// Where its config lives (extension): `database` (a row), `static` (a management.json static
        /// connector, written into its row at every start) or `overlay` (a Dex config connector, in
        /// memory).
        pub store: &'static str,
        /// The config file that defines it (static and overlay connectors).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub file: Option<String>,
        /// What its status rests on, in a few words (extension): the IdP's log of a start, the
        /// provider's discovery document, the operator's value. Absent when nothing checked it.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub checked_by: Option<&'static str>,
        /// Its status before the change this run applied (extension; only for a changed connector).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub status_before: Option<Status>,
    }
}

pub use endpoints::Endpoints;

/// Where a change is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "store", rename_all = "lowercase")]
pub enum Store {
    /// The connector's row (`field` of its config).
    #[default]
    Database,
    /// A value in a config file: `file` on this host, `at` the path to the value in it.
    File {
        file: String,
        at: String,
        #[serde(skip)]
        path: Vec<config::Seg>,
        #[serde(skip)]
        kind: config::Kind,
    },
}

impl Store {
    pub fn is_database(&self) -> bool {
        matches!(self, Store::Database)
    }
}

crate::fields! {
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    pub struct Change {
        pub connector: String,
        pub field: String,
        pub from: String,
        pub to: String,
        pub source: Source,
        /// The log line or flag the new value comes from (extension of the contract).
        pub evidence: String,
        /// Where it is written (extension): `"store": "database"`, or `"store": "file"` with `file` and
        /// `at`.
        #[serde(flatten)]
        pub store: Store,
        /// A secret's values (`secret`): `from` and `to` then only say its length; these are what is
        /// read and written. Never serialised, never visited by the report's strings, never in `Debug`.
        #[serde(skip)]
        pub hidden: Option<Hidden>,
    }
}

/// The values of a secret field's change, kept out of everything that is printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden {
    pub from: String,
    pub to: String,
}

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hidden([redacted])")
    }
}

impl Strings for Hidden {
    /// Not visited: its values are never printed, so there is nothing to scrub or escape.
    fn strings(&mut self, _: &mut dyn FnMut(&str) -> Option<String>) {}
}

impl Change {
    /// The value stored now and the value to write: a secret's hidden ones, else `from` and `to`.
    pub fn values(&self) -> (&str, &str) {
        match &self.hidden {
            Some(h) => (&h.from, &h.to),
            None => (&self.from, &self.to),
        }
    }
}

impl Strings for Store {
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
        if let Store::File { file, at, .. } = self {
            file.strings(f);
            at.strings(f);
        }
    }
}

impl Strings for Status {
    fn strings(&mut self, _: &mut dyn FnMut(&str) -> Option<String>) {}
}

impl Strings for Source {
    fn strings(&mut self, _: &mut dyn FnMut(&str) -> Option<String>) {}
}

/// The plan: every connector as assessed, and the field changes that would fix them. Plain data: inspect,
/// `fix --dry-run` and `fix` share it, and the report prints it.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    pub connectors: Vec<ConnectorView>,
    pub changes: Vec<Change>,
    /// Things the operator should know that no change addresses.
    pub notes: Vec<String>,
    /// Log evidence the database already agrees with (the fix was written; the container has not run since).
    pub already_applied: usize,
    /// `--discover`: each provider asked, and what it answered.
    pub discovered: Vec<Asked>,
    /// The secret values of every connector read for this plan (the report scrubs them), found in the
    /// same pass over each config that reads its issuer and endpoints.
    pub secrets: Vec<String>,
    /// The plan is judged by its connectors (inspect and fix; not local-login, whose subject is the
    /// door): healthy only when every one was checked.
    pub judges_connectors: bool,
    /// Places that hold the old value and that ozrepair does not change (a value it cannot edit exactly):
    /// each says where and what the operator must do. A run that leaves one is never `fixed`.
    pub held_elsewhere: Vec<String>,
    /// `--connector`: the one connector the run is about (judged alone).
    pub scope: Option<String>,
    /// Logins that failed while the IdP ran, by connector and cause, each with its repair (no change is
    /// ever planned for them).
    pub logins: Vec<logins::LoginView>,
}

/// Config fields that locate the provider, shown for every connector type (issuer-like fields).
pub const ENDPOINT_FIELDS: [&str; 12] = [
    "issuer",
    "issuerAlias",
    "baseURL",
    "hostName",
    "tenant",
    "apiURL",
    "ssoURL",
    "ssoIssuer",
    "entityIssuer",
    "keystoneHost",
    "redirectURI",
    "clientID",
];

/// The lengths of the [`ENDPOINT_FIELDS`] (bit n: a name of n bytes); each name is lower-case ASCII
/// letters first and ASCII letters after (checked here, at compile time).
const ENDPOINT_LENGTHS: u64 = {
    let mut m = 0u64;
    let mut n = 0;
    while n < ENDPOINT_FIELDS.len() {
        let name = ENDPOINT_FIELDS[n].as_bytes();
        assert!(!name.is_empty() && name.len() < 64 && name[0].is_ascii_lowercase());
        let mut i = 0;
        while i < name.len() {
            assert!(name[i].is_ascii_alphabetic());
            i += 1;
        }
        m |= 1 << name.len();
        n += 1;
    }
    m
};

/// The connector's issuer, its endpoint fields, and what is wrong with its config if anything.
/// Its secret values are appended to `secrets` in the same pass (see [`crate::dex::secrets`]).
fn read_config<'a>(
    row: &'a ConnectorRow,
    secrets: &mut Vec<String>,
    scratch: &mut Vec<jsonedit::Field<'a>>,
) -> (Option<Shared>, Endpoints, Option<String>) {
    let mut endpoints = Endpoints::new();
    // NULL, empty or `null`: Dex opens the zero Config of the type; say what it sees (no JSON to read).
    if let Some(problem) = crate::dex::model::zero_config(&row.typ, row.config.as_deref()) {
        return (None, endpoints, Some(problem));
    }
    // A type ozrepair does not model (Dex's `local` password connector): nothing decoded, nothing wrong.
    let Some(cfg) = row
        .config
        .as_deref()
        .filter(|c| !crate::dex::model::is_zero(Some(c)))
    else {
        return (None, endpoints, None);
    };
    let fields = jsonedit::top_level_fields_into(cfg, scratch).map(|()| &scratch[..]);
    match &fields {
        Ok(f) => crate::dex::secrets::collect_read(cfg, f, secrets),
        Err(_) => crate::dex::secrets::collect(cfg, secrets),
    }
    if cfg.len() > MAX_CONFIG {
        let problem = format!(
            "its config is {} bytes, more than the {} KiB a connector config can sensibly be",
            cfg.len(),
            MAX_CONFIG / 1024
        );
        return (None, endpoints, Some(problem));
    }
    let fields = match fields {
        Err(e) => return (None, endpoints, Some(e.to_string())),
        Ok(f) => f,
    };
    // One pass over the fields: for each endpoint name the field Go's decoder ends with (the last match,
    // a later null leaving an earlier string), then only those values decoded.
    let mut last: [Option<usize>; ENDPOINT_FIELDS.len()] = [None; ENDPOINT_FIELDS.len()];
    for (i, f) in fields.iter().enumerate() {
        // The names are ASCII letters: an ASCII key matches one only case-insensitively at the same
        // length, so with a length some name has and the same first letter (`| 0x20` folds a letter's
        // case, and maps no other byte onto a letter).
        let key = f.key.as_bytes();
        let ascii = f.key.is_ascii();
        if ascii && (key.len() >= 64 || ENDPOINT_LENGTHS & (1 << key.len()) == 0) {
            continue;
        }
        let is_null = cfg.get(f.value.clone()) == Some(&b"null"[..]);
        for (n, name) in ENDPOINT_FIELDS.iter().enumerate() {
            let hit = if ascii {
                key.len() == name.len()
                    && (key[0] | 0x20) == name.as_bytes()[0]
                    && key.eq_ignore_ascii_case(name.as_bytes())
            } else {
                jsonedit::key_matches(&f.key, name)
            };
            if hit && !(is_null && last[n].is_some()) {
                last[n] = Some(i);
            }
        }
    }
    endpoints = Endpoints::with_capacity(last.iter().flatten().count());
    for (n, name) in ENDPOINT_FIELDS.iter().enumerate() {
        let Some(f) = last[n].map(|i| &fields[i]) else {
            continue;
        };
        if let Some(v) = cfg
            .get(f.value.clone())
            .filter(|raw| raw.first() == Some(&b'"'))
            .and_then(jsonedit::go_json_unquote_shared)
        {
            endpoints.insert(Cow::Borrowed(*name), v);
        }
    }
    let undecodable = crate::dex::model::check_read(&row.typ, cfg, fields)
        .err()
        .map(|why| format!("{UNDECODABLE}: {why}"));
    // The issuer's value, shared with the endpoint that holds it.
    if let Some(s) = endpoints.get("issuer").cloned() {
        return (Some(s), endpoints, undecodable);
    }
    // Go ignores an `issuer` key of a type whose Config has no such field.
    let has_issuer = crate::dex::model::fields_of(&row.typ)
        .is_none_or(|fields| fields.iter().any(|(n, _)| *n == "issuer"));
    match string_value(cfg, fields, "issuer") {
        StrValue::Str(s) => (Some(s.into()), endpoints, undecodable),
        StrValue::NotString(_) if !has_issuer => (None, endpoints, undecodable),
        StrValue::NotString(what) => (
            None,
            endpoints,
            Some(format!("its issuer is {what}, not a string")),
        ),
        StrValue::Absent | StrValue::Null => (None, endpoints, undecodable),
    }
}

/// How a connector's problem starts when Go's decoder would refuse its config (see [`crate::dex::model`]).
const UNDECODABLE: &str = "Dex cannot decode its config";

/// The largest config ozrepair reads or edits (Dex's own are a few hundred bytes).
pub const MAX_CONFIG: usize = 1 << 20;

/// A correction of a connector's issuer, before it becomes a change of `issuer` or `issuerAlias`.
struct Correction {
    idx: usize,
    to: String,
    source: Source,
    evidence: String,
}

/// What the system showed, as the plan needs it.
pub struct Seen<'a> {
    pub rows: &'a [ConnectorRow],
    /// The container's logs from its last start (None without a container).
    pub logs: Option<&'a LogFindings>,
    /// `--discover`: what each provider publishes, or why it could not be asked.
    pub discovered: &'a [Asked],
    /// The config files and the connectors they define.
    pub configs: &'a Configs,
}

impl<'a> Seen<'a> {
    pub fn of(stored: &'a Stored, configs: &'a Configs, diagnosis: &'a Diagnosis) -> Seen<'a> {
        Seen {
            rows: &stored.rows,
            logs: diagnosis.logs.as_ref(),
            discovered: &diagnosis.discovered,
            configs,
        }
    }
}

/// Builds the plan from what was seen and what the operator asked (`show_secrets`: list each connector's
/// secret fields with its endpoints).
pub fn build(seen: &Seen, s: &PlanArgs, show_secrets: bool) -> Result<Plan> {
    let mut secrets = Vec::new();
    let mut views = views_of(seen.rows, seen.logs, show_secrets, &mut secrets);
    let defined = defined_in_files(&mut views, seen.configs, seen.logs);
    for c in &seen.configs.connectors {
        secrets.extend(c.secrets.iter().cloned());
    }
    let mut b = Builder {
        views,
        defined,
        has_row: (0..seen.rows.len()).map(|_| true).collect(),
        plan: Plan::default(),
        corrections: Vec::new(),
    };
    b.has_row.resize(b.views.len(), false);
    // Only the scrub reads them (report::redact), in no particular order and indexed once each.
    b.plan.secrets = secrets;
    b.plan.judges_connectors = true;
    b.plan.scope = s.connector.clone();
    b.check_names(s, seen.configs)?;
    b.add_failures(seen.logs);
    // Where the right issuer comes from, in the contract's order: --issuer, the logs, discovery.
    match &s.issuer {
        Some(to) => b.add_explicit(to, s.connector.as_deref(), seen.configs)?,
        None => {
            b.add_log_evidence(seen.logs);
            b.add_discovery(seen.discovered);
        }
    }
    b.corrections_into_changes(seen.configs, s);
    // Logins that fail override what a start or a discovery document said of a connector.
    b.plan.logins = logins::assess(&mut b.views, seen.logs, &mut b.plan.notes);
    b.add_sets(seen.rows, &s.set)?;
    b.plan.connectors = b.views;
    b.plan.discovered = seen.discovered.to_vec();
    generated::hold_back(&mut b.plan, seen.configs);
    Ok(b.plan)
}

/// Every connector as the report shows it, before any evidence: ok when the container runs (it opened
/// every connector), unknown when nothing says yet.
fn views_of(
    rows: &[ConnectorRow],
    logs: Option<&LogFindings>,
    show_secrets: bool,
    secrets: &mut Vec<String>,
) -> Vec<ConnectorView> {
    // One vector for every config's fields (each config's are read and done with before the next).
    let mut scratch = Vec::with_capacity(16);
    rows.iter()
        .map(|r| {
            let (issuer, mut endpoints, problem) = read_config(r, secrets, &mut scratch);
            let (status, checked_by) = if problem.is_some() {
                (Status::Unknown, None)
            } else {
                checked(&r.id, &r.typ, logs)
            };
            if show_secrets {
                endpoints.extend(
                    secret_fields(r)
                        .into_iter()
                        .map(|(k, v)| (Cow::Owned(k), v)),
                );
            }
            ConnectorView {
                id: r.id.clone(),
                typ: r.typ.clone(),
                name: r.name.clone(),
                issuer,
                status,
                problem,
                endpoints,
                store: "database",
                file: None,
                checked_by,
                status_before: None,
            }
        })
        .collect()
}

/// What a start's log lines say of connector `id`: Ok when the start got to serving and no line names it
/// (or an unnamed connector) failing, since the IdP opens every connector before it serves (and NetBird
/// v0.65.2+ and Dex v2.44+, which go on with a connector that failed, log each failure). Dex's built-in
/// `local` connector has nothing to check. Otherwise nothing vouches for it: unknown, and not checked.
fn checked(id: &str, typ: &str, logs: Option<&LogFindings>) -> (Status, Option<&'static str>) {
    if typ == door::LOCAL_TYPE {
        return (Status::Ok, Some(BY_DEX));
    }
    let names_it = |c: &Option<String>| c.as_deref().is_none_or(|c| c == id);
    match logs {
        Some(l)
            if l.ready
                && !l.failures.iter().any(|f| names_it(&f.connector))
                && !l.evidence.iter().any(|e| names_it(&e.connector)) =>
        {
            (Status::Ok, Some(BY_START))
        }
        _ => (Status::Unknown, None),
    }
}

/// What a status rests on, in the report's words.
pub const BY_START: &str = "the IdP's log of its last start (it served with this connector open)";
pub const BY_DISCOVERY: &str = "the provider's discovery document";
pub const BY_OPERATOR: &str = "the value given with --issuer";
pub const BY_DEX: &str = "Dex's built-in password connector (nothing to check)";
pub const BY_FIX: &str = "this run's change, read back, and the IdP's log after its start";
pub const BY_WRITE: &str = "this run's change, read back from the store (nothing started it)";

/// The connectors config files define: a row's view says which file holds it (a static connector), and a
/// connector with no row (a Dex config overlay) gets a view of its own. Returns, for each view, the index
/// of its file connector in `configs`.
fn defined_in_files(
    views: &mut Vec<ConnectorView>,
    configs: &Configs,
    logs: Option<&LogFindings>,
) -> Vec<Option<usize>> {
    let mut defined = vec![None; views.len()];
    for (i, fc) in configs.connectors.iter().enumerate() {
        let file = configs.file_of(fc).path.display().to_string();
        if let Some(v) = views.iter().position(|v| v.id == fc.id) {
            views[v].store = fc.held.as_str();
            views[v].file = Some(file);
            defined[v] = Some(i);
            continue;
        }
        let mut endpoints = Endpoints::new();
        let issuer = fc.issuer.as_deref().map(Shared::from);
        if let Some(iss) = &issuer {
            endpoints.insert(Cow::Borrowed("issuer"), iss.clone());
        }
        let (status, checked_by) = checked(&fc.id, &fc.typ, logs);
        views.push(ConnectorView {
            id: fc.id.as_str().into(),
            typ: fc.typ.as_str().into(),
            name: fc.name.as_str().into(),
            issuer,
            status,
            problem: None,
            endpoints,
            store: fc.held.as_str(),
            file: Some(file),
            checked_by,
            status_before: None,
        });
        defined.push(Some(i));
    }
    defined
}

/// `--show-secrets`: the secret fields of a config, listed with its endpoints.
fn secret_fields(r: &ConnectorRow) -> Vec<(String, String)> {
    let cfg = r
        .config
        .as_deref()
        .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok());
    cfg.as_ref()
        .and_then(|c| c.as_object())
        .into_iter()
        .flatten()
        .filter(|(k, _)| crate::dex::secrets::is_secret_field(k))
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// The config files whose connectors could not be read (each with its file and line), for a refusal to
/// name: `; FILE: YAML line N: …` each, or nothing.
fn unread_files(configs: &Configs) -> String {
    configs
        .notes
        .iter()
        .filter(|n| n.ends_with("its connectors were not read"))
        .map(|n| format!("; {n}"))
        .collect()
}

struct Builder {
    views: Vec<ConnectorView>,
    /// For each view, the file connector that defines it (index into `Configs::connectors`).
    defined: Vec<Option<usize>>,
    /// For each view, whether it has a database row.
    has_row: Vec<bool>,
    plan: Plan,
    corrections: Vec<Correction>,
}

impl Builder {
    fn ids(&self) -> String {
        self.views
            .iter()
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `--connector` and `--set` must name connectors that exist.
    fn check_names(&self, s: &PlanArgs, configs: &Configs) -> Result<()> {
        if let Some(only) = &s.connector {
            if !self.views.iter().any(|v| &v.id == only) {
                bail!(
                    "there is no connector {only:?}; the connectors are: {}{}; nothing was changed",
                    self.ids(),
                    unread_files(configs)
                );
            }
        }
        for set in &s.set {
            if !self.views.iter().any(|v| v.id == set.connector) {
                bail!("--set names connector {:?}, which does not exist; the connectors are: {}; nothing was changed", set.connector, self.ids());
            }
        }
        Ok(())
    }

    /// Failures the container reported that no rule here can fix: shown, never acted on.
    fn add_failures(&mut self, logs: Option<&LogFindings>) {
        for f in logs.map(|l| l.failures.as_slice()).unwrap_or_default() {
            if let Some(v) = f
                .connector
                .as_ref()
                .and_then(|id| self.views.iter_mut().find(|v| &v.id == id))
            {
                v.status = Status::Unknown;
                v.problem = Some(f.message.clone());
            }
            self.plan.notes.push(format!(
                "the container reports connector {} failing for another reason: {}",
                f.connector.as_deref().unwrap_or("(unnamed)"),
                f.message
            ));
        }
    }

    /// `--issuer`: the operator's value, for the one connector it can apply to.
    fn add_explicit(&mut self, to: &str, only: Option<&str>, configs: &Configs) -> Result<()> {
        let views = &self.views;
        let unread = unread_files(configs);
        let candidates: Vec<usize> = match only {
            Some(id) => views.iter().position(|v| v.id == id).into_iter().collect(),
            None => (0..views.len())
                .filter(|&i| views[i].issuer.is_some() || views[i].typ == "oidc")
                .collect(),
        };
        let idx = match candidates.as_slice() {
            [i] => *i,
            [] => bail!("no connector has an issuer to set{unread}; nothing was changed"),
            many => {
                let ids: Vec<&str> = many.iter().map(|&i| views[i].id.as_str()).collect();
                return Err(UsageError(format!(
                    "--issuer could apply to {} connectors ({}): name one with --connector; nothing was changed",
                    many.len(),
                    ids.join(", ")
                ))
                .into());
            }
        };
        if let Some(problem) = &views[idx].problem {
            bail!("connector {}: {problem}; nothing was changed; fix that connector in the dashboard or by hand", views[idx].id);
        }
        if views[idx].issuer.is_none() {
            let place = self.defined[idx]
                .map(|i| {
                    let fc = &configs.connectors[i];
                    format!(
                        " (defined in {} line {})",
                        configs.file_of(fc).path.display(),
                        fc.line
                    )
                })
                .unwrap_or_default();
            bail!(
                "connector {}{place} has no issuer field to set (type {}){unread}; ozrepair edits values, it never adds fields; nothing was changed",
                views[idx].id,
                views[idx].typ
            );
        }
        self.corrections.push(Correction {
            idx,
            to: to.into(),
            source: Source::Explicit,
            evidence: "--issuer given by the operator".into(),
        });
        Ok(())
    }

    /// go-oidc's mismatch line: store "got" in the connector whose issuer is "expected".
    fn add_log_evidence(&mut self, logs: Option<&LogFindings>) {
        let source = logs.map(LogFindings::source).unwrap_or("container log");
        for ev in logs.map(|l| l.evidence.as_slice()).unwrap_or_default() {
            let matches = |v: &ConnectorView, issuer: &str| {
                v.issuer.as_deref() == Some(issuer)
                    && ev.connector.as_ref().is_none_or(|c| *c == v.id)
            };
            let Some(idx) = self.views.iter().position(|v| matches(v, &ev.expected)) else {
                if self.views.iter().any(|v| matches(v, &ev.got)) {
                    self.plan.already_applied += 1;
                } else {
                    self.plan.notes.push(format!(
                        "the IdP's log reports connector {} with issuer {:?}, but no connector in the database or in a config file ozrepair read has that issuer: it may come from a config file ozrepair did not find (management.json StaticConnectors or Dex's connectors:)",
                        ev.connector.as_deref().unwrap_or("(unnamed)"),
                        ev.expected
                    ));
                }
                continue;
            };
            let evidence = format!(
                "{source} {}: issuer did not match the issuer returned by provider, expected {:?} got {:?}",
                if ev.time.is_empty() { "line" } else { ev.time.as_str() },
                ev.expected,
                ev.got
            );
            self.corrections.retain(|c| c.idx != idx);
            self.corrections.push(Correction {
                idx,
                to: ev.got.clone(),
                source: Source::Logs,
                evidence,
            });
        }
    }

    /// `--discover`: what each provider publishes, where the logs said nothing about that connector.
    fn add_discovery(&mut self, discovered: &[Asked]) {
        for asked in discovered {
            let Some(idx) = self.views.iter().position(|v| v.id == asked.connector) else {
                continue;
            };
            let corrected = self.corrections.iter().any(|c| c.idx == idx);
            let view = &mut self.views[idx];
            match &asked.answer {
                Err(why) => {
                    if view.status != Status::Mismatch {
                        view.status = Status::Unknown;
                        view.checked_by = None;
                    }
                    self.plan
                        .notes
                        .push(format!("connector {}: {why}", asked.connector));
                }
                Ok(published) if view.issuer.as_deref() == Some(published.as_str()) => {
                    // A config Dex cannot decode stays unknown, whatever its issuer.
                    let undecodable = view
                        .problem
                        .as_deref()
                        .is_some_and(|p| p.starts_with(UNDECODABLE));
                    if !corrected && !undecodable {
                        view.status = Status::Ok;
                        view.problem = None;
                        view.checked_by = Some(BY_DISCOVERY);
                    }
                }
                Ok(published) => {
                    if !corrected {
                        let stored = view.issuer.clone().unwrap_or_default();
                        self.corrections.push(Correction {
                            idx,
                            to: published.clone(),
                            source: Source::Discovery,
                            evidence: format!(
                                "discovery document {}: issuer {published:?}",
                                crate::evidence::discover::discovery_url(&stored)
                            ),
                        });
                    }
                }
            }
        }
    }

    /// Each correction becomes a change of `issuer` (or `issuerAlias`), unless it is already stored or is
    /// outside `--connector`. A connector a config file defines is changed in that file, and its row too
    /// when it has one (NetBird writes the file's value into the row at every start).
    fn corrections_into_changes(&mut self, configs: &Configs, s: &PlanArgs) {
        for c in std::mem::take(&mut self.corrections) {
            let v = &mut self.views[c.idx];
            if let Some(p) = v.problem.as_deref().filter(|p| p.starts_with(UNDECODABLE)) {
                self.plan.notes.push(format!(
                    "connector {}: {p}; correcting its issuer to {:?} alone would not let Dex open it, so ozrepair plans no change: fix that field in the dashboard or by hand",
                    v.id, c.to
                ));
                continue;
            }
            let defined = self.defined[c.idx].map(|i| &configs.connectors[i]);
            let from = v.issuer.as_deref().unwrap_or_default().to_string();
            let file_from = defined.and_then(|fc| fc.issuer.clone());
            if from == c.to && file_from.as_deref().is_none_or(|f| f == c.to) {
                v.status = Status::Ok;
                v.problem = None;
                v.checked_by = Some(c.source.says());
                continue;
            }
            v.status = Status::Mismatch;
            v.checked_by = Some(c.source.says());
            v.problem = Some(match c.source {
                Source::Explicit => format!("stored issuer {from:?}, --issuer sets {:?}", c.to),
                _ => format!("stored issuer {from:?}, the provider publishes {:?}", c.to),
            });
            if s.connector.as_deref().is_some_and(|o| o != v.id) {
                continue;
            }
            if let Some(fc) = defined {
                let file = configs.file_of(fc);
                if s.issuer_alias {
                    self.plan.notes.push(format!(
                        "connector {} is defined in {}; --issuer-alias edits database rows only, so nothing is planned for it: run without --issuer-alias to correct its issuer in the file",
                        v.id,
                        file.path.display()
                    ));
                    continue;
                }
                match &fc.issuer {
                    Some(f) if *f != c.to => self.plan.changes.push(Change {
                        connector: v.id.to_string(),
                        field: "issuer".into(),
                        from: f.clone(),
                        to: c.to.clone(),
                        source: c.source,
                        evidence: c.evidence.clone(),
                        store: Store::File {
                            file: file.path.display().to_string(),
                            at: config::show_path(&fc.issuer_path),
                            path: fc.issuer_path.clone(),
                            kind: config::Kind::Str,
                        },
                        hidden: None,
                    }),
                    Some(_) => {}
                    None => {
                        self.plan.notes.push(format!(
                            "connector {} is defined in {} line {} without a string issuer at {}; nothing is planned for it",
                            v.id,
                            file.path.display(),
                            fc.line,
                            config::show_path(&fc.issuer_path)
                        ));
                        continue;
                    }
                }
                if !self.has_row[c.idx] {
                    continue;
                }
            }
            let (field, from) = if s.issuer_alias {
                (
                    "issuerAlias".to_string(),
                    v.endpoints
                        .get("issuerAlias")
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                )
            } else {
                ("issuer".to_string(), from)
            };
            if from != c.to {
                self.plan.changes.push(Change {
                    connector: v.id.to_string(),
                    field,
                    from,
                    to: c.to,
                    source: c.source,
                    evidence: c.evidence,
                    store: Store::Database,
                    hidden: None,
                });
            }
        }
        if s.issuer_alias && self.plan.changes.iter().any(|c| c.store.is_database()) {
            self.plan.notes.push("issuerAlias makes Dex skip the discovery issuer check and accept tokens from the alias; it needs Dex v2.43 or later".into());
        }
    }

    /// `--set CONNECTOR.FIELD=VALUE`: an existing string field, set as given (after any issuer change).
    fn add_sets(&mut self, rows: &[ConnectorRow], sets: &[SetField]) -> Result<()> {
        for s in sets {
            let Some(row) = rows.iter().find(|r| r.id == s.connector) else {
                continue;
            };
            let cfg = row.config.as_deref().unwrap_or(b"");
            let fields = top_level_fields(cfg).map_err(|e| {
                anyhow::anyhow!("connector {}: {e}; nothing was changed", s.connector)
            })?;
            let Some(f) = jsonedit::effective_field(&fields, &s.field) else {
                bail!("connector {} has no field {:?}; ozrepair edits values, it never adds fields; nothing was changed", s.connector, s.field);
            };
            if crate::dex::secrets::is_secret_field(&f.key) {
                return Err(UsageError(format!(
                    "--set {}.{} names the secret field {:?} as Go reads it; --set does not set secrets; nothing was changed",
                    s.connector, s.field, f.key
                ))
                .into());
            }
            let from = match string_value(cfg, &fields, &f.key) {
                StrValue::Str(v) => v,
                _ => bail!(
                    "connector {} field {:?} is not a string; nothing was changed",
                    s.connector,
                    f.key
                ),
            };
            if from != s.value {
                self.plan
                    .changes
                    .retain(|c| !(c.connector == s.connector && c.field == f.key));
                self.plan.changes.push(Change {
                    connector: s.connector.clone(),
                    field: f.key.to_string(),
                    from,
                    to: s.value.clone(),
                    source: Source::Explicit,
                    evidence: format!("--set {}.{}", s.connector, s.field),
                    store: Store::Database,
                    hidden: None,
                });
            }
        }
        Ok(())
    }
}

/// What a run does with its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Change nothing and judge what was seen (inspect, `--dry-run`, or nothing to do).
    Judge,
    /// Only start the container: the database already holds the fix (an interrupted run).
    Start,
    /// Write the changes in a stop window.
    Write,
}

impl Plan {
    /// The IdP is down because of a connector whose fix is already in the store.
    pub fn needs_start(&self, unit: Option<&Unit>) -> bool {
        unit.is_some_and(|u| u.state.is_down()) && self.already_applied > 0
    }

    /// What to do next: write when there are changes and the run may write, start when only a start is
    /// due (and allowed), else judge.
    pub fn next(&self, unit: Option<&Unit>, s: &ApplyOpts) -> Next {
        if s.dry_run {
            Next::Judge
        } else if !self.changes.is_empty() {
            Next::Write
        } else if s.restart() && self.needs_start(unit) {
            Next::Start
        } else {
            Next::Judge
        }
    }

    /// The verdict of a look that changes nothing: pending (3) when there is a plan or a start is due,
    /// healthy (0), or failed (1) when the IdP is down for a reason ozrepair cannot see. Notes it adds go
    /// into `notes`.
    pub fn judge(&self, runtime: Option<&dyn Runtime>, notes: &mut Vec<String>) -> Verdict {
        let unit = runtime.and_then(|r| r.unit());
        if !self.changes.is_empty() {
            notes.extend(
                self.held_elsewhere
                    .iter()
                    .map(|h| format!("after the change, {h}")),
            );
            return Verdict::pending();
        }
        if self.needs_start(unit) {
            notes.push("the database already holds the corrected issuer; the container is stopped: `ozrepair fix` starts it".into());
            return Verdict::pending();
        }
        // What would fix it is in a place ozrepair does not change (a generated config file).
        if !self.held_elsewhere.is_empty() {
            return Verdict::new(Outcome::ActionNeeded, ExitCode::ActionNeeded).with_error(
                format!(
                    "{}; nothing was changed",
                    self.held_elsewhere.join("; and ")
                ),
            );
        }
        let unasked: Vec<&Asked> = self
            .discovered
            .iter()
            .filter(|a| a.answer.is_err())
            .collect();
        if let Some(first) = unasked.first() {
            let why = first.answer.as_ref().err().cloned().unwrap_or_default();
            return Verdict::new(Outcome::Failed, ExitCode::Failed).with_error(format!(
                "connector {}: {why}; its stored issuer is unchecked, so this check is not OK{}; nothing was changed",
                first.connector,
                match unasked.len() {
                    1 => String::new(),
                    n => format!(" ({} more providers could not be asked either)", n - 1),
                }
            ));
        }
        if let Some(c) = unit.filter(|u| u.failing()) {
            {
                let why = match self.notes.first() {
                    Some(n) => format!("ozrepair has no database change that fixes it: {n}"),
                    None => {
                        "its logs since the last start show no connector error ozrepair can fix"
                            .to_string()
                    }
                };
                let (noun, logs) = match runtime {
                    Some(r) => (
                        if r.kind() == "systemd" {
                            "unit"
                        } else {
                            "container"
                        },
                        r.logs_command()
                            .unwrap_or_else(|| format!("docker logs {}", c.name)),
                    ),
                    None => ("container", format!("docker logs {}", c.name)),
                };
                return Verdict::new(Outcome::Failed, ExitCode::Failed).with_error(format!(
                    "{noun} {} is {} (exit code {}) and {why}; nothing was changed; read `{logs}`, and if you know the right issuer pass --issuer with --connector",
                    c.name, c.state, c.exit_code
                ));
            }
        }
        if self.judges_connectors {
            self.judge_connectors(notes)
        } else {
            Verdict::healthy()
        }
    }

    /// With nothing to change: action needed when a connector has a problem ozrepair plans no change for
    /// (Dex cannot decode its config, the IdP reports it failing for another reason); unchecked when
    /// nothing vouched for a connector (no start's log lines, no provider asked); healthy only when every
    /// connector was checked.
    fn judge_connectors(&self, notes: &mut Vec<String>) -> Verdict {
        let in_scope = |c: &&ConnectorView| self.scope.as_ref().is_none_or(|s| *s == c.id);
        let problems: Vec<&ConnectorView> = self
            .connectors
            .iter()
            .filter(in_scope)
            .filter(|c| c.status != Status::Ok && c.problem.is_some())
            .collect();
        if let Some(first) = problems.first() {
            // Failed logins name their repair; other problems have none in ozrepair.
            let repair = self
                .logins
                .iter()
                .find(|l| {
                    l.connector.as_deref() == Some(first.id.as_str())
                        || l.candidates.iter().any(|c| *c == first.id)
                })
                .map(|l| format!("; nothing was changed; {}", l.repair))
                .unwrap_or_else(|| {
                    "; ozrepair has no change for it: correct it in the dashboard or by hand".into()
                });
            return Verdict::new(Outcome::ActionNeeded, ExitCode::ActionNeeded).with_error(
                format!(
                    "connector {}: {}{}{repair}",
                    first.id,
                    first.problem.as_deref().unwrap_or_default(),
                    match problems.len() {
                        1 => String::new(),
                        n => format!(" ({} more connectors have problems: see the report)", n - 1),
                    }
                ),
            );
        }
        if let Some(m) = self
            .logins
            .iter()
            .find(|l| l.connector.as_deref() == Some(crate::config::MANAGEMENT))
        {
            return Verdict::new(Outcome::ActionNeeded, ExitCode::ActionNeeded).with_error(format!(
                "the management server refused {} token(s) for their times (last {}: {}); nothing was changed; {}",
                m.count, m.last, m.code, m.repair
            ));
        }
        let unchecked: Vec<&str> = self
            .connectors
            .iter()
            .filter(in_scope)
            .filter(|c| c.status != Status::Ok)
            .map(|c| c.id.as_str())
            .collect();
        if unchecked.is_empty() {
            return Verdict::healthy();
        }
        notes.push(format!(
            "{} of {} connector(s) not checked ({}): nothing showed them working (no log lines of a start that served with them, no provider asked); `--discover` asks their providers, `--issuer` with `--connector` gives a value",
            unchecked.len(),
            self.connectors.len(),
            unchecked.join(", ")
        ));
        Verdict::new(Outcome::Unchecked, ExitCode::Unchecked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dex::Storage;
    use crate::logs::Evidence;

    fn row(id: &str, typ: &str, cfg: &str) -> ConnectorRow {
        ConnectorRow {
            id: id.into(),
            typ: typ.into(),
            name: id.into(),
            resource_version: String::new(),
            config: Some(cfg.as_bytes().to_vec()),
            storage: Storage::Blob,
        }
    }

    fn logs(expected: &str, got: &str, connector: Option<&str>) -> LogFindings {
        LogFindings {
            evidence: vec![Evidence {
                connector: connector.map(String::from),
                expected: expected.into(),
                got: got.into(),
                time: String::new(),
            }],
            ..Default::default()
        }
    }

    /// The plan for these rows and logs, with the operator's `--connector` and `--issuer`; `served`: the
    /// logs are of a start that got to serving.
    fn plan_of(
        rows: &[ConnectorRow],
        logs: Option<&LogFindings>,
        served: bool,
        only: Option<&str>,
        issuer: Option<&str>,
    ) -> Result<(Vec<ConnectorView>, Plan)> {
        let ready;
        let logs = if served {
            let mut l = logs.cloned().unwrap_or_default();
            l.ready = true;
            ready = l;
            Some(&ready)
        } else {
            logs
        };
        let seen = Seen {
            rows,
            logs,
            discovered: &[],
            configs: &Configs::default(),
        };
        let settings = PlanArgs {
            connector: only.map(String::from),
            issuer: issuer.map(String::from),
            ..PlanArgs::default()
        };
        let mut plan = build(&seen, &settings, false)?;
        Ok((std::mem::take(&mut plan.connectors), plan))
    }

    #[test]
    fn log_evidence_targets_the_connector_with_the_expected_issuer() {
        let rows = [
            row("a", "oidc", r#"{"issuer":"https://x"}"#),
            row("b", "oidc", r#"{"issuer":"https://y"}"#),
        ];
        let l = logs("https://y", "https://y/", None);
        let (views, plan) = plan_of(&rows, Some(&l), false, None, None).unwrap();
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(
            (
                plan.changes[0].connector.as_str(),
                plan.changes[0].to.as_str()
            ),
            ("b", "https://y/")
        );
        assert_eq!(views[0].status, Status::Unknown);
        assert_eq!(views[1].status, Status::Mismatch);
    }

    #[test]
    fn evidence_that_is_already_applied_plans_nothing() {
        let rows = [row("a", "oidc", r#"{"issuer":"https://y/"}"#)];
        let l = logs("https://y", "https://y/", Some("a"));
        let (_, plan) = plan_of(&rows, Some(&l), true, None, None).unwrap();
        assert!(plan.changes.is_empty() && plan.notes.is_empty());
    }

    #[test]
    fn evidence_for_an_unknown_connector_becomes_a_note() {
        let rows = [row("a", "oidc", r#"{"issuer":"https://x"}"#)];
        let l = logs("https://static", "https://static/", Some("static1"));
        let (_, plan) = plan_of(&rows, Some(&l), false, None, None).unwrap();
        assert!(plan.changes.is_empty());
        assert!(plan.notes[0].contains("config file"));
    }

    fn configs_with(id: &str, issuer: &str, held: config::Held) -> Configs {
        Configs {
            files: vec![config::ConfigFile {
                path: "/etc/netbird/management.json".into(),
                in_container: "/etc/netbird/management.json".into(),
                format: config::Format::Json,
                bytes: Vec::new(),
            }],
            connectors: vec![config::FileConnector {
                id: id.into(),
                typ: "oidc".into(),
                name: id.into(),
                issuer: Some(issuer.into()),
                file: 0,
                issuer_path: vec![config::Seg::Key("issuer".into())],
                config_path: Vec::new(),
                held,
                secrets: Vec::new(),
                line: 1,
            }],
            login_flags: Vec::new(),
            auth: None,
            idp_manager: None,
            env_endpoint: None,
            env_unedited: None,
            notes: Vec::new(),
            unread_flags: 0,
            generated: Vec::new(),
        }
    }

    fn plan_with(rows: &[ConnectorRow], configs: &Configs, l: &LogFindings) -> Plan {
        let seen = Seen {
            rows,
            logs: Some(l),
            discovered: &[],
            configs,
        };
        build(&seen, &PlanArgs::default(), false).unwrap()
    }

    #[test]
    fn a_refusal_names_the_file_and_line_of_a_connector_it_cannot_set() {
        let mut configs = configs_with("dexjc", "https://y", config::Held::Overlay);
        configs.connectors[0].issuer = None;
        configs.connectors[0].line = 12;
        let settings = PlanArgs {
            connector: Some("dexjc".into()),
            issuer: Some("https://y/".into()),
            ..PlanArgs::default()
        };
        let seen = Seen {
            rows: &[],
            logs: None,
            discovered: &[],
            configs: &configs,
        };
        let e = build(&seen, &settings, false).unwrap_err().to_string();
        assert!(
            e.contains("connector dexjc (defined in /etc/netbird/management.json line 12) has no issuer field"),
            "{e}"
        );
        // A file whose connectors could not be read is named when the connector is not found.
        configs.connectors.clear();
        configs.notes.push(
            "/etc/dex/config.yaml: YAML line 4: a flow collection that does not end on its line; its connectors were not read".into(),
        );
        let e = build(&seen_of(&configs), &settings, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("there is no connector \"dexjc\""), "{e}");
        assert!(e.contains("; /etc/dex/config.yaml: YAML line 4:"), "{e}");
        assert!(!e.contains('\n'));
    }

    fn seen_of(configs: &Configs) -> Seen<'_> {
        Seen {
            rows: &[],
            logs: None,
            discovered: &[],
            configs,
        }
    }

    #[test]
    fn a_static_connector_is_changed_in_its_file_and_its_row() {
        let rows = [row("jc", "oidc", r#"{"issuer":"https://y"}"#)];
        let configs = configs_with("jc", "https://y", config::Held::Static);
        let plan = plan_with(
            &rows,
            &configs,
            &logs("https://y", "https://y/", Some("jc")),
        );
        assert_eq!(plan.changes.len(), 2, "{:?}", plan.changes);
        assert!(matches!(&plan.changes[0].store, Store::File { at, .. } if at == "issuer"));
        assert_eq!(plan.changes[1].store, Store::Database);
        assert!(plan.changes.iter().all(|c| c.to == "https://y/"));
        assert_eq!(plan.connectors[0].store, "static");
    }

    #[test]
    fn an_overlay_connector_is_changed_in_its_file_only() {
        let rows = [row("local", "local", "{}")];
        let configs = configs_with("dexjc", "https://y", config::Held::Overlay);
        let plan = plan_with(
            &rows,
            &configs,
            &logs("https://y", "https://y/", Some("dexjc")),
        );
        assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
        assert!(!plan.changes[0].store.is_database());
        assert_eq!(plan.connectors[1].store, "overlay");
        assert_eq!(plan.connectors[1].status, Status::Mismatch);
    }

    #[test]
    fn explicit_issuer_needs_a_connector_when_ambiguous() {
        let rows = [
            row("a", "oidc", r#"{"issuer":"https://x"}"#),
            row("b", "oidc", r#"{"issuer":"https://y"}"#),
        ];
        let e = plan_of(&rows, None, false, None, Some("https://z")).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some());
        let (_, plan) = plan_of(&rows, None, false, Some("b"), Some("https://z")).unwrap();
        assert_eq!(plan.changes[0].source, Source::Explicit);
        assert_eq!(plan.changes[0].from, "https://y");
    }

    /// A discovery answer that equals the stored issuer does not make a config Dex cannot decode ok.
    #[test]
    fn discovery_never_makes_an_undecodable_config_ok() {
        let rows = [row(
            "a",
            "oidc",
            r#"{"issuer":"https://x","claimModifications":{"filterGroupClaims":{"groupsFilter":5}}}"#,
        )];
        let discovered = [Asked {
            connector: "a".into(),
            answer: Ok("https://x".into()),
        }];
        let seen = Seen {
            rows: &rows,
            logs: None,
            discovered: &discovered,
            configs: &Configs::default(),
        };
        let plan = build(&seen, &PlanArgs::default(), false).unwrap();
        assert_eq!(plan.connectors[0].status, Status::Unknown);
        let problem = plan.connectors[0].problem.as_deref().unwrap_or_default();
        assert!(problem.starts_with(UNDECODABLE), "{problem}");
        assert!(problem.contains("groupsFilter"), "{problem}");
    }

    /// An empty or NULL config of a type Dex decodes: what Dex sees, never "not valid JSON".
    #[test]
    fn an_empty_config_is_reported_as_dex_sees_it() {
        let mut null = row("n", "oidc", "");
        null.config = None;
        let rows = [row("e", "oidc", ""), null, row("j", "github", "null")];
        let (views, plan) = plan_of(&rows, None, true, None, None).unwrap();
        for v in &views {
            let p = v.problem.as_deref().unwrap_or_default();
            assert!(p.contains("every field empty"), "{}: {p}", v.id);
            assert_eq!(v.status, Status::Unknown);
        }
        assert!(views[0]
            .problem
            .as_deref()
            .unwrap_or_default()
            .contains(r#"issuer """#));
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn local_connector_without_config_is_ok_and_never_changed() {
        let mut local = row("local", "local", "");
        local.config = None;
        local.storage = Storage::Null;
        let (views, plan) = plan_of(&[local], None, false, None, None).unwrap();
        assert_eq!(views[0].status, Status::Ok);
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn a_zero_config_of_a_type_not_modelled_is_no_problem() {
        // Dex decodes a config only when it has bytes (and `null` into nothing): its `local` connector
        // stored with an empty config (as a PostgreSQL bytea '') is fine; a broken one is still named.
        for cfg in ["", "null", " null\n"] {
            let (issuer, _, problem) = read_config(
                &row("local", "local", cfg),
                &mut Vec::new(),
                &mut Vec::new(),
            );
            assert_eq!((issuer, problem), (None, None), "{cfg:?}");
        }
        let (_, _, problem) = read_config(
            &row("local", "local", "{"),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert!(problem.is_some_and(|p| p.contains("not valid JSON")));
    }
}
