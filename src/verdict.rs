//! How a command ended: its outcome (the report's `result`) and its exit code. The exit-code table in
//! `--help`, the man page, the README and docs/cli-contract.md all come from [`ExitCode::ALL`] (a unit test
//! holds the documents to it).

use serde::Serialize;

/// The process's exit code, the same for every command (the contract's table, [`RESULTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitCode {
    /// 0: done: nothing to fix, or fixed and verified.
    Done,
    /// 1: failed; the report says what state everything was left in.
    Failed,
    /// 2: usage error.
    Usage,
    /// 3: changes pending.
    Pending,
    /// 4: applied, but the IdP did not stay up.
    NotUp,
    /// 5: nothing found to fix, but not everything could be checked.
    Unchecked,
    /// 6: a place ozrepair must not or cannot change still holds the wrong value.
    ActionNeeded,
}

impl ExitCode {
    /// Every code, in numeric order.
    pub const ALL: [ExitCode; 7] = [
        ExitCode::Done,
        ExitCode::Failed,
        ExitCode::Usage,
        ExitCode::Pending,
        ExitCode::NotUp,
        ExitCode::Unchecked,
        ExitCode::ActionNeeded,
    ];

    pub fn code(self) -> i32 {
        match self {
            ExitCode::Done => 0,
            ExitCode::Failed => 1,
            ExitCode::Usage => 2,
            ExitCode::Pending => 3,
            ExitCode::NotUp => 4,
            ExitCode::Unchecked => 5,
            ExitCode::ActionNeeded => 6,
        }
    }

    /// The code a child run exited with (fleet), mapped back; anything unknown is a failure.
    pub fn from_code(code: i32) -> ExitCode {
        ExitCode::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .unwrap_or(ExitCode::Failed)
    }

    /// What the code means, as the documents say it.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Done => "done: checked and nothing to fix, or fixed and verified, backed up, restored, listed (also: applied with `--wait 0`, result `unverified`)",
            ExitCode::Failed => "failed (or cancelled at the prompt); the report and the one-line error say what state everything was left in and what to do next",
            ExitCode::Usage => "usage error (also: something would be stopped or changed, stdin is not a terminal and `--yes` was not given; nothing was)",
            ExitCode::Pending => "changes pending: `inspect` found something to fix, or a `--dry-run` has a plan",
            ExitCode::NotUp => "the change was applied but the IdP did not stay up within `--wait`",
            ExitCode::Unchecked => "nothing found to fix, but some connectors could not be checked (no logs of a start, no provider asked): not a clean bill of health",
            ExitCode::ActionNeeded => "a place ozrepair must not or cannot change (a generated config, a value it cannot edit exactly) still holds the wrong value: the report names it and what to do",
        }
    }

    /// How bad a host's code is when a fleet reports its worst: done < unchecked < pending < not up <
    /// action needed < failed/usage.
    pub fn severity(self) -> u8 {
        match self {
            ExitCode::Done => 0,
            ExitCode::Unchecked => 1,
            ExitCode::Pending => 2,
            ExitCode::NotUp => 3,
            ExitCode::ActionNeeded => 4,
            ExitCode::Failed | ExitCode::Usage => 5,
        }
    }

    /// The table for `--help` and the man page.
    pub fn help_table() -> String {
        let mut s = String::from("Exit codes:");
        for c in ExitCode::ALL {
            s.push_str(&format!("\n  {}  {}", c.code(), c.meaning()));
        }
        s
    }

    /// The table as Markdown rows (README, docs/cli-contract.md).
    pub fn markdown_table() -> String {
        let mut s = String::from("| code | meaning |\n|---|---|\n");
        for c in ExitCode::ALL {
            s.push_str(&format!("| {} | {} |\n", c.code(), c.meaning()));
        }
        s
    }
}

/// The report's `result`: one word of the contract's table ([`RESULTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Healthy,
    Unchecked,
    Pending,
    Fixed,
    Unverified,
    ActionNeeded,
    BackedUp,
    Restored,
    Listed,
    Cancelled,
    Failed,
    Skipped,
}

impl Outcome {
    /// Every result word, in the contract's order.
    pub const ALL: [Outcome; 12] = [
        Outcome::Healthy,
        Outcome::Unchecked,
        Outcome::Pending,
        Outcome::Fixed,
        Outcome::Unverified,
        Outcome::ActionNeeded,
        Outcome::BackedUp,
        Outcome::Restored,
        Outcome::Listed,
        Outcome::Cancelled,
        Outcome::Failed,
        Outcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        self.row().word
    }

    /// Its row of the table.
    pub fn row(self) -> &'static ResultRow {
        &RESULTS[Outcome::ALL.iter().position(|o| *o == self).unwrap_or(0)]
    }
}

/// One row of the contract's table of results: the word, when it is given, its exit code, the monitoring
/// state it is, and what Ansible's module calls it. Every other document (the contract, the README, the
/// module) is held to this table by a test.
#[derive(Debug)]
pub struct ResultRow {
    pub word: &'static str,
    /// When a run ends with it.
    pub meaning: &'static str,
    pub exit: ExitCode,
    /// `--output nagios`: OK, WARNING, CRITICAL or UNKNOWN.
    pub nagios: &'static str,
    /// The Ansible module's `changed` and `failed` for it.
    pub ansible_changed: bool,
    pub ansible_failed: bool,
}

/// The contract's table of results (in [`Outcome::ALL`]'s order).
pub const RESULTS: [ResultRow; 12] = [
    ResultRow {
        word: "healthy",
        meaning: "every connector was checked (a start's log lines, a provider's discovery document, or a value the operator gave) and nothing is wrong",
        exit: ExitCode::Done,
        nagios: "OK",
        ansible_changed: false,
        ansible_failed: false,
    },
    ResultRow {
        word: "unchecked",
        meaning: "nothing found to fix, but some connectors could not be checked; the report says which, why, and what would check them (`--discover`, `--issuer`)",
        exit: ExitCode::Unchecked,
        nagios: "UNKNOWN",
        ansible_changed: false,
        ansible_failed: false,
    },
    ResultRow {
        word: "pending",
        meaning: "a change is due: `inspect`, or a dry run, found something to fix (or only a start is due); `backup --dry-run` and `restore --dry-run` say what they would do",
        exit: ExitCode::Pending,
        nagios: "CRITICAL",
        ansible_changed: false,
        ansible_failed: false,
    },
    ResultRow {
        word: "fixed",
        meaning: "the change was written, verified, and the IdP stayed up",
        exit: ExitCode::Done,
        nagios: "OK",
        ansible_changed: true,
        ansible_failed: false,
    },
    ResultRow {
        word: "unverified",
        meaning: "the change was written and verified, but the IdP did not stay up (exit 4), or was not watched (`--wait 0`, exit 0); `secret`: written and read back, its provider not asked (no `--verify`, exit 0) or its answer not conclusive (exit 4)",
        exit: ExitCode::NotUp,
        nagios: "WARNING",
        ansible_changed: true,
        ansible_failed: true,
    },
    ResultRow {
        word: "action_needed",
        meaning: "a place ozrepair must not or cannot change still holds the wrong value (a generated config, a value it cannot edit exactly); the report names it and what the operator must change",
        exit: ExitCode::ActionNeeded,
        nagios: "CRITICAL",
        ansible_changed: false,
        ansible_failed: true,
    },
    ResultRow {
        word: "backed_up",
        meaning: "`backup`: a verified backup was taken",
        exit: ExitCode::Done,
        nagios: "OK",
        ansible_changed: true,
        ansible_failed: false,
    },
    ResultRow {
        word: "restored",
        meaning: "`restore`: the set was put back and verified (and the IdP stayed up)",
        exit: ExitCode::Done,
        nagios: "OK",
        ansible_changed: true,
        ansible_failed: false,
    },
    ResultRow {
        word: "listed",
        meaning: "`backups`: the sets were listed; nothing was checked or changed",
        exit: ExitCode::Done,
        nagios: "OK",
        ansible_changed: false,
        ansible_failed: false,
    },
    ResultRow {
        word: "cancelled",
        meaning: "the operator declined at the prompt; nothing was changed",
        exit: ExitCode::Failed,
        nagios: "UNKNOWN",
        ansible_changed: false,
        ansible_failed: true,
    },
    ResultRow {
        word: "failed",
        meaning: "the run failed (exit 1), or its command line was refused (exit 2); the error says what state everything was left in and what to do next",
        exit: ExitCode::Failed,
        nagios: "UNKNOWN",
        ansible_changed: false,
        ansible_failed: true,
    },
    ResultRow {
        word: "skipped",
        meaning: "`fleet`: the host was not run, because more hosts than `--max-fail` failed in earlier batches",
        exit: ExitCode::Failed,
        nagios: "UNKNOWN",
        ansible_changed: false,
        ansible_failed: true,
    },
];

/// The table of results as Markdown (docs/cli-contract.md, README).
pub fn results_markdown() -> String {
    let mut s =
        String::from("| result | exit | nagios | Ansible | when |\n|---|---|---|---|---|\n");
    for r in &RESULTS {
        let ansible = match (r.ansible_changed, r.ansible_failed) {
            (false, false) => "ok",
            (true, false) => "changed",
            (false, true) => "failed",
            (true, true) => "changed, failed",
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {ansible} | {} |\n",
            r.word,
            r.exit.code(),
            r.nagios,
            r.meaning
        ));
    }
    s
}

/// An outcome with its exit code and, when it is not good news, what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub exit: ExitCode,
    pub error: Option<String>,
}

impl Verdict {
    pub fn new(outcome: Outcome, exit: ExitCode) -> Verdict {
        Verdict {
            outcome,
            exit,
            error: None,
        }
    }
    pub fn healthy() -> Verdict {
        Verdict::new(Outcome::Healthy, ExitCode::Done)
    }
    pub fn pending() -> Verdict {
        Verdict::new(Outcome::Pending, ExitCode::Pending)
    }
    pub fn fixed() -> Verdict {
        Verdict::new(Outcome::Fixed, ExitCode::Done)
    }
    pub fn unchecked() -> Verdict {
        Verdict::new(Outcome::Unchecked, ExitCode::Unchecked)
    }
    pub fn backed_up() -> Verdict {
        Verdict::new(Outcome::BackedUp, ExitCode::Done)
    }
    pub fn restored() -> Verdict {
        Verdict::new(Outcome::Restored, ExitCode::Done)
    }
    pub fn listed() -> Verdict {
        Verdict::new(Outcome::Listed, ExitCode::Done)
    }
    /// The operator declined at the prompt: nothing was changed (exit 1).
    pub fn cancelled(why: String) -> Verdict {
        Verdict::new(Outcome::Cancelled, ExitCode::Failed).with_error(why)
    }
    /// A failure with its one-line message (exit 1, or 2 for a [`UsageError`]; `cancelled` for a
    /// [`Declined`] prompt).
    pub fn failed(e: &anyhow::Error) -> Verdict {
        if let Some(d) = e.downcast_ref::<Declined>() {
            return Verdict::cancelled(d.0.clone());
        }
        let exit = if e.downcast_ref::<UsageError>().is_some() {
            ExitCode::Usage
        } else {
            ExitCode::Failed
        };
        Verdict {
            outcome: Outcome::Failed,
            exit,
            error: Some(format!("{e:#}")),
        }
    }
    pub fn with_error(mut self, error: String) -> Verdict {
        self.error = Some(error);
        self
    }
}

/// The operator answered no at the prompt (result `cancelled`, exit 1).
#[derive(Debug)]
pub struct Declined(pub String);
impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Declined {}

/// An I/O error in ozrepair's words: what the system said, without Rust's `(os error N)`.
pub fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let said = match e.kind() {
        K::NotFound => "no such file or directory",
        K::PermissionDenied => "permission denied",
        K::ConnectionRefused => "connection refused",
        K::ReadOnlyFilesystem => "read-only file system",
        K::IsADirectory => "it is a directory",
        K::NotADirectory => "a part of the path is not a directory",
        K::StorageFull => "no space left on the device",
        K::TimedOut => "timed out",
        _ => "",
    };
    if !said.is_empty() {
        return said.to_string();
    }
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// A refusal before anything was done, whose message already says what happened, that nothing was
/// changed, and what to do (exit 1): the stop window passes it on as it is, without a second state.
#[derive(Debug)]
pub struct Refused(pub String);
impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Refused {}

/// Raised for flag combinations that cannot work (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);
impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file(name: &str) -> String {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn the_documents_carry_the_exit_code_table() {
        let table = ExitCode::markdown_table();
        for doc in ["README.md", "docs/cli-contract.md"] {
            assert!(
                repo_file(doc).contains(&table),
                "{doc} lacks the exit-code table:\n{table}"
            );
        }
        let codes: Vec<i32> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
        assert!(ExitCode::ALL
            .iter()
            .all(|c| ExitCode::from_code(c.code()) == *c));
        assert_eq!(ExitCode::from_code(137), ExitCode::Failed);
    }

    #[test]
    fn the_worst_exit_code_wins() {
        let worst = |codes: &[i32]| {
            codes
                .iter()
                .map(|c| ExitCode::from_code(*c))
                .max_by_key(|c| c.severity())
                .map(|c| c.code())
                .unwrap_or(0)
        };
        assert_eq!(worst(&[0, 3, 0]), 3);
        assert_eq!(worst(&[3, 4, 0]), 4);
        assert_eq!(worst(&[4, 1, 3]), 1);
        assert_eq!(worst(&[]), 0);
        // Not checked is worse than done, better than anything found; action needed is worse than a
        // start not seen.
        assert_eq!(worst(&[0, 5]), 5);
        assert_eq!(worst(&[5, 3]), 3);
        assert_eq!(worst(&[4, 6, 3]), 6);
        assert_eq!(worst(&[6, 1]), 1);
    }

    #[test]
    fn the_documents_carry_the_table_of_results() {
        let table = results_markdown();
        for doc in ["README.md", "docs/cli-contract.md"] {
            assert!(
                repo_file(doc).contains(&table),
                "{doc} lacks the table of results:\n{table}"
            );
        }
        // One row per word, in the enum's order, each word as serde writes it.
        assert_eq!(RESULTS.len(), Outcome::ALL.len());
        for o in Outcome::ALL {
            let word = serde_json::to_value(o).unwrap();
            assert_eq!(word, o.as_str(), "{o:?}");
        }
        // A script that tests `== 0` for "nothing to do" never gets 0 for a check that was not made.
        assert_ne!(Outcome::Unchecked.row().exit.code(), 0);
        assert_ne!(Outcome::ActionNeeded.row().exit.code(), 0);
        // Nagios is never OK for them.
        for o in [
            Outcome::Unchecked,
            Outcome::ActionNeeded,
            Outcome::Failed,
            Outcome::Cancelled,
        ] {
            assert_ne!(o.row().nagios, "OK", "{o:?}");
        }
    }
}
