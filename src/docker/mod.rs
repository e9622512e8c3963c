//! The Docker Engine API (through bollard) and locating the deployment on it.
//!
//! - [`endpoint`]: which engine (`-H`, `$DOCKER_HOST`, contexts, ssh tunnels, TLS);
//! - [`engine`]: the few calls ozrepair makes, with container states that never fail to parse;
//! - [`locate`]: which container runs the IdP and which of its mounts holds the Dex database.

pub mod endpoint;
pub mod engine;
pub mod locate;

pub use engine::{Container, ContainerState, Engine};
