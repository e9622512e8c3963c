//! The backup sets ozrepair leaves: directories under a backup root, each with a manifest.json.

use std::path::{Path, PathBuf};

/// The backup sets under `root`, oldest first (their names sort by time); none when `root` is missing.
pub fn backup_sets(root: &Path) -> Vec<PathBuf> {
    let mut sets: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("manifest.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    sets.sort();
    sets
}
