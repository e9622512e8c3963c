//! What an operator gets: the static release binary (scripts/build-static.sh) and the packages and image
//! made around it (scripts/build-packages.sh, scripts/build-image.sh). scripts/test.sh builds them before
//! the tests and says so (OZR_STATIC_BUILT=1, OZR_PACKAGES_BUILT=1); a test run on its own builds them.

use crate::util::repo;
use crate::util::run;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// One build at a time: two tests that need it wait for the first.
static BUILDING: Mutex<()> = Mutex::new(());

fn build(script: &str, args: &[&str], done_var: &str, product: &str) -> PathBuf {
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let path = repo().join(product);
    if std::env::var_os(done_var).is_none() || !path.exists() {
        let built = run::output_within(
            Command::new(repo().join(script))
                .args(args)
                .env("OZR_STATIC_BUILT", "1"),
            Duration::from_secs(1800),
        );
        assert!(
            built.status.success(),
            "{script} failed:\n{}",
            built.stderr_text()
        );
    }
    assert!(path.exists(), "{script} made no {product}");
    path
}

/// target/static/ozrepair, built once per test run when scripts/test.sh has not built it.
pub fn static_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
            let bin = repo().join("target/static/ozrepair");
            if std::env::var_os("OZR_STATIC_BUILT").is_none() || !bin.exists() {
                let built = run::output_within(
                    &mut Command::new(repo().join("scripts/build-static.sh")),
                    Duration::from_secs(900),
                );
                assert!(
                    built.status.success(),
                    "scripts/build-static.sh failed:\n{}",
                    built.stderr_text()
                );
            }
            bin
        })
        .clone()
}

/// target/packages, with the .deb, the .rpm and their sha256 files (scripts/build-packages.sh).
pub fn packages() -> PathBuf {
    static_binary();
    build(
        "scripts/build-packages.sh",
        &[],
        "OZR_PACKAGES_BUILT",
        "target/packages/SHA256SUMS",
    );
    repo().join("target/packages")
}

/// The image's root file system, target/packages/ozrepair-VERSION-image.tar with its .sha256
/// (scripts/build-image.sh --no-import; cheap, so built here unless OZR_IMAGE_BUILT=1 says it is).
pub fn image_tar() -> PathBuf {
    let bin = static_binary();
    let version = run::output(Command::new(&bin).arg("--version")).stdout_text();
    let version = version
        .split_whitespace()
        .nth(1)
        .expect("a version")
        .to_string();
    build(
        "scripts/build-image.sh",
        &["--no-import"],
        "OZR_IMAGE_BUILT",
        &format!("target/packages/ozrepair-{version}-image.tar"),
    )
}
