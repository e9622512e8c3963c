//! `domain`: the plan that moves the deployment's own domain from one host to another in every place
//! ozrepair reads (stores-hosts-and-dex-types.md §7): every string value of every config file it reads
//! (management.json's `HttpConfig.AuthIssuer`, `EmbeddedIdP.Issuer`, `DashboardRedirectURIs`, `Signal`,
//! `Relay`, `Stuns`…; NetBird's and Dex's config.yaml `exposedAddress`, `auth.issuer`, `staticClients`…;
//! setup.env), and every top-level string field of every connector row (above all `redirectURI`, which
//! NetBird never rewrites). The host is matched as a host (not inside a longer name: `old-vpn.example.com`
//! is not `vpn.example.com`), ASCII case-insensitively; its port and path are kept.
//!
//! Every file's edits are made here in memory and the result scanned again: a hit left (a comment, a key,
//! an earlier assignment bash does not use, a value bash would expand, a nested value of a row) is a place
//! ozrepair does not edit, and it blocks the run, named by file and line or by row and field.

use super::{Change, Plan, Source, Store};
use crate::config::{self, envfile, yaml, ConfigFile, Configs, Format, Seg};
use crate::dex::jsonedit;
use crate::dex::ConnectorRow;

/// The plan of a `domain` run.
pub struct DomainPlan {
    pub plan: Plan,
    /// The places ozrepair does not read or never changes, for the operator to do.
    pub checklist: Vec<String>,
}

/// Whether `h` is a host as the deployment spells one: lowercase ASCII letters, digits, `-` and `.`, an
/// optional `:port`; no scheme, no path.
pub fn host_ok(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '-'])
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// Where `old` occurs in `s` as a host (ASCII case-insensitively, not part of a longer name).
fn hits(s: &[u8], old: &str) -> Vec<usize> {
    let o = old.as_bytes();
    let mut out = Vec::new();
    if o.is_empty() || s.len() < o.len() {
        return out;
    }
    let mut i = 0;
    while i + o.len() <= s.len() {
        if s[i..i + o.len()].eq_ignore_ascii_case(o)
            && (i == 0 || !host_byte(s[i - 1]))
            && s.get(i + o.len()).is_none_or(|b| !host_byte(*b))
        {
            out.push(i);
            i += o.len();
        } else {
            i += 1;
        }
    }
    out
}

/// `s` with every occurrence of the host `old` replaced by `new` (None when it has none).
pub fn replace_host(s: &str, old: &str, new: &str) -> Option<String> {
    let at = hits(s.as_bytes(), old);
    if at.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut last = 0;
    for i in at {
        out.push_str(&s[last..i]);
        out.push_str(new);
        last = i + old.len();
    }
    out.push_str(&s[last..]);
    Some(out)
}

/// The host of a URL (`https://HOST[:port]/…`), lowercased.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Every string value of a JSON document with its path (keys as the document spells them).
fn json_strings(doc: &[u8], path: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, String)>) {
    match doc.first() {
        Some(b'{') => {
            let Ok(fields) = jsonedit::top_level_fields(doc) else {
                return;
            };
            for f in fields {
                path.push(Seg::Key(f.key.to_string()));
                if let Some(v) = doc.get(f.value.clone()) {
                    json_strings(v, path, out);
                }
                path.pop();
            }
        }
        Some(b'[') => {
            for (i, r) in jsonedit::array_elements(doc).into_iter().enumerate() {
                path.push(Seg::Index(i));
                if let Some(v) = doc.get(r) {
                    json_strings(v, path, out);
                }
                path.pop();
            }
        }
        Some(b'"') => {
            if let Some(s) = jsonedit::go_json_unquote(doc) {
                out.push((path.clone(), s));
            }
        }
        _ => {}
    }
}

/// The string values of a config file with their paths, as ozrepair edits them.
fn file_strings(f: &ConfigFile) -> Vec<(Vec<Seg>, String)> {
    match f.format {
        Format::Json => {
            let mut out = Vec::new();
            let start = f
                .bytes
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(0);
            json_strings(&f.bytes[start..], &mut Vec::new(), &mut out);
            out
        }
        Format::Yaml => yaml::scalars(&f.bytes)
            .map(|v| v.into_iter().map(|s| (s.path, s.value)).collect())
            .unwrap_or_default(),
        // The assignment bash uses (the last of its key), when bash reads it literally.
        Format::Env => {
            let list = envfile::assignments(&f.bytes).unwrap_or_default();
            let mut out: Vec<(Vec<Seg>, String)> = Vec::new();
            for a in list.iter().filter(|a| a.literal) {
                if list.iter().rfind(|b| b.key == a.key).map(|b| b.line) == Some(a.line) {
                    out.push((vec![Seg::Key(a.key.clone())], a.value.clone()));
                }
            }
            out
        }
    }
}

/// The plan that moves the host `old` to `new`.
pub fn plan(rows: &[ConnectorRow], configs: &Configs, old: &str, new: &str) -> DomainPlan {
    let mut plan = Plan::default();
    let evidence = format!("--to {new}");
    let mut redirects = Vec::new();
    for f in &configs.files {
        let mut current = f.clone();
        for (path, value) in file_strings(f) {
            let Some(to) = replace_host(&value, old, new) else {
                continue;
            };
            match config::edit(&current, &path, config::Kind::Str, &value, &to) {
                Ok(after) => current.bytes = after,
                Err(_) => continue,
            }
            plan.changes.push(Change {
                connector: f
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                field: config::show_path(&path),
                from: value,
                to,
                source: Source::Explicit,
                evidence: evidence.clone(),
                store: Store::File {
                    file: f.path.display().to_string(),
                    at: config::show_path(&path),
                    path,
                    kind: config::Kind::Str,
                },
                hidden: None,
            });
        }
        for i in hits(&current.bytes, old) {
            plan.held_elsewhere.push(format!(
                "{} line {} still holds {old} where ozrepair does not edit it (a comment, a key, an assignment bash does not use or would expand); change it by hand",
                f.path.display(),
                yaml::line_at(&current.bytes, i)
            ));
        }
    }
    for r in rows {
        let Some(cfg) = r.config.as_deref() else {
            continue;
        };
        let Ok(fields) = jsonedit::top_level_fields(cfg) else {
            if !hits(cfg, old).is_empty() {
                plan.held_elsewhere.push(format!(
                    "connector {}'s config holds {old} but is not a JSON object ozrepair can edit; change it by hand",
                    r.id
                ));
            }
            continue;
        };
        for f in &fields {
            let raw = &cfg[f.value.clone()];
            if hits(raw, old).is_empty() {
                continue;
            }
            let key = f.key.to_string();
            let effective = jsonedit::effective_field(&fields, &key).map(|e| e.value.clone());
            let value = (raw.first() == Some(&b'"'))
                .then(|| jsonedit::go_json_unquote(raw))
                .flatten();
            match value {
                Some(v) if effective == Some(f.value.clone()) => {
                    let to = replace_host(&v, old, new).unwrap_or_else(|| v.clone());
                    if key.eq_ignore_ascii_case("redirectURI") {
                        redirects.push(format!("{}: {to}", r.id));
                    }
                    plan.changes.push(Change {
                        connector: r.id.to_string(),
                        field: key,
                        from: v,
                        to,
                        source: Source::Explicit,
                        evidence: evidence.clone(),
                        store: Store::Database,
                        hidden: None,
                    });
                }
                _ => plan.held_elsewhere.push(format!(
                    "connector {}'s {key} holds {old} in a value ozrepair does not edit (not a string, or a key Go does not read); change it by hand",
                    r.id
                )),
            }
        }
    }
    let mut checklist = vec![
        format!("DNS: point {new} at this server (ozrepair changes no DNS)"),
        format!("TLS: a certificate for {new} (Let's Encrypt, or your reverse proxy's)"),
        format!("the reverse proxy's host rules for {new} (docker-compose.yml Traefik labels, Caddyfile, nginx server_name): ozrepair does not read them"),
    ];
    if !configs
        .files
        .iter()
        .any(|f| f.path.file_name().is_some_and(|n| n == "dashboard.env"))
    {
        checklist.push(format!("dashboard.env: AUTH_AUTHORITY, NETBIRD_MGMT_API_ENDPOINT and NETBIRD_MGMT_GRPC_API_ENDPOINT to {new} (ozrepair did not read it)"));
    }
    for r in redirects {
        checklist.push(format!(
            "register the new redirect URI at the connector's provider ({r})"
        ));
    }
    checklist.push(format!("Dex's client table (the dashboard's and the CLI's redirect URIs): NetBird rewrites it from its config at every start; any other client's, at {new}, by hand"));
    checklist.push(format!(
        "every peer: `netbird up --management-url https://{new}` (peers keep the URL they joined with)"
    ));
    checklist.push("every user logs in again: tokens issued for the old issuer are refused".into());
    // A generated file is written again at every start: its host is changed at its source, and the run
    // is held back whole (a hit in a place ozrepair does not edit blocks it).
    super::generated::hold_back(&mut plan, configs);
    DomainPlan { plan, checklist }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dex::Storage;

    #[test]
    fn hosts_are_matched_as_hosts_and_keep_their_port_and_path() {
        assert_eq!(
            replace_host(
                "https://VPN.example.com:443/oauth2/callback",
                "vpn.example.com",
                "new.example.net"
            )
            .as_deref(),
            Some("https://new.example.net:443/oauth2/callback")
        );
        assert_eq!(
            replace_host("https://old-vpn.example.com/x", "vpn.example.com", "n.io"),
            None
        );
        assert_eq!(
            replace_host("https://vpn.example.com.evil/x", "vpn.example.com", "n.io"),
            None
        );
        assert_eq!(
            replace_host(
                "stun:vpn.example.com:3478 vpn.example.com",
                "vpn.example.com",
                "n.io"
            )
            .as_deref(),
            Some("stun:n.io:3478 n.io")
        );
        assert!(host_ok("vpn.example.com") && host_ok("vpn.example.com:8443"));
        for bad in [
            "",
            "https://x",
            "X.com",
            "a..b",
            "a/b",
            "a:",
            "-a.com",
            "a b",
        ] {
            assert!(!host_ok(bad), "{bad}");
        }
        assert_eq!(
            host_of("https://Vpn.Example.com/oauth2").as_deref(),
            Some("vpn.example.com")
        );
    }

    #[test]
    fn every_place_is_planned_and_a_place_it_cannot_edit_blocks() {
        let file = ConfigFile {
            path: "/etc/netbird/management.json".into(),
            in_container: "/etc/netbird/management.json".into(),
            format: Format::Json,
            bytes: br#"{"HttpConfig":{"AuthIssuer":"https://vpn.example.com/oauth2"},"Stuns":[{"URI":"stun:vpn.example.com:3478"}],"Other":"https://old-vpn.example.com"}"#.to_vec(),
        };
        let configs = Configs::of_files(vec![file]);
        let rows = [
            ConnectorRow {
                id: "okta".into(),
                typ: "oidc".into(),
                name: "Okta".into(),
                resource_version: String::new(),
                config: Some(br#"{"issuer":"https://acme.okta.com","redirectURI":"https://vpn.example.com/oauth2/callback"}"#.to_vec()),
                storage: Storage::Blob,
            },
        ];
        let p = plan(&rows, &configs, "vpn.example.com", "vpn2.example.net");
        let shown: Vec<_> = p
            .plan
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.to.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("HttpConfig.AuthIssuer", "https://vpn2.example.net/oauth2"),
                ("Stuns[0].URI", "stun:vpn2.example.net:3478"),
                ("redirectURI", "https://vpn2.example.net/oauth2/callback"),
            ]
        );
        assert!(
            p.plan.held_elsewhere.is_empty(),
            "{:?}",
            p.plan.held_elsewhere
        );
        assert!(p
            .checklist
            .iter()
            .any(|c| c.contains("okta: https://vpn2.example.net/oauth2/callback")));
        // A nested value of a row blocks.
        let nested = [ConnectorRow {
            config: Some(br#"{"claimMapping":{"x":"https://vpn.example.com"}}"#.to_vec()),
            ..rows[0].clone()
        }];
        let p = plan(&nested, &Configs::default(), "vpn.example.com", "n.io");
        assert!(p.plan.changes.is_empty());
        assert!(
            p.plan.held_elsewhere[0].contains("connector okta's claimMapping"),
            "{:?}",
            p.plan.held_elsewhere
        );
    }

    #[test]
    fn a_generated_file_holds_the_move_back_and_names_its_source() {
        let mut configs = Configs::of_files(vec![ConfigFile {
            path: "/run/netbird-server/config.yaml".into(),
            in_container: String::new(),
            format: Format::Yaml,
            bytes: b"server:\n  exposedAddress: https://vpn.example.com:443\n".to_vec(),
        }]);
        configs.generated.push((
            0,
            crate::runtime::Generated {
                by: "ExecStartPre of netbird-server.service, at every start".into(),
                source: "the NixOS option services.netbird.server.combined.settings".into(),
                naming: crate::runtime::Naming::Prefix(
                    "services.netbird.server.combined.settings".into(),
                ),
            },
        ));
        let p = plan(&[], &configs, "vpn.example.com", "n.io");
        assert!(p.plan.changes.is_empty(), "{:?}", p.plan.changes);
        assert!(
            p.plan.held_elsewhere.len() == 1
                && p.plan.held_elsewhere[0].contains("is generated by ExecStartPre")
                && p.plan.held_elsewhere[0]
                    .contains("services.netbird.server.combined.settings.server.exposedAddress"),
            "{:?}",
            p.plan.held_elsewhere
        );
    }
}
