//! The deployment's config files: management.json (NetBird/openZro's own settings, `EmbeddedIdP`, the
//! management's OIDC settings in `HttpConfig`), Dex's config.yaml (static connectors, `enablePasswordDB`)
//! and the setup env file the compose project names. Read from the container's mounts, read-only; each
//! value that can be repaired is found with the exact bytes it occupies, so an edit changes only those.
//!
//! Why these files matter: NetBird upserts `EmbeddedIdP.StaticConnectors` into the database at every
//! start, overwriting Name and Config (`idp/dex/connector.go` `ensureStaticConnectors`), so a database
//! edit alone is undone before Dex opens the connector; Dex's own `connectors:` are an in-memory overlay
//! that never reaches the database. Both are repaired in the file ([`edit`]), and a static connector's
//! row with it, in one run.
//!
//! [`yaml`] and [`envfile`] read and edit the two text formats in place; JSON goes through
//! [`crate::dex::jsonedit`].

pub mod envfile;
pub mod yaml;

use crate::dex::jsonedit::{self, Field};
use crate::runtime::{ConfigPlace, Generated};
use anyhow::{anyhow, bail, Result};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The largest config file ozrepair reads (NetBird's management.json is a few KiB).
const MAX_FILE: u64 = 4 << 20;

/// One step of a path into a config file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path as the report shows it: `EmbeddedIdP.StaticConnectors[0].config.issuer`.
pub fn show_path(path: &[Seg]) -> String {
    let mut s = String::new();
    for p in path {
        match p {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// What kind of value an edit targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kind {
    /// A string (`from` and `to` are its text).
    #[default]
    Str,
    /// A boolean (`from` and `to` are `true` or `false`).
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// A shell file of assignments (NetBird's setup.env, which configure.sh sources).
    Env,
}

/// A config file found in the container's mounts, as read in this run.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it is on this host.
    pub path: PathBuf,
    /// Where the container sees it.
    pub in_container: String,
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// Where a connector's config lives, besides (or instead of) a database row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// management.json `EmbeddedIdP.StaticConnectors`: written into the database at every start.
    Static,
    /// Dex's config `connectors:`: an overlay in memory, never in the database.
    Overlay,
}

impl Held {
    pub fn as_str(self) -> &'static str {
        match self {
            Held::Static => "static",
            Held::Overlay => "overlay",
        }
    }
}

/// A connector a config file defines.
#[derive(Debug, Clone)]
pub struct FileConnector {
    pub id: String,
    pub typ: String,
    pub name: String,
    /// Its issuer as the server reads it (None when absent or not a string).
    pub issuer: Option<String>,
    /// Index into [`Configs::files`].
    pub file: usize,
    /// Where its issuer is in that file.
    pub issuer_path: Vec<Seg>,
    /// Where its `config` object is in that file (keys spelled as the file spells them).
    pub config_path: Vec<Seg>,
    pub held: Held,
    /// The secret values of its config (the report scrubs them).
    pub secrets: Vec<String>,
    /// The 1-based line where it is defined in that file (for messages).
    pub line: usize,
}

/// A setting that turns local (email and password) login off or on.
#[derive(Debug, Clone)]
pub struct LoginFlag {
    /// Index into [`Configs::files`].
    pub file: usize,
    pub path: Vec<Seg>,
    /// Its value now.
    pub value: bool,
    /// The value that lets local login in: false for `LocalAuthDisabled`, true for `enablePasswordDB`.
    pub enabled_when: bool,
}

/// The name the report gives the management server's own settings (in place of a connector id).
pub const MANAGEMENT: &str = "management";

/// The management's own OIDC settings in management.json (`HttpConfig`), for the standalone setup (an
/// external IdP, no embedded one): the issuer every token must carry, and the discovery endpoint.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Index into [`Configs::files`].
    pub file: usize,
    /// `HttpConfig.AuthIssuer`.
    pub issuer: String,
    pub issuer_path: Vec<Seg>,
    /// `HttpConfig.OIDCConfigEndpoint`, when it is a string.
    pub endpoint: Option<String>,
    pub endpoint_path: Vec<Seg>,
    /// `EmbeddedIdP.Enabled` is true: the embedded IdP issues the tokens, and NetBird derives these.
    pub embedded: bool,
}

/// management.json's `IdpManagerConfig`: the client the management server calls its IdP's management API
/// with (NetBird's IdP managers: Zitadel, Keycloak, Authentik, Azure, …), read as encoding/json reads it.
#[derive(Debug, Clone)]
pub struct IdpManager {
    /// Index into [`Configs::files`].
    pub file: usize,
    /// `ManagerType`.
    pub manager_type: String,
    /// `ClientConfig.ClientID`, `TokenEndpoint`, `GrantType` (empty when absent or not strings).
    pub client_id: String,
    pub token_endpoint: String,
    pub grant_type: String,
    /// Where `ClientConfig.ClientSecret` is, as the file spells the keys (None when absent), and its
    /// value when it is a string.
    pub secret_path: Option<Vec<Seg>>,
    pub secret: Option<String>,
}

/// Every config file found, and the connectors they define.
#[derive(Debug, Clone, Default)]
pub struct Configs {
    pub files: Vec<ConfigFile>,
    pub connectors: Vec<FileConnector>,
    /// The settings that decide whether local login is on.
    pub login_flags: Vec<LoginFlag>,
    /// The management's OIDC settings (the first management.json that has `HttpConfig.AuthIssuer`).
    pub auth: Option<AuthSettings>,
    /// The management's IdP-manager credential (the first management.json with `IdpManagerConfig`).
    pub idp_manager: Option<IdpManager>,
    /// The setup env file's OIDC discovery endpoint (`…_AUTH_OIDC_CONFIGURATION_ENDPOINT`), from which
    /// configure.sh writes management.json again: (file index, key, value), the assignment bash uses (the
    /// last), when bash reads it literally.
    pub env_endpoint: Option<(usize, String, String)>,
    /// The setup env file that holds that endpoint where ozrepair cannot edit it exactly (a `$`
    /// expansion, CRLF line ends, a continuation, a file it cannot read as bash does): where, and why.
    pub env_unedited: Option<String>,
    /// Files that could not be read or understood, one line each.
    pub notes: Vec<String>,
    /// The files that something else writes (index into [`Configs::files`]), and from what: never
    /// edited; a change of them is an action for the operator in their source of truth.
    pub generated: Vec<(usize, Generated)>,
    /// Settings that turn local login on or off but hold a value their server does not read as a
    /// boolean (each named in `notes` with its file and line).
    pub unread_flags: usize,
}

impl Configs {
    /// One line per file read, for the report: where it is, where the container sees it, what it defines.
    pub fn describe(&self) -> Vec<String> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let n = self.connectors.iter().filter(|c| c.file == i).count();
                let flags = self.login_flags.iter().filter(|l| l.file == i).count();
                let mut what = vec![format!("{n} connector(s)")];
                if flags > 0 {
                    what.push("the local-login setting".into());
                }
                let generated = self
                    .generated_of(i)
                    .map(|g| format!("; generated by {}", g.by))
                    .unwrap_or_default();
                let seen = if f.in_container.starts_with('/') {
                    format!("in the container {}", f.in_container)
                } else {
                    f.in_container.clone()
                };
                format!(
                    "config file {} ({seen}): {}{generated}",
                    f.path.display(),
                    what.join(", ")
                )
            })
            .collect()
    }

    /// What writes the file at `idx`, when something else does.
    pub fn generated_of(&self, idx: usize) -> Option<&Generated> {
        self.generated
            .iter()
            .find(|(i, _)| *i == idx)
            .map(|(_, g)| g)
    }

    /// What writes the file at `path`, when something else does.
    pub fn generated_at(&self, path: &Path) -> Option<&Generated> {
        let idx = self.files.iter().position(|f| f.path == path)?;
        self.generated_of(idx)
    }

    /// The connector with this id that a config file defines.
    pub fn connector(&self, id: &str) -> Option<&FileConnector> {
        self.connectors.iter().find(|c| c.id == id)
    }

    pub fn file_of(&self, c: &FileConnector) -> &ConfigFile {
        &self.files[c.file]
    }
}

/// Reads the config files in the places the runtime names (a mounted file by its name, or one in a
/// mounted directory, one level; the setup file in or above the deployment's own directory). Nothing is
/// written; a file that cannot be read is a note, not an error.
pub fn read(places: &[ConfigPlace]) -> Configs {
    let mut out = Configs::default();
    let mut seen: Vec<PathBuf> = Vec::new();
    for place in places {
        match place {
            // NetBird's setup: configure.sh, run beside setup.env, writes the compose project into
            // artifacts/.
            ConfigPlace::SetupDir(dir) => {
                for p in [dir.join("setup.env"), dir.join("../setup.env")] {
                    let Ok(real) = std::fs::canonicalize(p.parent().unwrap_or(dir)) else {
                        continue;
                    };
                    let p = real.join("setup.env");
                    if seen.contains(&p) || std::fs::symlink_metadata(&p).is_err() {
                        continue;
                    }
                    seen.push(p.clone());
                    match read_file(&p) {
                        Ok(bytes) => out.add(ConfigFile {
                            in_container: "(not mounted: the compose project's setup file)".into(),
                            path: p,
                            format: Format::Env,
                            bytes,
                        }),
                        Err(e) => out.notes.push(format!("{e:#}")),
                    }
                }
            }
            ConfigPlace::Mount { source, seen_at } => {
                read_mount(source, seen_at, &mut seen, &mut out)
            }
            ConfigPlace::File {
                path,
                named_by,
                generated,
            } => {
                if seen.contains(path) {
                    continue;
                }
                seen.push(path.clone());
                let Some(format) = format_of(path) else {
                    out.notes.push(format!(
                        "{} ({named_by}) is neither JSON nor YAML by its name; it was not read",
                        path.display()
                    ));
                    continue;
                };
                match read_file(path) {
                    Ok(bytes) => {
                        let g = generated
                            .clone()
                            .or_else(|| crate::runtime::generated::by_content(path, &bytes));
                        if let Some(g) = g {
                            out.generated.push((out.files.len(), g));
                        }
                        if let Err(e) = single_link(path) {
                            out.notes.push(format!("{e:#}"));
                        }
                        out.add(ConfigFile {
                            path: path.clone(),
                            in_container: named_by.clone(),
                            format,
                            bytes,
                        })
                    }
                    // Written at start (a runtime directory, removed while the unit is down).
                    Err(_) if generated.is_some() && std::fs::symlink_metadata(path).is_err() => {
                        out.notes.push(format!(
                            "{} ({named_by}) is not there now: it is generated by {}; connectors or settings defined there were not read",
                            path.display(),
                            generated.as_ref().map(|g| g.by.as_str()).unwrap_or_default()
                        ))
                    }
                    Err(e) => out.notes.push(format!("{e:#}")),
                }
            }
        }
    }
    out
}

/// The config files one mount brings in.
fn read_mount(src: &Path, dest: &str, seen: &mut Vec<PathBuf>, out: &mut Configs) {
    let Ok(meta) = std::fs::symlink_metadata(src) else {
        // A config mount this machine cannot see (a remote engine, another user's files): said, since a
        // static connector defined there would be written into the database again at every start.
        let dest = dest.trim_end_matches('/');
        if known_name(Path::new(dest)).is_some() || dest == "/etc/netbird" || dest == "/etc/dex" {
            out.notes.push(format!(
                "the container mounts {} at {dest}, which ozrepair cannot read from this machine; connectors or settings defined there are not seen (run ozrepair on the engine's host to include them)",
                src.display()
            ));
        }
        return;
    };
    let mut found = Vec::new();
    if meta.is_file() {
        if let Some(f) = known_name(src) {
            found.push((src.to_path_buf(), dest.to_string(), f));
        }
    } else if meta.is_dir() {
        for name in ["management.json", "config.yaml", "config.yml"] {
            let p = src.join(name);
            if let Some(f) = known_name(&p).filter(|_| std::fs::symlink_metadata(&p).is_ok()) {
                found.push((p, format!("{}/{name}", dest.trim_end_matches('/')), f));
            }
        }
    }
    for (path, in_container, format) in found {
        if seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        match read_file(&path) {
            Ok(bytes) => {
                if let Some(g) = crate::runtime::generated::by_content(&path, &bytes) {
                    out.generated.push((out.files.len(), g));
                }
                if let Err(e) = single_link(&path) {
                    out.notes.push(format!("{e:#}"));
                }
                let file = ConfigFile {
                    path,
                    in_container,
                    format,
                    bytes,
                };
                out.add(file);
            }
            Err(e) => out.notes.push(format!("{e:#}")),
        }
    }
}

/// The format of a config file ozrepair reads, by its name, or (a file a unit's definition names,
/// `--config /etc/dex/dex.yaml`) by its extension. None: not one ozrepair reads.
pub fn format_of(p: &Path) -> Option<Format> {
    if let Some(f) = known_name(p) {
        return Some(f);
    }
    let ext = p.extension()?.to_str()?;
    match ext {
        "json" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

/// The format of a config file ozrepair looks for in a mount, by its name alone (None: not one of
/// them).
pub fn known_name(p: &Path) -> Option<Format> {
    let name = p.file_name()?.to_str()?;
    if name == "management.json" {
        Some(Format::Json)
    } else if matches!(name, "config.yaml" | "config.yml" | "config.docker.yaml") {
        Some(Format::Yaml)
    } else if name == "setup.env" {
        Some(Format::Env)
    } else {
        None
    }
}

/// A config file's bytes, read without following a link and only when it is a regular file.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let (dir, name) = split(path)?;
    let meta = dir
        .stat(&name)?
        .ok_or_else(|| anyhow!("{} is gone", path.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link; ozrepair neither reads nor edits config files through links: edit the file it points to by hand, or mount that file instead",
            path.display()
        );
    }
    if !meta.is_file() {
        bail!("{} is not a regular file; it was not read", path.display());
    }
    if meta.len() > MAX_FILE {
        bail!(
            "{} is {} bytes, more than a config file can sensibly be; it was not read",
            path.display(),
            meta.len()
        );
    }
    let mut f = dir.open_file(&name)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut bytes)
        .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

pub use crate::safefs::dir::split;

/// A config file's bytes for an edit: [`read_file`], and refused with one line when another name links to
/// the same file. An edit replaces the file by rename, which would leave every other name with the old
/// bytes: the file would be split silently.
pub fn read_for_edit(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_file(path)?;
    single_link(path)?;
    Ok(bytes)
}

/// Refuses a file with more than one (hard) link, with one line.
fn single_link(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (dir, name) = split(path)?;
    let meta = dir
        .stat(&name)?
        .ok_or_else(|| anyhow!("{} is gone", path.display()))?;
    if meta.nlink() > 1 {
        bail!(
            "{} has {} hard links (another name shares the file), and ozrepair writes a config file by replacing it, which would leave the other names with the old content; nothing was changed in it; edit it by hand, or make it a file of its own (`cp -p FILE FILE.new && mv FILE.new FILE`) and run again",
            path.display(),
            meta.nlink()
        );
    }
    Ok(())
}

impl Configs {
    /// The configs of these files, read as [`read`] reads the ones it finds (for tests).
    pub fn of_files(files: Vec<ConfigFile>) -> Configs {
        let mut out = Configs::default();
        for f in files {
            out.add(f);
        }
        out
    }

    fn add(&mut self, file: ConfigFile) {
        let idx = self.files.len();
        let found = match file.format {
            Format::Json => management_connectors(&file.bytes, idx),
            Format::Yaml => yaml_connectors(&file.bytes, idx),
            Format::Env => {
                match envfile::assignments(&file.bytes) {
                    Ok(list) => {
                        // bash uses the last assignment of a key: that one is read; a key assigned
                        // more than once is named, never edited (an edit of one would leave the
                        // others to be misread).
                        let is_it = |a: &envfile::Assignment| {
                            a.key.ends_with("_AUTH_OIDC_CONFIGURATION_ENDPOINT")
                        };
                        let times = list.iter().filter(|a| is_it(a)).count();
                        let last = list.into_iter().rfind(is_it);
                        match last {
                            Some(a) if times > 1 => {
                                self.env_unedited = Some(format!(
                                    "{} assigns {} {times} times (bash uses the last, line {}: {:?}), which ozrepair does not edit",
                                    file.path.display(),
                                    a.key,
                                    a.line,
                                    a.value
                                ));
                            }
                            Some(a) if a.literal => {
                                self.env_endpoint = Some((idx, a.key, a.value));
                            }
                            Some(a) => {
                                self.env_unedited = Some(format!(
                                    "{} line {} sets {} to {:?} in a form bash does not read literally ({}), which ozrepair does not edit",
                                    file.path.display(),
                                    a.line,
                                    a.key,
                                    a.value,
                                    envfile::why_not_literal(&file.bytes, &a)
                                ));
                            }
                            None => {}
                        }
                    }
                    Err(e) => {
                        self.notes
                            .push(format!("{}: {e:#}; it was not read", file.path.display()));
                        if String::from_utf8_lossy(&file.bytes)
                            .contains("_AUTH_OIDC_CONFIGURATION_ENDPOINT")
                        {
                            self.env_unedited = Some(format!(
                                "{} sets an OIDC configuration endpoint, and ozrepair cannot read the file as bash does ({e:#})",
                                file.path.display()
                            ));
                        }
                    }
                }
                Ok(Vec::new())
            }
        };
        if file.format == Format::Yaml {
            let (flags, unread, mut notes) = yaml_login_flags(&file.bytes, idx);
            notes.extend(yaml_connector_booleans(&file.bytes));
            self.login_flags.extend(flags);
            self.unread_flags += unread;
            let shown = file.path.display();
            self.notes
                .extend(notes.into_iter().map(|n| format!("{shown} {n}")));
        }
        if file.format == Format::Json && self.auth.is_none() {
            self.auth = auth_settings(&file.bytes, idx);
        }
        if file.format == Format::Json && self.idp_manager.is_none() {
            self.idp_manager = idp_manager(&file.bytes, idx);
        }
        if file.format == Format::Json {
            // NetBird: `EmbeddedIdP.LocalAuthDisabled` (management/server/idp/embedded.go), a Go bool
            // that encoding/json fills from `true` or `false` only (`null` leaves it false).
            let path = key_path(&["EmbeddedIdP", "LocalAuthDisabled"]);
            if let Ok(Some(span)) = json_span(&file.bytes, &path) {
                if let Some(v) = json_value(&file.bytes, span.clone(), Kind::Bool) {
                    self.login_flags.push(LoginFlag {
                        file: idx,
                        path,
                        value: v == "true",
                        enabled_when: false,
                    });
                } else if &file.bytes[span.clone()] != b"null" {
                    self.unread_flags += 1;
                    self.notes.push(format!(
                        "{} line {}: EmbeddedIdP.LocalAuthDisabled is {}, which NetBird's JSON decoder does not read as a boolean (only true and false are): the management server does not start with this file; write true or false, unquoted",
                        file.path.display(),
                        yaml::line_at(&file.bytes, span.start),
                        String::from_utf8_lossy(&file.bytes[span.clone()]).chars().take(40).collect::<String>()
                    ));
                }
            }
        }
        match found {
            Ok(list) => self.connectors.extend(list),
            Err(e) => self.notes.push(format!(
                "{}: {e}; its connectors were not read",
                file.path.display()
            )),
        }
        self.files.push(file);
    }
}

/// management.json's `EmbeddedIdP.StaticConnectors`, read as NetBird's encoding/json reads them.
fn management_connectors(bytes: &[u8], file: usize) -> Result<Vec<FileConnector>> {
    let Some(list) = json_span(bytes, &key_path(&["EmbeddedIdP", "StaticConnectors"]))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, el) in jsonedit::array_elements(&bytes[list.clone()])
        .iter()
        .enumerate()
    {
        let el = list.start + el.start..list.start + el.end;
        let item = &bytes[el.clone()];
        let Ok(fields) = jsonedit::top_level_fields(item) else {
            continue;
        };
        let s = |k: &str| str_field(item, &fields, k);
        let Some(id) = s("id") else { continue };
        let mut path = key_path(&["EmbeddedIdP", "StaticConnectors"]);
        path.push(Seg::Index(i));
        path.push(Seg::Key("config".into()));
        path.push(Seg::Key("issuer".into()));
        let mut secrets = Vec::new();
        if let Some(cfg) = json_span(bytes, &path[..path.len() - 1])? {
            crate::dex::secrets::collect(&bytes[cfg], &mut secrets);
        }
        let issuer = json_span(bytes, &path)?
            .filter(|r| bytes[r.start] == b'"')
            .and_then(|r| jsonedit::go_json_unquote(&bytes[r]));
        out.push(FileConnector {
            id,
            typ: s("type").unwrap_or_default(),
            name: s("name").unwrap_or_default(),
            issuer,
            file,
            config_path: path[..path.len() - 1].to_vec(),
            issuer_path: path,
            held: Held::Static,
            secrets,
            line: yaml::line_at(bytes, el.start),
        });
    }
    Ok(out)
}

/// `HttpConfig.AuthIssuer` and `OIDCConfigEndpoint` of a management.json, as encoding/json reads them.
fn auth_settings(bytes: &[u8], file: usize) -> Option<AuthSettings> {
    let string_at = |path: &[Seg]| -> Option<String> {
        let span = json_span(bytes, path).ok()??;
        json_value(bytes, span, Kind::Str)
    };
    let issuer_path = key_path(&["HttpConfig", "AuthIssuer"]);
    let endpoint_path = key_path(&["HttpConfig", "OIDCConfigEndpoint"]);
    let issuer = string_at(&issuer_path).filter(|i| !i.is_empty())?;
    let embedded = json_span(bytes, &key_path(&["EmbeddedIdP", "Enabled"]))
        .ok()
        .flatten()
        .and_then(|s| json_value(bytes, s, Kind::Bool))
        .is_some_and(|v| v == "true");
    Some(AuthSettings {
        file,
        issuer,
        endpoint: string_at(&endpoint_path),
        issuer_path,
        endpoint_path,
        embedded,
    })
}

/// `IdpManagerConfig` of a management.json, as encoding/json reads it (None without one).
fn idp_manager(bytes: &[u8], file: usize) -> Option<IdpManager> {
    json_span(bytes, &key_path(&["IdpManagerConfig"])).ok()??;
    let string_at = |keys: &[&str]| -> String {
        json_span(bytes, &key_path(keys))
            .ok()
            .flatten()
            .and_then(|span| json_value(bytes, span, Kind::Str))
            .unwrap_or_default()
    };
    let secret_at = key_path(&["IdpManagerConfig", "ClientConfig", "ClientSecret"]);
    let resolved = resolve(bytes, &secret_at).ok().flatten();
    Some(IdpManager {
        file,
        manager_type: string_at(&["IdpManagerConfig", "ManagerType"]),
        client_id: string_at(&["IdpManagerConfig", "ClientConfig", "ClientID"]),
        token_endpoint: string_at(&["IdpManagerConfig", "ClientConfig", "TokenEndpoint"]),
        grant_type: string_at(&["IdpManagerConfig", "ClientConfig", "GrantType"]),
        secret: resolved
            .as_ref()
            .and_then(|(span, _)| json_value(bytes, span.clone(), Kind::Str)),
        secret_path: resolved.map(|(_, exact)| exact),
    })
}

/// A value of a connector's config in its file: where it is (keys as the file spells them), its text when
/// it is a string, and its line.
#[derive(Debug, Clone)]
pub struct FileValue {
    pub path: Vec<Seg>,
    pub value: Option<String>,
    pub line: usize,
}

impl Configs {
    /// Field `field` (folded as Dex folds keys) of the config of `fc`, in its file; None when absent.
    pub fn connector_value(&self, fc: &FileConnector, field: &str) -> Option<FileValue> {
        let f = self.file_of(fc);
        match f.format {
            Format::Json => {
                let mut path = fc.config_path.clone();
                path.push(Seg::Key(field.to_string()));
                let (span, exact) = resolve(&f.bytes, &path).ok()??;
                Some(FileValue {
                    line: yaml::line_at(&f.bytes, span.start),
                    value: json_value(&f.bytes, span, Kind::Str),
                    path: exact,
                })
            }
            Format::Yaml => {
                let index = fc.config_path.get(1)?;
                yaml::scalars(&f.bytes)
                    .ok()?
                    .into_iter()
                    .rfind(|sc| {
                        matches!(sc.path.as_slice(), [c, i, k, name]
                            if dex_key(c, "connectors") && i == index && dex_key(k, "config") && dex_key(name, field))
                    })
                    .map(|sc| FileValue {
                        line: yaml::line_at(&f.bytes, sc.span.start),
                        value: Some(sc.value.clone()),
                        path: sc.path,
                    })
            }
            Format::Env => None,
        }
    }
}

/// Whether a YAML key is read as `name`: Dex turns its YAML into JSON and decodes it with encoding/json,
/// which matches keys as [`jsonedit::key_matches`] does.
fn dex_key(seg: &Seg, name: &str) -> bool {
    matches!(seg, Seg::Key(k) if jsonedit::key_matches(k, name))
}

/// Dex's config `connectors:` (an overlay in memory): `connectors[i].id`, `.type`, `.name`, and
/// `.config.issuer`; the secrets of each `config:`.
fn yaml_connectors(bytes: &[u8], file: usize) -> Result<Vec<FileConnector>> {
    let scalars = yaml::scalars(bytes)?;
    let mut items: std::collections::BTreeMap<usize, FileConnector> = Default::default();
    for sc in &scalars {
        let [first, Seg::Index(i), rest @ ..] = sc.path.as_slice() else {
            continue;
        };
        if !dex_key(first, "connectors") {
            continue;
        }
        let c = items.entry(*i).or_insert_with(|| FileConnector {
            id: String::new(),
            typ: String::new(),
            name: String::new(),
            issuer: None,
            file,
            issuer_path: Vec::new(),
            config_path: vec![first.clone(), Seg::Index(*i), Seg::Key("config".into())],
            held: Held::Overlay,
            secrets: Vec::new(),
            line: yaml::line_at(bytes, sc.span.start),
        });
        match rest {
            [k] if dex_key(k, "id") => c.id = sc.value.clone(),
            [k] if dex_key(k, "type") => c.typ = sc.value.clone(),
            [k] if dex_key(k, "name") => c.name = sc.value.clone(),
            [k, f] if dex_key(k, "config") && dex_key(f, "issuer") => {
                c.issuer = Some(sc.value.clone());
                c.issuer_path = sc.path.clone();
            }
            [k, Seg::Key(name), ..]
                if dex_key(k, "config")
                    && crate::dex::secrets::is_secret_field(name)
                    && !sc.value.is_empty() =>
            {
                c.secrets.push(sc.value.clone());
            }
            _ => {}
        }
    }
    Ok(items.into_values().filter(|c| !c.id.is_empty()).collect())
}

/// The values of Dex's `connectors:` that go-yaml v2 (Dex) reads as booleans and a YAML 1.2 reader as
/// strings (`yes`, `off`, `n`, …), one note each with its line. Dex decodes each connector with its own
/// `UnmarshalJSON` (so ghodss/yaml does not turn the boolean back into a string): a boolean `id`,
/// `type`, `name` or `issuer` stops Dex from starting.
fn yaml_connector_booleans(bytes: &[u8]) -> Vec<String> {
    let Ok(scalars) = yaml::scalars(bytes) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for sc in &scalars {
        let [first, Seg::Index(_), rest @ ..] = sc.path.as_slice() else {
            continue;
        };
        let named = match rest {
            [k] => ["id", "type", "name"].iter().any(|n| dex_key(k, n)),
            [k, f] => dex_key(k, "config") && dex_key(f, "issuer"),
            _ => false,
        };
        if !dex_key(first, "connectors") || !named || sc.style != yaml::Style::Plain {
            continue;
        }
        if let (Some(b), None) = (yaml::yaml11_bool(&sc.value), yaml::yaml12_bool(&sc.value)) {
            notes.push(format!(
                "line {}: {}: {} is the boolean {b} to Dex (go-yaml v2 reads YAML 1.1 booleans), not the string {:?} a YAML 1.2 reader sees; Dex refuses a boolean there and does not start: quote the value",
                yaml::line_at(bytes, sc.span.start),
                show_path(&sc.path),
                sc.value,
                sc.value
            ));
        }
    }
    notes
}

/// Who reads a YAML setting that turns local login off, and how it decodes it into a Go `bool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagReader {
    /// Dex's `enablePasswordDB` (on when true): ghodss/yaml over go-yaml v2, then encoding/json into a
    /// bool. A plain YAML 1.1 boolean ([`yaml::yaml11_bool`]); a quoted value is a JSON string there,
    /// which the decoder refuses (Dex does not start).
    Dex,
    /// The NetBird combined server's `server.auth.localAuthDisabled` (on when false): yaml.v3 into a
    /// bool ([`yaml::v3_typed_bool`]).
    NetBird,
}

impl FlagReader {
    fn of(path: &[Seg]) -> Option<FlagReader> {
        match path {
            [k] if dex_key(k, "enablePasswordDB") => Some(FlagReader::Dex),
            [Seg::Key(a), Seg::Key(b), Seg::Key(c)]
                if a == "server" && b == "auth" && c == "localAuthDisabled" =>
            {
                Some(FlagReader::NetBird)
            }
            _ => None,
        }
    }

    /// The value as this server reads it; None when it does not read it as a boolean.
    fn read(self, sc: &yaml::Scalar) -> Option<bool> {
        match self {
            FlagReader::Dex if sc.style == yaml::Style::Plain => yaml::yaml11_bool(&sc.value),
            FlagReader::Dex => None,
            FlagReader::NetBird => yaml::v3_typed_bool(&sc.value, sc.style),
        }
    }

    fn server(self) -> &'static str {
        match self {
            FlagReader::Dex => "Dex (go-yaml v2, YAML 1.1, decoded into a Go bool)",
            FlagReader::NetBird => "NetBird (yaml.v3, decoded into a Go bool)",
        }
    }
}

/// The YAML settings that turn local login off, read as their server reads them: Dex's
/// `enablePasswordDB` (on when true) and the NetBird combined server's `server.auth.localAuthDisabled`
/// (on when false). Also how many such settings hold a value their server does not read as a boolean,
/// and a note (starting `line N:`) for each of those and for each value another YAML reader would take
/// differently (a YAML 1.1 word, or a quoted word NetBird takes as a boolean).
fn yaml_login_flags(bytes: &[u8], file: usize) -> (Vec<LoginFlag>, usize, Vec<String>) {
    let Ok(scalars) = yaml::scalars(bytes) else {
        return (Vec::new(), 0, Vec::new());
    };
    let (mut out, mut unread, mut notes) = (Vec::new(), 0, Vec::new());
    for sc in scalars {
        let Some(reader) = FlagReader::of(&sc.path) else {
            continue;
        };
        let enabled_when = reader == FlagReader::Dex;
        let line = yaml::line_at(bytes, sc.span.start);
        let at = show_path(&sc.path);
        let shown = match sc.style {
            yaml::Style::Plain => sc.value.clone(),
            _ => format!("{:?} (quoted)", sc.value),
        };
        let Some(value) = reader.read(&sc) else {
            unread += 1;
            let null = sc.style == yaml::Style::Plain
                && matches!(sc.value.as_str(), "null" | "Null" | "NULL" | "~");
            notes.push(if null {
                format!(
                    "line {line}: {at} is {shown}, which {} reads as false; ozrepair does not change a null: write true or false there by hand",
                    reader.server()
                )
            } else {
                format!(
                    "line {line}: {at} is {shown}, which {} does not read as a boolean, so it does not start with this file; write true or false there, unquoted",
                    reader.server()
                )
            });
            continue;
        };
        let core = sc.style == yaml::Style::Plain && yaml::yaml12_bool(&sc.value).is_some();
        if !core {
            notes.push(format!(
                "line {line}: {at} is {shown}: {value} to {} but the string {:?} to a YAML 1.2 reader that does not know the field is a boolean; ozrepair reads it as the server does",
                reader.server(),
                sc.value
            ));
        }
        out.push(LoginFlag {
            file,
            value,
            path: sc.path,
            enabled_when,
        });
    }
    (out, unread, notes)
}

fn key_path(keys: &[&str]) -> Vec<Seg> {
    keys.iter().map(|k| Seg::Key((*k).to_string())).collect()
}

fn str_field(src: &[u8], fields: &[Field], name: &str) -> Option<String> {
    let f = jsonedit::decoded_field(src, fields, name)?;
    let raw = &src[f.value.clone()];
    (raw.first() == Some(&b'"'))
        .then(|| jsonedit::go_json_unquote(raw))
        .flatten()
}

/// The byte span of the value at `path` in a JSON document, keys matched as Go's encoding/json matches
/// them (the last match wins); None when a step is absent. The whole document must be valid JSON.
pub fn json_span(bytes: &[u8], path: &[Seg]) -> Result<Option<Range<usize>>> {
    Ok(resolve(bytes, path)?.map(|(span, _)| span))
}

/// [`json_span`], with the path as the document spells it (each key the exact key Go's decoder used).
fn resolve(bytes: &[u8], path: &[Seg]) -> Result<Option<(Range<usize>, Vec<Seg>)>> {
    let mut span = 0..bytes.len();
    let mut exact = Vec::new();
    // Validates the whole document once.
    jsonedit::top_level_fields(bytes).map_err(|e| anyhow!("{e}"))?;
    for seg in path {
        let v = &bytes[span.clone()];
        let inner = match seg {
            Seg::Key(k) => {
                let Ok(fields) = jsonedit::top_level_fields(v) else {
                    return Ok(None);
                };
                match jsonedit::decoded_field(v, &fields, k) {
                    Some(f) => {
                        exact.push(Seg::Key(f.key.to_string()));
                        f.value.clone()
                    }
                    None => return Ok(None),
                }
            }
            Seg::Index(i) => match jsonedit::array_elements(v).get(*i) {
                Some(r) => {
                    exact.push(Seg::Index(*i));
                    r.clone()
                }
                None => return Ok(None),
            },
        };
        span = span.start + inner.start..span.start + inner.end;
    }
    Ok(Some((span, exact)))
}

/// The file with the value at `path` changed from `from` to `to`, only those bytes; proven by reading the
/// result back: the value at `path` is `to`, and the document parses to the same tree as the original
/// with only that value changed.
pub fn edit(file: &ConfigFile, path: &[Seg], kind: Kind, from: &str, to: &str) -> Result<Vec<u8>> {
    match file.format {
        Format::Json => edit_json(&file.bytes, path, kind, from, to),
        Format::Yaml => edit_yaml(&file.bytes, path, kind, from, to)
            .map_err(|e| anyhow!("{}: {e:#}", file.path.display())),
        Format::Env => edit_env(&file.bytes, path, from, to)
            .map_err(|e| anyhow!("{}: {e:#}", file.path.display())),
    }
}

/// An env file's assignment of `path` (its key) changed in place ([`envfile::replace`]): the last one,
/// the one bash uses when a key is assigned more than once.
fn edit_env(bytes: &[u8], path: &[Seg], from: &str, to: &str) -> Result<Vec<u8>> {
    let [Seg::Key(key)] = path else {
        bail!("an env file has keys only");
    };
    let list = envfile::assignments(bytes)?;
    let a = list
        .iter()
        .rfind(|a| a.key == *key)
        .ok_or_else(|| anyhow!("it has no {key}"))?;
    if !a.literal || a.value != from {
        bail!("{key} is no longer {from:?}; run ozrepair again to re-plan");
    }
    let out = envfile::replace(bytes, a, to)?;
    let back = envfile::assignments(&out)?
        .into_iter()
        .rfind(|a| a.key == *key)
        .map(|a| a.value);
    if back.as_deref() != Some(to) {
        bail!("the edited file does not read back {key} as {to:?}");
    }
    Ok(out)
}

/// A YAML value changed in place ([`yaml::replace`]: same quoting style, proven by re-reading).
fn edit_yaml(bytes: &[u8], path: &[Seg], kind: Kind, from: &str, to: &str) -> Result<Vec<u8>> {
    let at = show_path(path);
    let scalars = yaml::scalars(bytes)?;
    let sc = scalars
        .iter()
        .find(|s| s.path == path)
        .ok_or_else(|| anyhow!("it has no {at}"))?;
    if kind == Kind::Bool {
        return edit_yaml_bool(bytes, sc, from, to);
    }
    if sc.value != from {
        bail!("{at} is no longer {from:?}; run ozrepair again to re-plan");
    }
    let out = yaml::replace(bytes, sc, to)?;
    let back = yaml::scalars(&out)?
        .into_iter()
        .find(|s| s.path == path)
        .map(|s| s.value);
    if back.as_deref() != Some(to) {
        bail!("the edited file does not read back {at} as {to:?}");
    }
    Ok(out)
}

/// A YAML setting that turns local login on or off, changed from the boolean `from` to `to` as its
/// server reads it, written as the word of the value's own family and spelling (`no` becomes `yes`,
/// `OFF` becomes `ON`, `false` becomes `true`), in its own quoting.
fn edit_yaml_bool(bytes: &[u8], sc: &yaml::Scalar, from: &str, to: &str) -> Result<Vec<u8>> {
    let at = show_path(&sc.path);
    let reader = FlagReader::of(&sc.path)
        .ok_or_else(|| anyhow!("{at} is not a setting ozrepair edits as a boolean"))?;
    let now = reader.read(sc).ok_or_else(|| {
        anyhow!(
            "{at} is {:?}, which {} does not read as a boolean",
            sc.value,
            reader.server()
        )
    })?;
    let want = match to {
        "true" => true,
        "false" => false,
        _ => bail!("{to:?} is not a boolean"),
    };
    if now.to_string() != from {
        bail!("{at} is no longer {from}; run ozrepair again to re-plan");
    }
    let word = yaml::bool_word(&sc.value, want).ok_or_else(|| {
        anyhow!(
            "{at} is {:?}, a word ozrepair has no opposite for",
            sc.value
        )
    })?;
    let out = yaml::replace(bytes, sc, word)?;
    let back = yaml::scalars(&out)?
        .into_iter()
        .find(|s| s.path == sc.path)
        .and_then(|s| reader.read(&s));
    if back != Some(want) {
        bail!(
            "the edited file does not read back {at} as {to} to {}",
            reader.server()
        );
    }
    Ok(out)
}

/// The value at `span` as an edit of `kind` reads it.
fn json_value(bytes: &[u8], span: Range<usize>, kind: Kind) -> Option<String> {
    let raw = &bytes[span];
    match kind {
        Kind::Str => (raw.first() == Some(&b'"'))
            .then(|| jsonedit::go_json_unquote(raw))
            .flatten(),
        Kind::Bool => {
            matches!(raw, b"true" | b"false").then(|| String::from_utf8_lossy(raw).into_owned())
        }
    }
}

fn edit_json(bytes: &[u8], path: &[Seg], kind: Kind, from: &str, to: &str) -> Result<Vec<u8>> {
    let at = show_path(path);
    let (span, exact) = resolve(bytes, path)?.ok_or_else(|| anyhow!("it has no {at}"))?;
    let now = json_value(bytes, span.clone(), kind).ok_or_else(|| {
        anyhow!(
            "{at} is not a {}",
            if kind == Kind::Bool {
                "boolean"
            } else {
                "string"
            }
        )
    })?;
    if now != from {
        bail!("{at} is no longer {from:?}; run ozrepair again to re-plan");
    }
    let (token, value) = match kind {
        Kind::Str => (
            jsonedit::go_json_string(to),
            serde_json::Value::String(to.to_string()),
        ),
        Kind::Bool => match to {
            "true" => ("true".to_string(), serde_json::Value::Bool(true)),
            "false" => ("false".to_string(), serde_json::Value::Bool(false)),
            _ => bail!("{to:?} is not a boolean"),
        },
    };
    let out = jsonedit::splice(bytes, span, token.as_bytes());
    // Read back: the value, and the whole tree with only that value changed.
    let back = json_span(&out, path)?
        .and_then(|r| json_value(&out, r, kind))
        .ok_or_else(|| anyhow!("the edited file does not read back {at}"))?;
    if back != to {
        bail!("the edited file reads {at} as {back:?}, not {to:?}");
    }
    let mut want: serde_json::Value = serde_json::from_slice(bytes)?;
    if let Some(v) = pointer_mut(&mut want, &exact) {
        *v = value;
    }
    let got: serde_json::Value = serde_json::from_slice(&out)?;
    if got != want {
        bail!("the edited file differs from the original in more than {at}");
    }
    Ok(out)
}

/// The value at `path` (keys spelled exactly) in a parsed tree.
fn pointer_mut<'v>(
    v: &'v mut serde_json::Value,
    path: &[Seg],
) -> Option<&'v mut serde_json::Value> {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            Seg::Index(i) => cur.as_array_mut()?.get_mut(*i)?,
            Seg::Key(k) => cur.as_object_mut()?.get_mut(k)?,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MGMT: &[u8] = br#"{
  "Stuns": [],
  "EmbeddedIdP": {
    "Enabled": true,
    "StaticConnectors": [
      {
        "config": {
          "clientID": "nb",
          "clientSecret": "s3cr3t-value",
          "issuer": "https://oauth.id.jumpcloud.com"
        },
        "id": "jumpcloud",
        "name": "JumpCloud",
        "type": "oidc"
      }
    ]
  }
}
"#;

    fn file(bytes: &[u8]) -> ConfigFile {
        ConfigFile {
            path: PathBuf::from("/x/management.json"),
            in_container: "/etc/netbird/management.json".into(),
            format: Format::Json,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn reads_static_connectors_of_management_json() {
        let c = management_connectors(MGMT, 0).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].id, "jumpcloud");
        assert_eq!(
            c[0].issuer.as_deref(),
            Some("https://oauth.id.jumpcloud.com")
        );
        assert_eq!(
            show_path(&c[0].issuer_path),
            "EmbeddedIdP.StaticConnectors[0].config.issuer"
        );
    }

    #[test]
    fn edit_changes_only_the_issuer_bytes() {
        let c = management_connectors(MGMT, 0).unwrap();
        let out = edit(
            &file(MGMT),
            &c[0].issuer_path,
            Kind::Str,
            "https://oauth.id.jumpcloud.com",
            "https://oauth.id.jumpcloud.com/",
        )
        .unwrap();
        let want = String::from_utf8_lossy(MGMT).replace(
            r#""issuer": "https://oauth.id.jumpcloud.com""#,
            r#""issuer": "https://oauth.id.jumpcloud.com/""#,
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn keys_fold_like_go_and_the_last_match_wins() {
        let src = br#"{"embeddedidp":{"staticconnectors":[{"id":"a","Config":{"issuer":"x","ISSUER":"y"}}]}}"#;
        let c = management_connectors(src, 0).unwrap();
        assert_eq!(c[0].issuer.as_deref(), Some("y"));
        let out = edit(&file(src), &c[0].issuer_path, Kind::Str, "y", "z").unwrap();
        assert_eq!(
            out,
            br#"{"embeddedidp":{"staticconnectors":[{"id":"a","Config":{"issuer":"x","ISSUER":"z"}}]}}"#.to_vec()
        );
    }

    #[test]
    fn a_moved_value_is_refused() {
        let c = management_connectors(MGMT, 0).unwrap();
        let e = edit(
            &file(MGMT),
            &c[0].issuer_path,
            Kind::Str,
            "https://other",
            "https://x/",
        )
        .unwrap_err();
        assert!(e.to_string().contains("no longer"), "{e}");
    }

    #[test]
    fn a_boolean_is_edited_as_a_boolean() {
        let src = b"{\"EmbeddedIdP\": {\"LocalAuthDisabled\": true, \"x\": 1}}\n";
        let path = key_path(&["EmbeddedIdP", "LocalAuthDisabled"]);
        let out = edit(&file(src), &path, Kind::Bool, "true", "false").unwrap();
        assert_eq!(
            out,
            b"{\"EmbeddedIdP\": {\"LocalAuthDisabled\": false, \"x\": 1}}\n".to_vec()
        );
        assert!(edit(&file(src), &path, Kind::Str, "true", "false").is_err());
    }

    #[test]
    fn yaml_connectors_and_login_flags_are_read_as_dex_and_netbird_read_them() {
        let dex = b"enablePasswordDB: false\nConnectors:\n- type: oidc\n  id: jc\n  config:\n    issuer: 'https://a'\n    clientSecret: s3cr3t-long-value\n";
        let c = yaml_connectors(dex, 0).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].id.as_str(), c[0].issuer.as_deref()),
            ("jc", Some("https://a"))
        );
        assert_eq!(show_path(&c[0].issuer_path), "Connectors[0].config.issuer");
        assert_eq!(c[0].secrets, vec!["s3cr3t-long-value".to_string()]);
        let (f, unread, notes) = yaml_login_flags(dex, 0);
        assert_eq!((f.len(), f[0].value, f[0].enabled_when), (1, false, true));
        assert_eq!((unread, notes.len()), (0, 0));
        let file = ConfigFile {
            path: PathBuf::from("/etc/dex/config.yaml"),
            in_container: String::new(),
            format: Format::Yaml,
            bytes: dex.to_vec(),
        };
        let out = edit(&file, &f[0].path, Kind::Bool, "false", "true").unwrap();
        assert_eq!(&out[..23], b"enablePasswordDB: true\n");
        assert_eq!(&out[23..], &dex[24..]);
        let nb = b"server:\n  auth:\n    localAuthDisabled: true # off\n";
        let (f, _, _) = yaml_login_flags(nb, 0);
        assert_eq!((f.len(), f[0].value, f[0].enabled_when), (1, true, false));
    }

    #[test]
    fn yaml_booleans_are_read_as_each_server_reads_them() {
        let yaml = |text: &str| ConfigFile {
            path: PathBuf::from("/etc/dex/config.yaml"),
            in_container: String::new(),
            format: Format::Yaml,
            bytes: text.as_bytes().to_vec(),
        };
        // Dex (go-yaml v2): YAML 1.1 words, plain only; turned on in the word's own family.
        for (word, on) in [("no", "yes"), ("Off", "On"), ("N", "Y"), ("FALSE", "TRUE")] {
            let text = format!("issuer: x\nenablePasswordDB: {word} # c\n");
            let (f, unread, notes) = yaml_login_flags(text.as_bytes(), 0);
            assert_eq!((f.len(), f[0].value, unread), (1, false, 0), "{word}");
            assert_eq!(
                notes.len(),
                usize::from(word != "FALSE"),
                "{word}: {notes:?}"
            );
            let out = edit(&yaml(&text), &f[0].path, Kind::Bool, "false", "true").unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("issuer: x\nenablePasswordDB: {on} # c\n")
            );
        }
        // A quoted value is a string to Dex's decoder: not a boolean, named with its line.
        let (f, unread, notes) = yaml_login_flags(b"a: 1\nenablePasswordDB: \"true\"\n", 0);
        assert_eq!((f.len(), unread), (0, 1));
        assert!(
            notes[0].starts_with("line 2: enablePasswordDB"),
            "{notes:?}"
        );
        // NetBird (yaml.v3 into a bool): a quoted YAML 1.1 word is a boolean, a quoted "true" is not.
        let nb = |v: &str| format!("server:\n  auth:\n    localAuthDisabled: {v}\n");
        let (f, _, notes) = yaml_login_flags(nb("'yes'").as_bytes(), 0);
        assert_eq!((f[0].value, notes.len()), (true, 1));
        let out = edit(&yaml(&nb("'yes'")), &f[0].path, Kind::Bool, "true", "false").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), nb("'no'"));
        let (f, unread, _) = yaml_login_flags(nb("\"true\"").as_bytes(), 0);
        assert_eq!((f.len(), unread), (0, 1));
        // Connector fields Dex reads as booleans are named.
        let n = yaml_connector_booleans(b"connectors:\n- id: on\n  name: x\n");
        assert!(
            n[0].starts_with("line 2: connectors[0].id: on is the boolean true"),
            "{n:?}"
        );
    }

    #[test]
    fn invalid_json_is_not_read() {
        assert!(management_connectors(b"{\"EmbeddedIdP\": ", 0).is_err());
    }
}
