//! `ozr-bench`: the harness behind `scripts/bench.sh`. A benchmark tool, not a test: it times commands,
//! prints medians side by side, and writes the table of docs/BENCHMARKS.md.
//!
//!   ozr-bench seed-big --db PATH --mb N
//!       a Dex database (schema 11, the demo's two connectors) grown to N MiB with offline_session and
//!       auth_request rows of realistic shape (JSON refresh maps, upstream token blobs, HMAC keys)
//!
//!   ozr-bench seed-connectors --db PATH --count N
//!       a Dex database (schema 11) with N connectors: OIDC (several providers), GitHub, LDAP and SAML
//!       configs, each with its own client secret; every issuer is correct (nothing to fix)
//!
//!   ozr-bench measure --results FILE --id ID --what TEXT --runs N [--warmup K]
//!       --ours CMD [--ours-label L] [--base CMD --base-label L] [--shell]
//!       [--setup SH] [--cleanup SH] [--bytes N]
//!       [--ratio-max X] [--throughput-min X] [--rss-max-mib X] [--ms-max X] [--ok CODES]
//!     Runs each side N times (after K unrecorded warm-up runs), alternating which side goes first run by
//!     run (ours, base / base, ours / ...). SETUP runs before every single run and CLEANUP after it, both
//!     through `bash -c` and untimed. A side's CMD is split like a shell would split it (single and double
//!     quotes, no expansion) and executed directly with stdout to /dev/null, unless --shell, when it runs
//!     through `bash -c`. Wall time is measured from spawn to exit (wait4), with the child's peak RSS
//!     (ru_maxrss). An exit code outside CODES (default 0; e.g. `0,3`) aborts the benchmark with the
//!     command's stderr. One JSON line per
//!     benchmark is appended to FILE, and a summary line is printed.
//!
//!   ozr-bench record --results FILE --id ID --what TEXT --ours-ms "MS MS …" [--ours-label L]
//!       [--base-ms "MS MS …" --base-label L] [--order TEXT] [--ratio-max X]
//!     One benchmark's record from wall times measured elsewhere (scripts/bench-fleet.sh times whole
//!     fleets of engines): the same JSON line as `measure`, with ORDER saying how the runs were ordered
//!     instead of "alternating".
//!
//!   ozr-bench sha256 --file PATH
//!     The sha256 of a file as ozrepair's backup computes it (the sha2 crate, 1 MiB reads): what the hash
//!     alone costs, for the backup's floor.
//!
//!   ozr-bench check --db PATH --mmap-size N
//!     SQLite's `integrity_check` of a database opened immutable, by the SQLite ozrepair links, with
//!     `mmap_size` N (0: 4 KiB reads, as ozrepair's backup checks).
//!
//!   ozr-bench get --results FILE --id ID --field PATH
//!     One value of a benchmark's record, e.g. `--field ours.median_ms` or `--field base.max_rss_kib`.
//!
//!   ozr-bench report --results FILE
//!     The markdown table of every benchmark in FILE: what, ours median, baseline median, ratio, target,
//!     met?. Exit code 0; the rows say which targets were missed.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("ozr-bench: {e}");
        std::process::exit(1);
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn run() -> Res<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return Err(
            "usage: ozr-bench seed-big|seed-connectors|measure|record|sha256|check|report|get ..."
                .into(),
        );
    }
    let cmd = args.remove(0);
    let opts = Opts::parse(&args)?;
    match cmd.as_str() {
        "seed-big" => seed_big(&PathBuf::from(opts.req("db")?), opts.req("mb")?.parse()?),
        "seed-connectors" => {
            seed_connectors(&PathBuf::from(opts.req("db")?), opts.req("count")?.parse()?)
        }
        "measure" => measure(&opts),
        "record" => record(&opts),
        "sha256" => sha256(&PathBuf::from(opts.req("file")?)),
        "check" => check(
            &PathBuf::from(opts.req("db")?),
            opts.req("mmap-size")?.parse()?,
        ),
        "report" => report(&PathBuf::from(opts.req("results")?)),
        "get" => get(&opts),
        _ => Err(format!("unknown command {cmd}").into()),
    }
}

/// `--name value` pairs and bare `--flag`s.
struct Opts(Vec<(String, Option<String>)>);

impl Opts {
    const FLAGS: [&'static str; 1] = ["shell"];

    fn parse(args: &[String]) -> Res<Opts> {
        let mut out = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a}"))?;
            if Self::FLAGS.contains(&name) {
                out.push((name.to_string(), None));
            } else {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                out.push((name.to_string(), Some(v.clone())));
            }
        }
        Ok(Opts(out))
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.as_deref())
    }
    fn req(&self, k: &str) -> Res<&str> {
        self.get(k)
            .ok_or_else(|| format!("--{k} is required").into())
    }
    fn flag(&self, k: &str) -> bool {
        self.0.iter().any(|(n, _)| n == k)
    }
    fn num(&self, k: &str) -> Res<Option<f64>> {
        Ok(match self.get(k) {
            Some(v) => Some(v.parse()?),
            None => None,
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// Databases

/// xorshift64*: fast, deterministic filler bytes (the same database every time).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// `n` characters of the base64url alphabet (what tokens and keys look like).
    fn token(&mut self, n: usize) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = String::with_capacity(n);
        while s.len() < n {
            let mut r = self.next();
            for _ in 0..10 {
                if s.len() == n {
                    break;
                }
                s.push(A[(r & 63) as usize] as char);
                r >>= 6;
            }
        }
        s
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

fn fresh(db: &Path) -> Res<()> {
    if db.exists() {
        return Err(format!("{} exists already", db.display()).into());
    }
    if let Some(d) = db.parent() {
        std::fs::create_dir_all(d)?;
    }
    Ok(())
}

const DEMO_CONFIG: &str = r#"{"clientID":"0f5e2c9a-demo","clientSecret":"demo-client-secret-do-not-print","insecureSkipEmailVerified":true,"issuer":"https://oauth.id.jumpcloud.com","redirectURI":"https://openzro.example.com/oauth2/callback?x=1\u0026y=2","scopes":["openid","profile","email"]}"#;

fn seed_big(db: &Path, mb: u64) -> Res<()> {
    use ozrepair_standin::seed::{create_dex_db, insert_connector, insert_other_rows, Connector};
    fresh(db)?;
    let conn = create_dex_db(db, 11)?;
    for c in [
        Connector {
            id: "local",
            typ: "local",
            name: "Email",
            resource_version: "",
            config: None,
        },
        Connector {
            id: "d4s1a2b3c4d5e6f7g8h9",
            typ: "oidc",
            name: "JumpCloud",
            resource_version: "",
            config: Some(DEMO_CONFIG.as_bytes()),
        },
    ] {
        insert_connector(&conn, &c)?;
    }
    insert_other_rows(&conn)?;
    // Bulk load: no journal, no fsync per commit; the file is complete when this returns.
    conn.execute_batch(
        "pragma journal_mode=off; pragma synchronous=off; pragma cache_size=-65536;",
    )?;
    let target = mb << 20;
    let page_size: i64 = conn.query_row("pragma page_size", [], |r| r.get(0))?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut sessions, mut requests) = (0u64, 0u64);
    conn.execute_batch("begin")?;
    {
        let mut os = conn.prepare(
            "insert into offline_session (user_id, conn_id, refresh, connector_data) values (?1, ?2, ?3, ?4)",
        )?;
        let mut ar = conn.prepare(
            "insert into auth_request (id, client_id, response_types, scopes, redirect_uri, nonce, state,
               force_approval_prompt, logged_in, claims_user_id, claims_username, claims_email,
               claims_email_verified, claims_groups, connector_id, connector_data, expiry, hmac_key)
             values (?1, 'netbird-dashboard', '[\"code\"]', '[\"openid\",\"profile\",\"email\",\"offline_access\"]',
               'https://openzro.example.com/nb-auth', ?2, ?3, 0, 1, ?4, ?5, ?6, 1, '[\"admins\",\"devs\"]',
               'd4s1a2b3c4d5e6f7g8h9', ?7, '2026-08-01 12:00:00', ?8)",
        )?;
        loop {
            for _ in 0..2000 {
                // A user's offline session: the refresh-token map Dex keeps per client, and the upstream
                // provider's tokens (connector_data) of a couple of KiB.
                let user = format!("{:024x}", rng.next() as u128 * 31 + sessions as u128);
                let refresh = format!(
                    r#"{{"netbird-dashboard":{{"ID":"{}","ClientID":"netbird-dashboard","CreatedAt":"2026-07-01T10:00:00Z","LastUsed":"2026-07-30T10:00:00Z"}},"netbird-cli":{{"ID":"{}","ClientID":"netbird-cli","CreatedAt":"2026-07-02T10:00:00Z","LastUsed":"2026-07-30T11:00:00Z"}}}}"#,
                    rng.token(26),
                    rng.token(26)
                );
                let data = format!(
                    r#"{{"RefreshToken":"{}","AccessToken":"{}","IDToken":"{}"}}"#,
                    rng.token(64),
                    rng.token(900),
                    rng.token(1100)
                );
                os.execute(rusqlite::params![
                    user,
                    "d4s1a2b3c4d5e6f7g8h9",
                    refresh.as_bytes(),
                    data.as_bytes()
                ])?;
                sessions += 1;
                // Two auth requests per session (abandoned logins pile up until Dex's GC removes them).
                for _ in 0..2 {
                    let n = requests;
                    let cdata = format!(
                        r#"{{"state":"{}","verifier":"{}"}}"#,
                        rng.token(32),
                        rng.token(43)
                    );
                    ar.execute(rusqlite::params![
                        rng.token(25),
                        rng.token(22),
                        rng.token(22),
                        format!("user-{n:08}"),
                        format!("User {n}"),
                        format!("user{n}@example.com"),
                        cdata.as_bytes(),
                        rng.bytes(32)
                    ])?;
                    requests += 1;
                }
            }
            let pages: i64 = conn.query_row("pragma page_count", [], |r| r.get(0))?;
            if (pages * page_size) as u64 >= target {
                break;
            }
        }
    }
    conn.execute_batch("commit")?;
    drop(conn);
    let size = std::fs::metadata(db)?.len();
    println!(
        "{} bytes, {sessions} offline_session rows, {requests} auth_request rows",
        size
    );
    Ok(())
}

fn seed_connectors(db: &Path, count: usize) -> Res<()> {
    use ozrepair_standin::seed::{create_dex_db, insert_connector, insert_other_rows, Connector};
    fresh(db)?;
    let conn = create_dex_db(db, 11)?;
    conn.execute_batch("pragma journal_mode=off; pragma synchronous=off; begin")?;
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    insert_connector(
        &conn,
        &Connector {
            id: "local",
            typ: "local",
            name: "Email",
            resource_version: "",
            config: None,
        },
    )?;
    // Issuers as each provider publishes them (JumpCloud with the slash, the others without).
    let issuers = [
        "https://oauth.id.jumpcloud.com/",
        "https://acme.okta.com",
        "https://auth.example.org",
        "https://gitlab.com",
        "https://login.microsoftonline.com/3f1c2d4e-0000-4000-8000-0123456789ab/v2.0",
        "https://accounts.google.com",
    ];
    for i in 1..count {
        let id = format!("c{:019x}", rng.next() >> 4);
        let (typ, name, config) = match i % 10 {
            0 => (
                "github",
                format!("GitHub org {i}"),
                json!({"clientID": rng.token(20), "clientSecret": rng.token(40),
                       "redirectURI": "https://openzro.example.com/oauth2/callback",
                       "orgs": [{"name": format!("org-{i}")}], "loadAllGroups": false}),
            ),
            1 => (
                "ldap",
                format!("LDAP {i}"),
                json!({"host": format!("ldap{i}.example.com:636"), "bindDN": "cn=admin,dc=example,dc=com",
                       "bindPW": rng.token(24), "usernamePrompt": "Email",
                       "userSearch": {"baseDN": "ou=People,dc=example,dc=com", "filter": "(objectClass=person)",
                                      "username": "mail", "idAttr": "DN", "emailAttr": "mail", "nameAttr": "cn"}}),
            ),
            2 => (
                "saml",
                format!("SAML {i}"),
                json!({"ssoURL": format!("https://idp{i}.example.com/sso/saml"), "ca": "/etc/dex/saml-ca.pem",
                       "redirectURI": "https://openzro.example.com/oauth2/callback",
                       "usernameAttr": "name", "emailAttr": "email", "groupsAttr": "groups"}),
            ),
            _ => (
                "oidc",
                format!("OIDC {i}"),
                json!({"clientID": format!("{}-{i}", rng.token(12)), "clientSecret": rng.token(48),
                       "issuer": issuers[i % issuers.len()], "insecureSkipEmailVerified": true,
                       "redirectURI": "https://openzro.example.com/oauth2/callback",
                       "scopes": ["openid", "profile", "email"]}),
            ),
        };
        let config = config.to_string();
        insert_connector(
            &conn,
            &Connector {
                id: &id,
                typ,
                name: &name,
                resource_version: "",
                config: Some(config.as_bytes()),
            },
        )?;
    }
    insert_other_rows(&conn)?;
    conn.execute_batch("commit")?;
    drop(conn);
    println!("{} bytes, {count} connectors", std::fs::metadata(db)?.len());
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Measuring

/// Splits a command line like a shell (single and double quotes, backslash outside single quotes), with
/// no expansion of any kind.
fn split(cmd: &str) -> Res<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                have = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unbalanced ' in {cmd}").into()),
                    }
                }
            }
            '"' => {
                have = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.push(chars.next().ok_or("trailing \\")?),
                        Some(c) => cur.push(c),
                        None => return Err(format!("unbalanced \" in {cmd}").into()),
                    }
                }
            }
            '\\' => {
                have = true;
                cur.push(chars.next().ok_or("trailing \\")?);
            }
            c if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        out.push(cur);
    }
    if out.is_empty() {
        return Err("empty command".into());
    }
    Ok(out)
}

struct Sample {
    ms: f64,
    rss_kib: u64,
}

/// Runs `cmd` once: wall time from spawn to exit, and the child's peak RSS.
fn time_once(cmd: &str, shell: bool, ok: &[i32]) -> Res<Sample> {
    let argv = if shell {
        vec!["bash".to_string(), "-c".to_string(), cmd.to_string()]
    } else {
        split(cmd)?
    };
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = c
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let pid = child.id() as libc::pid_t;
    // Drain stderr while the child runs (a full pipe would stall it); this thread does not add to the
    // child's time.
    let mut err = child.stderr.take().ok_or("no stderr pipe")?;
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, status and ru point at live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if r != pid {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()).into());
    }
    let stderr = reader.join().unwrap_or_default();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    if !ok.contains(&code) {
        return Err(format!(
            "`{cmd}` exited {code}; its stderr:\n{}",
            String::from_utf8_lossy(&stderr)
        )
        .into());
    }
    std::mem::forget(child); // already reaped by wait4
    Ok(Sample {
        ms,
        rss_kib: ru.ru_maxrss as u64,
    })
}

fn sh(script: &str) -> Res<()> {
    let st = Command::new("bash").arg("-c").arg(script).status()?;
    if !st.success() {
        return Err(format!("`{script}` failed ({st})").into());
    }
    Ok(())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A side's times: every run, the median and the range.
fn times_json(label: &str, ms: Vec<f64>) -> Value {
    json!({
        "label": label,
        "median_ms": median(&ms),
        "min_ms": ms.iter().cloned().fold(f64::INFINITY, f64::min),
        "max_ms": ms.iter().cloned().fold(0.0, f64::max),
        "samples_ms": ms,
    })
}

fn side_json(label: &str, cmd: &str, samples: &[Sample]) -> Value {
    let ms: Vec<f64> = samples
        .iter()
        .map(|s| (s.ms * 1000.0).round() / 1000.0)
        .collect();
    let mut side = times_json(label, ms);
    side["cmd"] = json!(cmd);
    side["max_rss_kib"] = json!(samples.iter().map(|s| s.rss_kib).max().unwrap_or(0));
    side
}

fn sha256(file: &Path) -> Res<()> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(file)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = f.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    let sum: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("{sum}");
    Ok(())
}

fn check(db: &Path, mmap_size: i64) -> Res<()> {
    let conn = rusqlite::Connection::open_with_flags(
        format!("file:{}?immutable=1", db.display()),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.pragma_update(None, "mmap_size", mmap_size)?;
    let r: String = conn.query_row("pragma integrity_check", [], |r| r.get(0))?;
    if r != "ok" {
        return Err(format!("integrity_check: {r}").into());
    }
    Ok(())
}

/// Wall times measured elsewhere, as a side of a record (no peak RSS: the side is many processes).
fn recorded_side(label: &str, ms: &str) -> Res<Value> {
    let ms: Vec<f64> = ms
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if ms.is_empty() {
        return Err(format!("no times for {label}").into());
    }
    Ok(times_json(label, ms))
}

fn record(o: &Opts) -> Res<()> {
    let id = o.req("id")?;
    let ours = recorded_side(o.get("ours-label").unwrap_or("ozrepair"), o.req("ours-ms")?)?;
    let runs = ours["samples_ms"].as_array().map_or(0, Vec::len);
    let mut rec = json!({
        "id": id,
        "what": o.get("what").unwrap_or(id),
        "runs": runs,
        "order": o.get("order").unwrap_or("measured elsewhere"),
        "ours": ours,
    });
    if let Some(b) = o.get("base-ms") {
        rec["base"] = recorded_side(o.get("base-label").unwrap_or("baseline"), b)?;
    }
    if let Some(v) = o.num("ratio-max")? {
        rec["targets"]["ratio-max"] = json!(v);
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(o.req("results")?)?;
    writeln!(f, "{rec}")?;
    Ok(())
}

fn measure(o: &Opts) -> Res<()> {
    let results = PathBuf::from(o.req("results")?);
    let id = o.req("id")?;
    let runs: usize = o.req("runs")?.parse()?;
    let warmup: usize = o.get("warmup").unwrap_or("0").parse()?;
    let shell = o.flag("shell");
    let ours = o.req("ours")?;
    let base = o.get("base");
    let setup = o.get("setup");
    let cleanup = o.get("cleanup");
    let ok: Vec<i32> = o
        .get("ok")
        .unwrap_or("0")
        .split(',')
        .map(|c| c.trim().parse())
        .collect::<Result<_, _>>()?;
    let mut sides: Vec<(&str, Vec<Sample>)> = vec![(ours, Vec::new())];
    if let Some(b) = base {
        sides.push((b, Vec::new()));
    }
    let once = |cmd: &str| -> Res<Sample> {
        if let Some(s) = setup {
            sh(s)?;
        }
        let r = time_once(cmd, shell, &ok);
        if let Some(c) = cleanup {
            sh(c)?;
        }
        r
    };
    for _ in 0..warmup {
        for (cmd, _) in &sides {
            once(cmd)?;
        }
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for i in 0..runs {
        // Alternate: run 0 is ours then base, run 1 base then ours, and so on.
        let n = sides.len();
        for k in 0..n {
            let j = if i % 2 == 0 { k } else { n - 1 - k };
            let cmd = sides[j].0;
            let s = once(cmd)?;
            if tty {
                eprint!(
                    "\r  {id}: run {}/{runs} {}: {:.1} ms        ",
                    i + 1,
                    if j == 0 { "ours" } else { "base" },
                    s.ms
                );
            }
            sides[j].1.push(s);
        }
    }
    if tty {
        eprintln!();
    }
    let mut rec = json!({
        "id": id,
        "what": o.get("what").unwrap_or(id),
        "runs": runs,
        "warmup": warmup,
        "ours": side_json(o.get("ours-label").unwrap_or("ozrepair"), ours, &sides[0].1),
    });
    if let Some(b) = base {
        rec["base"] = side_json(o.get("base-label").unwrap_or("baseline"), b, &sides[1].1);
    }
    if let Some(b) = o.num("bytes")? {
        rec["bytes"] = json!(b);
    }
    for k in ["ratio-max", "throughput-min", "rss-max-mib", "ms-max"] {
        if let Some(v) = o.num(k)? {
            rec["targets"][k] = json!(v);
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results)?;
    writeln!(f, "{rec}")?;
    let om = rec["ours"]["median_ms"].as_f64().unwrap_or(f64::NAN);
    match rec.get("base") {
        Some(b) => {
            let bm = b["median_ms"].as_f64().unwrap_or(f64::NAN);
            eprintln!(
                "  {id}: ours median {om:.1} ms | baseline median {bm:.1} ms | ratio ours/baseline {:.2}",
                om / bm
            );
        }
        None => eprintln!("  {id}: median {om:.2} ms"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// The table

fn get(o: &Opts) -> Res<()> {
    let text = std::fs::read_to_string(o.req("results")?)?;
    let id = o.req("id")?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Value = serde_json::from_str(line)?;
        if r["id"] == id {
            let mut v = &r;
            for part in o.req("field")?.split('.') {
                v = &v[part];
            }
            match v {
                Value::Null => return Err(format!("{id} has no {}", o.req("field")?).into()),
                Value::String(s) => println!("{s}"),
                other => println!("{other}"),
            }
            return Ok(());
        }
    }
    Err(format!("no benchmark {id} in the results").into())
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn range(side: &Value) -> String {
    format!(
        "{} (range {}–{})",
        fmt_ms(side["median_ms"].as_f64().unwrap_or(f64::NAN)),
        fmt_ms(side["min_ms"].as_f64().unwrap_or(f64::NAN)),
        fmt_ms(side["max_ms"].as_f64().unwrap_or(f64::NAN))
    )
}

fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

fn report(results: &Path) -> Res<()> {
    let text = std::fs::read_to_string(results)?;
    let recs: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    if recs.iter().all(|r| r.get("base").is_none()) {
        // Measurements without a baseline (the profile section): what, median, runs.
        let mut out = String::from("| what | median (range) | N |\n|---|---|---|\n");
        for r in &recs {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                r["what"].as_str().unwrap_or("?"),
                range(&r["ours"]),
                r["runs"]
            ));
        }
        print!("{out}");
        return Ok(());
    }
    let mut out = String::new();
    out.push_str("| what | ours median | baseline median | ratio | target | met? |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for r in &recs {
        let what = r["what"].as_str().unwrap_or("?");
        let runs = r["runs"].as_u64().unwrap_or(0);
        let ours = &r["ours"];
        let om = ours["median_ms"].as_f64().unwrap_or(f64::NAN);
        let t = &r["targets"];
        let Some(base) = r.get("base") else {
            let (target, ok) = match t["ms-max"].as_f64() {
                Some(x) => (format!("< {x} ms"), met(om < x)),
                None => ("report only".to_string(), "—"),
            };
            out.push_str(&format!(
                "| {what} (N={runs}) | {} | — | — | {target} | {ok} |\n",
                range(ours)
            ));
            continue;
        };
        let bm = base["median_ms"].as_f64().unwrap_or(f64::NAN);
        let (ol, bl) = (
            ours["label"].as_str().unwrap_or("ours"),
            base["label"].as_str().unwrap_or("baseline"),
        );
        let ratio = om / bm;
        let time_target = t["ratio-max"].as_f64();
        let order = r["order"].as_str().unwrap_or("alternating");
        out.push_str(&format!(
            "| {what}: wall time, {ol} vs {bl} (N={runs}, {order}) | {} | {} | {ratio:.2} | {} | {} |\n",
            range(ours),
            range(base),
            time_target.map(|x| format!("≤ {x}")).unwrap_or_else(|| "—".into()),
            time_target.map(|x| met(ratio <= x)).unwrap_or("—"),
        ));
        if let Some(bytes) = r["bytes"].as_f64() {
            let mbs = |ms: f64| bytes / 1e6 / (ms / 1000.0);
            let tr = mbs(om) / mbs(bm);
            let target = t["throughput-min"].as_f64();
            out.push_str(&format!(
                "| {what}: throughput ({:.0} MB) | {:.0} MB/s | {:.0} MB/s | {tr:.2} | {} | {} |\n",
                bytes / 1e6,
                mbs(om),
                mbs(bm),
                target
                    .map(|x| format!("≥ {x}"))
                    .unwrap_or_else(|| "—".into()),
                target.map(|x| met(tr >= x)).unwrap_or("—"),
            ));
        }
        if let Some(limit) = t["rss-max-mib"].as_f64() {
            let (orss, brss) = (
                ours["max_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
                base["max_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            );
            out.push_str(&format!(
                "| {what}: peak RSS (max over runs, wait4 ru_maxrss) | {orss:.1} MiB | {brss:.1} MiB | {:.2} | < {limit} MiB | {} |\n",
                orss / brss,
                met(orss < limit),
            ));
        }
    }
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split(r#"sqlite3 db "select a,b from t" 'x y' z\ w"#).unwrap(),
            vec!["sqlite3", "db", "select a,b from t", "x y", "z w"]
        );
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
