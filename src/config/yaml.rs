//! YAML read for in-place edits (see the module docs in mod.rs).
