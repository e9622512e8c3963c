//! The integration tests: one binary that drives the real `ozrepair` binary against files, private
//! Docker engines, an OpenSSH server and an HTTP stub, all on this machine. The harness is in `util/`,
//! one concern a file; the suites are in `suite/`, each a module of its own so that test names read
//! `e2e_fix::…`, `hostile::…`, and `cargo test --test tests hostile::` runs one suite.

#[macro_use]
mod util;

#[path = "suite/ansible_collection.rs"]
mod ansible_collection;
#[path = "suite/backup_restore.rs"]
mod backup_restore;
#[path = "suite/cli.rs"]
mod cli;
#[path = "suite/discover.rs"]
mod discover;
#[path = "suite/e2e_ansible.rs"]
mod e2e_ansible;
#[path = "suite/e2e_configs.rs"]
mod e2e_configs;
#[path = "suite/e2e_dbserver.rs"]
mod e2e_dbserver;
#[path = "suite/e2e_domain.rs"]
mod e2e_domain;
#[path = "suite/e2e_faults.rs"]
mod e2e_faults;
#[path = "suite/e2e_fix.rs"]
mod e2e_fix;
#[path = "suite/e2e_fleet.rs"]
mod e2e_fleet;
#[path = "suite/e2e_go.rs"]
mod e2e_go;
#[path = "suite/e2e_layouts.rs"]
mod e2e_layouts;
#[path = "suite/e2e_logins.rs"]
mod e2e_logins;
#[path = "suite/e2e_password.rs"]
mod e2e_password;
#[path = "suite/e2e_podman.rs"]
mod e2e_podman;
#[path = "suite/e2e_secret.rs"]
mod e2e_secret;
#[path = "suite/e2e_systemd.rs"]
mod e2e_systemd;
#[path = "suite/go_checker.rs"]
mod go_checker;
#[path = "suite/hostile.rs"]
mod hostile;
#[path = "suite/hostile_config.rs"]
mod hostile_config;
#[path = "suite/kill_matrix.rs"]
mod kill_matrix;
#[path = "suite/operator.rs"]
mod operator;
#[path = "suite/read_only.rs"]
mod read_only;
#[path = "suite/restore_trust.rs"]
mod restore_trust;
#[path = "suite/static_binary.rs"]
mod static_binary;
#[path = "suite/truth.rs"]
mod truth;
