//! The one digest the tests compare: SHA-256, as lowercase hex (what ozrepair's manifests and reports
//! print).

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
