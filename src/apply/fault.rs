//! Crash points for the fault-injection tests: with `OZREPAIR_FAULT=<point>` a debug build aborts the
//! process at that point, as a kill would (no cleanup, no destructors). With `OZREPAIR_FAULT_STEP=<n>` it
//! aborts at the n-th [`step`] of the run instead: the kill matrix of backup and restore walks n from 1
//! until a run completes (copies then go in 4 KiB chunks, so that there are many steps). Release builds
//! contain none of it.

/// The points, in the order the fix path passes them.
pub const POINTS: [&str; 5] = [
    "after-stop",
    "after-backup",
    "inside-write",
    "after-write",
    "before-start",
];

#[cfg(debug_assertions)]
pub fn point(name: &str) {
    if std::env::var("OZREPAIR_FAULT").is_ok_and(|v| v == name) {
        crate::progress::say(format!("fault injected at {name}"));
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_name: &str) {}

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
