//! Crash points for the fault-injection tests: with `OZREPAIR_FAULT=<point>` a debug build aborts the
//! process at that point, as a kill would (no cleanup, no destructors). Release builds contain none of it.

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
