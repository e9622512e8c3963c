//! Crash points for the fault-injection tests: with `OZREPAIR_FAULT=<point>` a debug build aborts the
//! process at that point, as a kill would (no cleanup, no destructors). With `OZREPAIR_FAULT_STEP=<n>` it
//! aborts at the n-th [`step`] of the run instead: the kill matrix of backup and restore walks n from 1
//! until a run completes (copies then go in 4 KiB chunks, so that there are many steps). Release builds
//! contain none of it.

/// A point of the stop window where a test may crash the run ([`point`]). The kill matrix
/// (`tests/suite/e2e_faults.rs`) iterates [`Point::ALL`], so a point added here is crashed at by the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The IdP was stopped (and proven stopped); nothing is backed up yet.
    AfterStop,
    /// The backup is written and verified; nothing is changed yet.
    AfterBackup,
    /// One config file was replaced (by rename); the next is not yet.
    InsideFiles,
    /// Every config file holds its new bytes; the store is unchanged.
    AfterFiles,
    /// Inside the store's one transaction, before its commit.
    InsideWrite,
    /// The store holds the new values; the IdP is still stopped.
    AfterWrite,
    /// Just before the IdP is started again.
    BeforeStart,
}

impl Point {
    /// Every point, in the order a fix passes them.
    pub const ALL: [Point; 7] = [
        Point::AfterStop,
        Point::AfterBackup,
        Point::InsideFiles,
        Point::AfterFiles,
        Point::InsideWrite,
        Point::AfterWrite,
        Point::BeforeStart,
    ];

    /// The name `OZREPAIR_FAULT` takes.
    pub fn name(self) -> &'static str {
        match self {
            Point::AfterStop => "after-stop",
            Point::AfterBackup => "after-backup",
            Point::InsideFiles => "inside-files",
            Point::AfterFiles => "after-files",
            Point::InsideWrite => "inside-write",
            Point::AfterWrite => "after-write",
            Point::BeforeStart => "before-start",
        }
    }

    /// Whether the store holds the new values once a run is past this point.
    pub fn store_written(self) -> bool {
        matches!(self, Point::AfterWrite | Point::BeforeStart)
    }
}

#[cfg(debug_assertions)]
pub fn point(p: Point) {
    if std::env::var("OZREPAIR_FAULT").is_ok_and(|v| v == p.name()) {
        crate::progress::say(format!("fault injected at {}", p.name()));
        std::process::abort();
    }
    pause(p);
}

/// With `OZREPAIR_PAUSE=<point>` and `OZREPAIR_PAUSE_FILE=<path>`, a debug build creates the file at that
/// point and waits (at most 10 minutes) until the test removes it: what a test does to the world in
/// between (a database server killed between the read and the write) happens at a known step.
#[cfg(debug_assertions)]
fn pause(p: Point) {
    let (Ok(at), Ok(file)) = (
        std::env::var("OZREPAIR_PAUSE"),
        std::env::var("OZREPAIR_PAUSE_FILE"),
    ) else {
        return;
    };
    if at != p.name() || std::fs::write(&file, p.name()).is_err() {
        return;
    }
    let end = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while std::path::Path::new(&file).exists() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_p: Point) {}

#[cfg(debug_assertions)]
static STEPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One step of a backup or restore (a chunk copied, a file synced, renamed or removed).
#[cfg(debug_assertions)]
pub fn step(what: &str) {
    let Some(at) = std::env::var("OZREPAIR_FAULT_STEP")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let n = STEPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if n == at {
        crate::progress::say(format!("fault injected at step {n} ({what})"));
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn step(_what: &str) {}

/// The copy chunk: small while steps are counted, so that a copy has many of them.
pub fn chunk(normal: usize) -> usize {
    if cfg!(debug_assertions) && std::env::var_os("OZREPAIR_FAULT_STEP").is_some() {
        4096
    } else {
        normal
    }
}

#[cfg(test)]
mod tests {
    use super::Point;

    #[test]
    fn every_point_has_its_own_name() {
        let names: Vec<&str> = Point::ALL.iter().map(|p| p.name()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(names.iter().all(|n| !n.is_empty() && n.is_ascii()));
    }
}
