//! Config files of a deployment: NetBird's management.json with a static connector, bind-mounted into the
//! stand-in, which writes its static connectors into the database at every start (as NetBird does).

use crate::util::deploy::{Deployment, OPENZRO};
use crate::util::engine::Engine;
use crate::util::seed::{DexDb, JC_ID, JUMPCLOUD_SLASH, SECRET};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// management.json as NetBird's idp-migrate tool writes it (json.MarshalIndent, two spaces), with the
/// JumpCloud static connector whose issuer is `issuer`; other settings around it.
pub fn management_json(issuer: &str) -> String {
    format!(
        r#"{{
  "Stuns": [
    {{
      "Proto": "udp",
      "URI": "stun:vpn.example.com:3478"
    }}
  ],
  "DataStoreEncryptionKey": "c2VjcmV0LWtleS1ub3QtYS1jb25uZWN0b3I=",
  "HttpConfig": {{
    "Address": "0.0.0.0:33073",
    "AuthIssuer": "https://vpn.example.com/oauth2"
  }},
  "EmbeddedIdP": {{
    "Enabled": true,
    "Issuer": "https://vpn.example.com/oauth2",
    "DashboardRedirectURIs": [
      "https://vpn.example.com/nb-auth",
      "https://vpn.example.com/nb-silent-auth"
    ],
    "StaticConnectors": [
      {{
        "config": {{
          "clientID": "0f5e2c9a-e2e",
          "clientSecret": "{SECRET}",
          "issuer": "{issuer}",
          "redirectURI": "https://vpn.example.com/oauth2/callback"
        }},
        "id": "{JC_ID}",
        "name": "JumpCloud",
        "type": "oidc"
      }}
    ]
  }}
}}
"#
    )
}

/// A host directory for a bind-mounted file, removed at the end of the test.
pub fn host_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ozr-configs-")
        .tempdir_in("/var/tmp")
        .expect("temp dir")
}

pub fn write_config(path: &Path, text: &str, mode: u32, owner: (u32, u32)) {
    std::fs::write(path, text).expect("write management.json");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).expect("chown");
}

/// The locked-out deployment whose stand-in reads `text` as its bind-mounted management.json (written
/// with `mode` and `owner` in a host directory of its own), with `env` besides: the directory, the file
/// and the deployment (not waited for).
pub fn with_management_json(
    e: &Engine,
    text: &str,
    mode: u32,
    owner: (u32, u32),
    env: &[(&str, &str)],
) -> (tempfile::TempDir, PathBuf, Deployment) {
    let dir = host_dir();
    let file = dir.path().join("management.json");
    write_config(&file, text, mode, owner);
    let d = Deployment::create(e, &OPENZRO, &DexDb::locked_out());
    let mount = format!("{}:/etc/netbird/management.json", file.display());
    let mut all = vec![
        ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
        ("STANDIN_CONFIG", "/etc/netbird/management.json"),
    ];
    all.extend_from_slice(env);
    d.run_with(e, &all, &["-v", &mount]);
    (dir, file, d)
}
