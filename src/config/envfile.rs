//! Env files (shell assignments) read for in-place edits.
