//! Whether a unit's config file is generated, and from what: an `ExecStartPre` command that writes it at
//! every start (NixOS's `preStart`, which renders the module's `settings` with jq; a script of one's
//! own), the Nix store, a path under /run (gone at every reboot, so written at start), openZro's Ansible
//! role (its `management.json.j2`, told by the role's layout of the file and Ansible's marks on the host),
//! or what the file's own header says ([`crate::runtime::generated::by_content`]).

use super::unit::Service;
use crate::runtime::generated::{ansible_backup_beside, by_content};
use crate::runtime::{Generated, Naming, TemplateVar};
use std::path::Path;

/// The largest script read to see whether it writes the file.
const SCRIPT_MAX: u64 = 1 << 20;

/// The NixOS option whose `settings` a NixOS module renders into this unit's config file.
fn nixos_settings(unit: &str) -> Option<&'static str> {
    match unit {
        "netbird-management.service" => Some("services.netbird.server.management.settings"),
        "netbird-server.service" => Some("services.netbird.server.combined.settings"),
        "dex.service" => Some("services.dex.settings"),
        _ => None,
    }
}

/// The source of truth of a file a NixOS module makes for `unit`.
fn nixos(unit: &str) -> (String, Naming) {
    match nixos_settings(unit) {
        Some(opt) => (
            format!("the NixOS option {opt} (then `nixos-rebuild switch`)"),
            Naming::Prefix(opt.to_string()),
        ),
        None => (
            format!("the NixOS module that defines {unit} (then `nixos-rebuild switch`)"),
            Naming::Unnamed,
        ),
    }
}

/// Whether the program `prog` is a script (`#!`) whose text names `path`.
fn script_names(prog: &str, path: &str) -> bool {
    let p = Path::new(prog);
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() || meta.len() > SCRIPT_MAX {
        return false;
    }
    match std::fs::read(p) {
        Ok(b) => b.starts_with(b"#!") && String::from_utf8_lossy(&b).contains(path),
        Err(_) => false,
    }
}

/// What writes the config file `path` of unit `s`, when something does.
pub fn of_unit(s: &Service, path: &Path, bytes: Option<&[u8]>) -> Option<Generated> {
    let shown = path.display().to_string();
    for cmd in &s.pre {
        let Some(prog) = cmd.first() else { continue };
        // systemd's prefixes (`-`, `+`, `!`, `@`) are not part of the path.
        let prog = prog.trim_start_matches(['-', '+', '!', '@', ':']);
        if cmd.iter().skip(1).any(|a| a.contains(&shown)) || script_names(prog, &shown) {
            let (source, naming) = if prog.starts_with("/nix/store/") {
                nixos(&s.name)
            } else {
                (
                    format!("what {prog} writes it from (its own input; edit that, not the file)"),
                    Naming::Unnamed,
                )
            };
            return Some(Generated {
                by: format!(
                    "ExecStartPre={} of {}, at every start",
                    cmd.join(" "),
                    s.name
                ),
                source,
                naming,
            });
        }
    }
    if path.starts_with("/nix/store") {
        let (source, naming) = nixos(&s.name);
        return Some(Generated {
            by: "the Nix store (read-only, built from the NixOS configuration)".into(),
            source,
            naming,
        });
    }
    if let Some(g) = openzro_role(s, path, bytes) {
        return Some(g);
    }
    if let Some(g) = bytes.and_then(|b| by_content(path, b)) {
        return Some(g);
    }
    if path.starts_with("/run") {
        return Some(Generated {
            by: format!("something at the start of {} (the file is under /run, which is empty after every reboot)", s.name),
            source: format!("whatever writes it at start (look at `systemctl cat {}`)", s.name),
            naming: Naming::Unnamed,
        });
    }
    None
}

/// The variables of the openzro-ansible role's `templates/management.json.j2` (openzro/openzro-ansible,
/// roles/openzro_management): the values ozrepair may change, and what renders each.
fn openzro_role_vars() -> Vec<TemplateVar> {
    let var = |at: &str, variable: &str, renders: &str, suffix: &str| TemplateVar {
        at: at.into(),
        variable: variable.into(),
        renders: renders.into(),
        suffix: suffix.into(),
    };
    vec![
        var(
            "HttpConfig.AuthIssuer",
            "openzro_oidc_issuer",
            "\"AuthIssuer\": \"{{ openzro_oidc_issuer }}\"",
            "",
        ),
        var(
            "HttpConfig.OIDCConfigEndpoint",
            "openzro_oidc_issuer",
            "\"OIDCConfigEndpoint\": \"{{ openzro_oidc_issuer }}/.well-known/openid-configuration\"",
            "/.well-known/openid-configuration",
        ),
        var(
            "HttpConfig.AuthAudience",
            "openzro_management_jwt_audience",
            "\"AuthAudience\": \"{{ openzro_management_jwt_audience }}\" (default: openzro_oidc_client_id)",
            "",
        ),
    ]
}

/// openZro's Ansible role renders management.json (no comment fits in JSON, so no "Ansible managed"
/// header): told by the role's layout of the file (`IdpManagerConfig.ManagerType` "none", the TURN secret
/// "not-used", `OIDCConfigEndpoint` = `AuthIssuer` + the discovery path) together with Ansible's marks on
/// the host (the unit's environment file rendered by the same role with its `# Ansible managed` header,
/// or the backups Ansible's template module leaves beside the file).
fn openzro_role(s: &Service, path: &Path, bytes: Option<&[u8]>) -> Option<Generated> {
    let marks: Vec<String> = s
        .environment_files()
        .into_iter()
        .filter(|f| {
            std::fs::read(f).is_ok_and(|b| {
                String::from_utf8_lossy(&b[..b.len().min(512)])
                    .lines()
                    .take(3)
                    .any(|l| l.trim_start().starts_with('#') && l.contains("Ansible managed"))
            })
        })
        .map(|f| format!("{} says \"Ansible managed\"", f.display()))
        .chain(
            ansible_backup_beside(path)
                .map(|b| format!("Ansible's template backup {b} is beside it")),
        )
        .collect();
    if marks.is_empty() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(bytes?).ok()?;
    let at = |p: &[&str]| {
        super::places::json_at(&v, p)
            .and_then(|x| x.as_str())
            .map(String::from)
    };
    let issuer = at(&["HttpConfig", "AuthIssuer"]).unwrap_or_default();
    let role_layout = at(&["IdpManagerConfig", "ManagerType"]).as_deref() == Some("none")
        && at(&["TURNConfig", "Secret"]).as_deref() == Some("not-used")
        && at(&["HttpConfig", "OIDCConfigEndpoint"])
            == Some(format!("{issuer}/.well-known/openid-configuration"));
    if role_layout {
        Some(Generated {
            by: format!(
                "the openzro-ansible role openzro_management, from its template templates/management.json.j2 ({})",
                marks.join("; ")
            ),
            source: "the role's variables in your Ansible inventory (group_vars or host_vars); run playbooks/management.yml again after changing them".into(),
            naming: Naming::Template(openzro_role_vars()),
        })
    } else {
        Some(Generated {
            by: format!("Ansible ({})", marks.join("; ")),
            source: "the Ansible template and variables that render it (run the playbook again after changing them)".into(),
            naming: Naming::Unnamed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::systemd::ctl::Props;
    use crate::runtime::systemd::unit::{Service, Status};

    fn service(name: &str, pre: Vec<Vec<String>>, env_file: Option<&Path>) -> Service {
        let mut props = Props::default();
        if let Some(f) = env_file {
            props.0.insert(
                "EnvironmentFiles".into(),
                format!("{} (ignore_errors=yes)", f.display()),
            );
        }
        Service {
            name: name.into(),
            props,
            status: Status::default(),
            argv: vec![],
            argv_from: "test",
            pre,
            role: None,
        }
    }

    #[test]
    fn exec_start_pre_writers_and_nixos_options() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("netbird-management-pre-start");
        let target = "/var/lib/netbird-mgmt/management.json";
        std::fs::write(&script, format!("#!/bin/sh\njq . > {target}\n")).unwrap();
        let s = service(
            "netbird-management.service",
            vec![vec![script.display().to_string()]],
            None,
        );
        let g = of_unit(&s, Path::new(target), None).unwrap();
        assert!(g.by.starts_with("ExecStartPre="), "{g:?}");
        // Not under /nix/store: the script's own input is the source.
        assert_eq!(g.naming, Naming::Unnamed);
        // A script that does not name the file writes something else.
        assert!(of_unit(&s, Path::new("/etc/other.json"), None).is_none());
        // Named on the command line, by a program in the Nix store.
        let s = service(
            "netbird-server.service",
            vec![vec![
                "/nix/store/x-pre/bin/pre".into(),
                "/run/netbird-server/config.yaml".into(),
            ]],
            None,
        );
        let g = of_unit(&s, Path::new("/run/netbird-server/config.yaml"), None).unwrap();
        assert_eq!(
            g.change_for("server.auth.issuer", "https://a")
                .map(|c| c.0)
                .as_deref(),
            Some("services.netbird.server.combined.settings.server.auth.issuer")
        );
        // Under /run with nothing seen writing it.
        let s = service("x.service", vec![], None);
        assert!(of_unit(&s, Path::new("/run/x/config.yaml"), None)
            .unwrap()
            .by
            .contains("/run"));
        assert!(of_unit(&s, Path::new("/etc/x/config.yaml"), Some(b"a: 1\n")).is_none());
    }

    #[test]
    fn openzro_role_needs_its_layout_and_ansibles_marks() {
        let d = tempfile::tempdir().unwrap();
        let env = d.path().join("openzro-management");
        std::fs::write(&env, "# Ansible managed\nOPENZRO_LOG_LEVEL=info\n").unwrap();
        let json = br#"{"TURNConfig":{"Secret":"not-used"},"HttpConfig":{"AuthIssuer":"https://idp/x","OIDCConfigEndpoint":"https://idp/x/.well-known/openid-configuration"},"IdpManagerConfig":{"ManagerType":"none"}}"#;
        let path = d.path().join("management.json");
        let s = service("openzro-management.service", vec![], Some(&env));
        let g = of_unit(&s, &path, Some(json)).unwrap();
        assert!(g.by.contains("management.json.j2"), "{g:?}");
        assert_eq!(
            g.change_for(
                "HttpConfig.OIDCConfigEndpoint",
                "https://idp/y/.well-known/openid-configuration"
            )
            .map(|c| c.1)
            .as_deref(),
            Some("https://idp/y")
        );
        assert!(g
            .change_for("HttpConfig.AuthIssuer", "x")
            .unwrap()
            .0
            .contains("openzro_oidc_issuer"));
        // The layout without Ansible's marks: not told generated.
        let plain = service("openzro-management.service", vec![], None);
        assert!(of_unit(&plain, &path, Some(json)).is_none());
        // Ansible's marks with another layout: Ansible, no variable named.
        let g = of_unit(
            &s,
            &path,
            Some(br#"{"HttpConfig":{"AuthIssuer":"https://idp/x"}}"#),
        )
        .unwrap();
        assert_eq!(g.naming, Naming::Unnamed);
    }
}
