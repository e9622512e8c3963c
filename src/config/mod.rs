//! The deployment's config files: management.json (NetBird/openZro's own settings, `EmbeddedIdP`, the
//! management's OIDC settings in `HttpConfig`), Dex's config.yaml (static connectors, `enablePasswordDB`)
//! and the setup env file the compose project names. Read from the container's mounts, read-only; each
//! value that can be repaired is found with the exact bytes it occupies, so an edit changes only those.
//!
//! [`yaml`] and [`envfile`] read and edit the two text formats in place; JSON goes through
//! [`crate::dex::jsonedit`].

pub mod envfile;
pub mod yaml;
