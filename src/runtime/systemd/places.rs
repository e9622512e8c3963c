//! Where a unit keeps what ozrepair works on, read from its definition: the Dex database (the
//! command line's `--datadir`, the config's `Datadir`/`EmbeddedIdP.Storage`, the combined server's
//! `server.dataDir`/`authStore`, Dex's `storage`, then its `StateDirectory=` and `WorkingDirectory=`),
//! its config file (`--config`, or Dex's `serve` argument), and where its lines go (journald, or the
//! file `--log-file` or `StandardOutput=file:` names).

use super::unit::{Role, Service};
use std::path::{Path, PathBuf};

/// Where a unit's lines are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Journal,
    File(PathBuf),
}

/// What a unit's definition says.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// Files that may be the Dex database, in the order they are tried, each with why.
    pub stores: Vec<(PathBuf, String)>,
    /// Its config files, each with how the unit names it.
    pub configs: Vec<(PathBuf, String)>,
    pub log: Option<LogTarget>,
    pub log_why: String,
}

/// Dex's SQLite file names in the layouts ozrepair knows.
const DB_NAMES: [&str; 2] = ["idp.db", "dex.db"];

/// A value in a JSON document by its path, keys matched as Go's encoding/json matches them (case
/// folded; the exact spelling first).
pub fn json_at<'v>(v: &'v serde_json::Value, path: &[&str]) -> Option<&'v serde_json::Value> {
    let mut cur = v;
    for k in path {
        let m = cur.as_object()?;
        cur = m.get(*k).or_else(|| {
            m.iter()
                .find(|(kk, _)| kk.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        })?;
    }
    Some(cur)
}

/// A scalar in a YAML document by its path of block-mapping keys (a line-based reading of simple
/// settings, indentation-aware; not a YAML parser): `server.dataDir`.
pub fn yaml_at(yaml: &str, path: &[&str]) -> Option<String> {
    // The keys of the mappings the current line is in, with their indentation.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in yaml.lines() {
        let code = match line.find(" #") {
            Some(p) => &line[..p],
            None => line,
        };
        if code.trim().is_empty() || code.trim_start().starts_with('#') || code.trim() == "---" {
            continue;
        }
        let indent = code.len() - code.trim_start().len();
        let t = code.trim();
        let Some((key, rest)) = t.split_once(':') else {
            continue;
        };
        if key.starts_with('-') {
            continue;
        }
        let key = key.trim().trim_matches(['"', '\'']);
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        let rest = rest.trim();
        if !rest.is_empty()
            && stack.len() == path.len()
            && stack
                .iter()
                .map(|(_, k)| k.as_str())
                .eq(path.iter().copied())
        {
            return Some(rest.trim_matches(['"', '\'']).to_string());
        }
    }
    None
}

fn read_small(p: &Path) -> Option<String> {
    let meta = std::fs::metadata(p).ok()?;
    if !meta.is_file() || meta.len() > 4 << 20 {
        return None;
    }
    std::fs::read_to_string(p).ok()
}

/// `rel` under `dir` unless it is absolute.
fn under(dir: &str, rel: &str) -> PathBuf {
    if rel.starts_with('/') {
        PathBuf::from(rel)
    } else {
        Path::new(dir).join(rel)
    }
}

/// Everything the definition says about where things are.
pub fn places(s: &Service) -> Places {
    let mut p = Places::default();
    let store = |path: PathBuf, why: String, p: &mut Places| {
        if !p.stores.iter().any(|(q, _)| *q == path) {
            p.stores.push((path, why));
        }
    };
    match s.role {
        Some(Role::Management(product)) => {
            let (config_default, data_default, log_default) = product.defaults();
            let config = s.flag("--config");
            let config_path = PathBuf::from(config.as_deref().unwrap_or(config_default));
            // A default that is not there is no config of this unit (one it names is, and its absence
            // is said).
            if config.is_some() || config_path.symlink_metadata().is_ok() {
                p.configs.push((
                    config_path.clone(),
                    match &config {
                        Some(_) => format!("--config of {}", s.name),
                        None => format!("the default --config of {}", s.name),
                    },
                ));
            }
            let json = read_small(&config_path)
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            let from_config = |path: &[&str]| {
                json.as_ref()
                    .and_then(|j| json_at(j, path))
                    .and_then(|v| v.as_str())
                    .filter(|v| !v.is_empty())
                    .map(String::from)
            };
            let datadir = s.flag("--datadir");
            let config_datadir = from_config(&["Datadir"]);
            let dir = datadir
                .clone()
                .or(config_datadir.clone())
                .unwrap_or_else(|| data_default.to_string());
            if let Some(f) = from_config(&["EmbeddedIdP", "Storage", "Config", "File"]) {
                store(
                    under(&dir, &f),
                    format!(
                        "EmbeddedIdP.Storage.Config.File of {}",
                        config_path.display()
                    ),
                    &mut p,
                );
            }
            if let Some(d) = &datadir {
                store(
                    under(d, "idp.db"),
                    format!("idp.db in --datadir {d}"),
                    &mut p,
                );
            }
            if let Some(d) = &config_datadir {
                store(
                    under(d, "idp.db"),
                    format!("idp.db in the Datadir of {}", config_path.display()),
                    &mut p,
                );
            }
            store(
                under(data_default, "idp.db"),
                format!("idp.db in the default data directory {data_default}"),
                &mut p,
            );
            match s.flag("--log-file").as_deref() {
                Some("console") => {
                    p.log = Some(LogTarget::Journal);
                    p.log_why = "--log-file console".into();
                }
                Some(f) => {
                    p.log = Some(LogTarget::File(PathBuf::from(f)));
                    p.log_why = format!("--log-file {f}");
                }
                None => {
                    p.log = Some(LogTarget::File(PathBuf::from(log_default)));
                    p.log_why = format!("no --log-file: the default {log_default}");
                }
            }
        }
        Some(Role::Combined) => {
            let config = s
                .flag("--config")
                .unwrap_or_else(|| "/etc/netbird/config.yaml".into());
            let config_path = PathBuf::from(&config);
            p.configs
                .push((config_path.clone(), format!("--config of {}", s.name)));
            let yaml = read_small(&config_path).unwrap_or_default();
            let data = yaml_at(&yaml, &["server", "dataDir"])
                .unwrap_or_else(|| "/var/lib/netbird/".into());
            for (key, what) in [
                (
                    &["server", "authStore", "file"][..],
                    "server.authStore.file",
                ),
                (
                    &["server", "auth", "storage", "file"][..],
                    "server.auth.storage.file",
                ),
            ] {
                if let Some(f) = yaml_at(&yaml, key) {
                    store(under(&data, &f), format!("{what} of {config}"), &mut p);
                }
            }
            store(
                under(&data, "idp.db"),
                format!("idp.db in server.dataDir {data}"),
                &mut p,
            );
        }
        Some(Role::Dex) => {
            let config = s
                .argv
                .iter()
                .skip_while(|a| *a != "serve")
                .skip(1)
                .find(|a| !a.starts_with('-'))
                .cloned();
            if let Some(c) = config {
                let path = PathBuf::from(&c);
                p.configs
                    .push((path.clone(), format!("the config {} serves", s.name)));
                let yaml = read_small(&path).unwrap_or_default();
                if yaml_at(&yaml, &["storage", "type"]).as_deref() == Some("sqlite3") {
                    if let Some(f) = yaml_at(&yaml, &["storage", "config", "file"]) {
                        let dir = s
                            .working_dir()
                            .map(|d| d.display().to_string())
                            .unwrap_or_else(|| "/".into());
                        store(
                            under(&dir, &f),
                            format!("storage.config.file of {c}"),
                            &mut p,
                        );
                    }
                }
            }
        }
        Some(Role::ByName) | None => {}
    }
    for d in s.state_dirs() {
        for n in DB_NAMES {
            store(
                d.join(n),
                format!("{n} in its StateDirectory {}", d.display()),
                &mut p,
            );
        }
    }
    if let Some(w) = s.working_dir() {
        for n in DB_NAMES {
            store(
                w.join(n),
                format!("{n} in its WorkingDirectory {}", w.display()),
                &mut p,
            );
        }
    }
    // Output that systemd itself writes to a file.
    let out = s.props.get("StandardOutput");
    if let Some(f) = out
        .strip_prefix("file:")
        .or_else(|| out.strip_prefix("append:"))
        .or_else(|| out.strip_prefix("truncate:"))
    {
        if p.log.as_ref().is_none_or(|l| *l == LogTarget::Journal) {
            p.log = Some(LogTarget::File(PathBuf::from(f)));
            p.log_why = format!("StandardOutput={out}");
        }
    }
    if p.log.is_none() {
        p.log = Some(LogTarget::Journal);
        p.log_why = format!("StandardOutput={out}");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_settings_by_path() {
        let y = "server:\n  listenAddress: \":8100\"\n  dataDir: /var/lib/netbird-server # state\n  authStore:\n    engine: sqlite\n    file: 'auth/idp.db'\n  auth:\n    issuer: https://x/oauth2\nstorage:\n  type: sqlite3\n  config:\n    file: /var/lib/dex/dex.db\n";
        assert_eq!(
            yaml_at(y, &["server", "dataDir"]).as_deref(),
            Some("/var/lib/netbird-server")
        );
        assert_eq!(
            yaml_at(y, &["server", "authStore", "file"]).as_deref(),
            Some("auth/idp.db")
        );
        assert_eq!(
            yaml_at(y, &["storage", "config", "file"]).as_deref(),
            Some("/var/lib/dex/dex.db")
        );
        assert_eq!(yaml_at(y, &["server", "file"]), None);
        assert_eq!(yaml_at(y, &["storage", "type"]).as_deref(), Some("sqlite3"));
    }

    #[test]
    fn json_keys_fold() {
        let j: serde_json::Value = serde_json::from_str(
            r#"{"datadir":"/a","EmbeddedIdP":{"storage":{"Config":{"File":"/b"}}}}"#,
        )
        .unwrap();
        assert_eq!(
            json_at(&j, &["Datadir"]).and_then(|v| v.as_str()),
            Some("/a")
        );
        assert_eq!(
            json_at(&j, &["EmbeddedIdP", "Storage", "Config", "File"]).and_then(|v| v.as_str()),
            Some("/b")
        );
    }
}
