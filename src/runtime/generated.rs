//! Config files that are generated, told by what they are whatever runs the IdP: a path in the Nix store
//! (read-only, built from the NixOS configuration), an "Ansible managed" header (`{{ ansible_managed }}`
//! in a template's first lines), Helm's `# Source: chart/templates/…` header, or the layout the kubelet
//! gives a mounted Secret or ConfigMap (`..data`). The unit that writes a file at start is the systemd
//! runtime's to tell ([`super::systemd`]).

use super::{Generated, Naming};
use std::path::Path;

/// How many bytes at the head of a file are looked at for a header.
const HEAD: usize = 2048;

/// What the file's path and first lines say about where it comes from.
pub fn by_content(path: &Path, bytes: &[u8]) -> Option<Generated> {
    if path.starts_with("/nix/store") {
        return Some(Generated {
            by: "the Nix store (read-only, built from the NixOS configuration)".into(),
            source: "the NixOS configuration that defines this file".into(),
            naming: Naming::Unnamed,
        });
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(HEAD)]);
    let comments = head
        .lines()
        .take(10)
        .map(str::trim)
        .filter(|l| l.starts_with('#') || l.starts_with("//") || l.starts_with(';'));
    for c in comments {
        if c.contains("Ansible managed") {
            return Some(Generated {
                by: format!("Ansible (its header: {:?})", c.chars().take(120).collect::<String>()),
                source: "the Ansible template and variables that render it (run the playbook again after changing them)".into(),
                naming: Naming::Unnamed,
            });
        }
        if let Some(src) = c.strip_prefix("# Source: ") {
            return Some(Generated {
                by: format!("Helm (rendered from {src})"),
                source: format!(
                    "the chart's values that {src} renders from (helm upgrade after changing them)"
                ),
                naming: Naming::Unnamed,
            });
        }
    }
    // A Secret or ConfigMap as the kubelet mounts it: files are links into `..data`.
    if let Some(dir) = path.parent() {
        if dir.join("..data").symlink_metadata().is_ok() {
            return Some(Generated {
                by: "Kubernetes (a mounted Secret or ConfigMap, rewritten by the kubelet)".into(),
                source: "the Secret or ConfigMap it is mounted from (for a Helm release: the chart's values)".into(),
                naming: Naming::Unnamed,
            });
        }
    }
    None
}

/// A backup Ansible's template module leaves beside the file it replaced (`backup: true`):
/// `management.json.12345.2026-05-08@10:11:12~`.
pub fn ansible_backup_beside(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    let name = path.file_name()?.to_str()?;
    let prefix = format!("{name}.");
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let n = e.file_name().to_str()?.to_string();
        let rest = n.strip_prefix(&prefix)?.strip_suffix('~')?;
        let (pid, stamp) = rest.split_once('.')?;
        (pid.bytes().all(|b| b.is_ascii_digit())
            && stamp.len() == 19
            && stamp.as_bytes()[10] == b'@')
            .then_some(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_paths() {
        let p = Path::new("/etc/dex/config.yaml");
        assert!(by_content(p, b"issuer: x\n").is_none());
        let g = by_content(p, b"# Ansible managed\nissuer: x\n").unwrap();
        assert!(g.by.contains("Ansible"), "{g:?}");
        let g = by_content(
            p,
            b"---\n# Source: openzro/templates/dex-config-secret.yaml\n",
        )
        .unwrap();
        assert!(g.by.contains("openzro/templates/dex-config-secret.yaml"));
        assert!(by_content(Path::new("/nix/store/abc-config.json"), b"{}").is_some());
        // A header further down is no header.
        let late = format!("{}# Ansible managed\n", "a: 1\n".repeat(20));
        assert!(by_content(p, late.as_bytes()).is_none());
    }

    #[test]
    fn ansible_backups_beside() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("management.json");
        std::fs::write(&f, "{}").unwrap();
        assert_eq!(ansible_backup_beside(&f), None);
        std::fs::write(
            d.path().join("management.json.4242.2026-05-08@10:11:12~"),
            "{}",
        )
        .unwrap();
        assert_eq!(
            ansible_backup_beside(&f).as_deref(),
            Some("management.json.4242.2026-05-08@10:11:12~")
        );
    }
}
