//! Where a unit's lines are: journald (read with `journalctl -o json`, matched on the trusted
//! `_SYSTEMD_UNIT` field and one run's `_SYSTEMD_INVOCATION_ID`), or the file its `--log-file` names
//! (read from where a run began). Either way the lines become [`LogLine`]s for the log readers in
//! [`crate::logs`], which read every format the container logs have.

use super::ctl::{self, said};
use crate::logs::LogLine;
use crate::timefmt::{parse_rfc3339, rfc3339_micros, stamp_bounds};
use anyhow::{bail, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One journal entry of a unit's own process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `__REALTIME_TIMESTAMP`, in ns since the epoch.
    pub at: i128,
    /// `_SYSTEMD_INVOCATION_ID` (empty when journald could not tell).
    pub invocation: String,
    pub message: String,
}

impl Entry {
    pub fn line(&self) -> LogLine {
        LogLine {
            time: rfc3339_micros(self.at),
            text: self.message.clone(),
        }
    }
}

/// A journal field's value: a string, or (for bytes that are not UTF-8) an array of numbers.
fn field_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => {
            let bytes: Option<Vec<u8>> = a
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
        }
        _ => None,
    }
}

/// Parses `journalctl -o json` output (one object a line).
pub fn parse_json_lines(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(line)
        else {
            continue;
        };
        let Some(message) = m.get("MESSAGE").and_then(field_text) else {
            continue;
        };
        let at = m
            .get("__REALTIME_TIMESTAMP")
            .and_then(field_text)
            .and_then(|t| t.parse::<i128>().ok())
            .map(|us| us * 1000)
            .unwrap_or(0);
        let invocation = m
            .get("_SYSTEMD_INVOCATION_ID")
            .and_then(field_text)
            .unwrap_or_default();
        out.push(Entry {
            at,
            invocation,
            message,
        });
    }
    out
}

/// The newest `tail` entries `unit`'s own processes wrote (stdout, stderr, syslog, the journal API), in
/// order; only `invocation`'s when given.
pub async fn entries(unit: &str, invocation: Option<&str>, tail: usize) -> Result<Vec<Entry>> {
    let n = tail.to_string();
    let unit_match = format!("_SYSTEMD_UNIT={unit}");
    let inv_match = invocation.map(|i| format!("_SYSTEMD_INVOCATION_ID={i}"));
    // --all: without it, json output writes fields longer than 4096 bytes as null.
    let mut args = vec![
        "--no-pager",
        "--all",
        "-o",
        "json",
        "--output-fields=MESSAGE,_SYSTEMD_INVOCATION_ID",
        "-n",
        &n,
        &unit_match,
    ];
    if let Some(m) = &inv_match {
        args.push(m);
    }
    let out = ctl::run("journalctl", &args, ctl::QUERY_LIMIT).await?;
    if !out.status.success() {
        bail!(
            "cannot read {unit}'s journal (`journalctl -u {unit}`): {}",
            said(&out)
        );
    }
    Ok(parse_json_lines(&String::from_utf8_lossy(&out.stdout)))
}

/// The entries of the unit's last run that said something, and of the runs before it back to `runs`
/// runs (a restart loop's runs are alike; the one that ended is the one that tells why).
pub fn last_runs(entries: &[Entry], runs: usize) -> Vec<LogLine> {
    let mut ids: Vec<&str> = Vec::new();
    for e in entries.iter().rev() {
        if !ids.contains(&e.invocation.as_str()) {
            if ids.len() == runs {
                break;
            }
            ids.push(&e.invocation);
        }
    }
    entries
        .iter()
        .filter(|e| ids.contains(&e.invocation.as_str()))
        .map(Entry::line)
        .collect()
}

/// How much of a log file's end is read for one run.
const FILE_TAIL: u64 = 4 << 20;

/// Where a log file ends now (its identity and length), so that a run started after can be read from
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMark {
    pub inode: u64,
    pub len: u64,
}

impl FileMark {
    pub fn take(path: &Path) -> Option<FileMark> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileMark {
            inode: m.ino(),
            len: m.len(),
        })
    }
}

/// The lines of a log file after `mark` (all of it when the file is another one now: rotated), or the
/// end of the file with lines stamped from `since` on. A line without a stamp of its own goes with the
/// stamped line before it.
pub fn file_lines(
    path: &PathBuf,
    mark: Option<FileMark>,
    since: Option<i128>,
) -> Result<Vec<LogLine>> {
    use std::os::unix::fs::MetadataExt;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("cannot read the log file {}: {e}", path.display()),
    };
    let meta = f.metadata()?;
    let from = match mark {
        Some(m) if m.inode == meta.ino() && m.len <= meta.len() => m.len,
        Some(_) => 0,
        None => meta.len().saturating_sub(FILE_TAIL),
    };
    f.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    f.take(FILE_TAIL).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    // A tail that began in the middle of a line.
    if mark.is_none() && from > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let mut out = Vec::new();
    let mut keep = since.is_none();
    let mut last_time = String::new();
    for l in lines {
        // A stamp stands for every instant it may mean (a whole second: NetBird's text up to v0.65.2).
        let admits = |stamp: &str| {
            stamp_bounds(stamp).is_some_and(|(_, last)| since.is_none_or(|s| last >= s))
        };
        let first = l.split(' ').next().unwrap_or("");
        if parse_rfc3339(first).is_some() {
            keep = admits(first);
            last_time = first.to_string();
        } else if let Some(t) = json_time(l) {
            keep = admits(&t);
            last_time = t;
        }
        if keep {
            out.push(LogLine {
                time: last_time.clone(),
                text: l.to_string(),
            });
        }
    }
    Ok(out)
}

/// The `time` of a JSON log line (logrus JSON).
fn json_time(line: &str) -> Option<String> {
    if !line.starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("time")?.as_str().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_journal_json() {
        let text = concat!(
            r#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1796555100450396","MESSAGE":"2026-01-01T00:00:00Z FATL x","_SYSTEMD_INVOCATION_ID":"aa"}"#,
            "\n",
            r#"{"__REALTIME_TIMESTAMP":"1796555100450397","MESSAGE":[104,105,255],"_SYSTEMD_INVOCATION_ID":"bb"}"#,
            "\n",
            r#"{"__REALTIME_TIMESTAMP":"1796555100450398","MESSAGE":null}"#,
            "\nnot json\n"
        );
        let e = parse_json_lines(text);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].invocation, "aa");
        assert_eq!(e[0].line().time, "2026-12-06T11:05:00.450396Z");
        assert_eq!(e[1].message, "hi\u{fffd}");
        let lines = last_runs(&e, 1);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "hi\u{fffd}");
        assert_eq!(last_runs(&e, 2).len(), 2);
    }

    #[test]
    fn reads_a_log_file_from_a_run_or_a_mark() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("management.log");
        std::fs::write(
            &p,
            "2026-01-01T00:00:00Z INFO old run\ncontinued old\n2026-01-01T00:01:00Z FATL new run\ncontinued new\n",
        )
        .unwrap();
        let since = parse_rfc3339("2026-01-01T00:00:30Z");
        let lines = file_lines(&p, None, since).unwrap();
        assert_eq!(lines.len(), 2);
        // A whole-second stamp is in the run that started within its second.
        let within = parse_rfc3339("2026-01-01T00:01:00.450Z");
        assert_eq!(file_lines(&p, None, within).unwrap().len(), 2);
        assert_eq!(lines[0].text, "2026-01-01T00:01:00Z FATL new run");
        assert_eq!(lines[1].time, "2026-01-01T00:01:00Z");
        let mark = FileMark::take(&p);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(
            &mut f,
            b"{\"level\":\"info\",\"msg\":\"x\",\"time\":\"2026-01-01T00:02:00Z\"}\n",
        )
        .unwrap();
        let after = file_lines(&p, mark, None).unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].time, "2026-01-01T00:02:00Z");
        assert!(file_lines(&dir.path().join("none"), None, None)
            .unwrap()
            .is_empty());
    }
}
