// Records the git commit and the build target for `ozrepair --version`, and the commit's date for the
// man pages.
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=OZR_GIT_COMMIT={commit}");
    // The man pages' date: the commit's day (the same for every build of one commit).
    let date = std::process::Command::new("git")
        .args(["log", "-1", "--format=%cs", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| s.len() == 10)
        .unwrap_or_else(|| "1970-01-01".into());
    println!("cargo:rustc-env=OZR_COMMIT_DATE={date}");
    println!(
        "cargo:rustc-env=OZR_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
