//! How a command ended: its outcome (the report's `result`) and its exit code. The exit-code table in
//! `--help`, the man page, the README and docs/cli-contract.md all come from [`ExitCode::ALL`] (a unit test
//! holds the documents to it).

use serde::Serialize;

/// The process's exit code, the same for every command (contract v1).
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
    /// 4: applied, but the container did not stay up.
    NotUp,
}

impl ExitCode {
    /// Every code, in numeric order.
    pub const ALL: [ExitCode; 5] = [
        ExitCode::Done,
        ExitCode::Failed,
        ExitCode::Usage,
        ExitCode::Pending,
        ExitCode::NotUp,
    ];

    pub fn code(self) -> i32 {
        match self {
            ExitCode::Done => 0,
            ExitCode::Failed => 1,
            ExitCode::Usage => 2,
            ExitCode::Pending => 3,
            ExitCode::NotUp => 4,
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
            ExitCode::Done => "done: nothing to fix, or fixed and verified (also: applied with `--wait 0`, result `unverified`)",
            ExitCode::Failed => "failed; the report and the one-line error say what state everything was left in and what to do next",
            ExitCode::Usage => "usage error (also: a change is due, stdin is not a terminal and `--yes` was not given)",
            ExitCode::Pending => "changes pending: `inspect` found something to fix, or `fix --dry-run` has a plan",
            ExitCode::NotUp => "the change was applied but the container did not stay up within `--wait`",
        }
    }

    /// How bad a host's code is when a fleet reports its worst: done < pending < not up < failed/usage.
    pub fn severity(self) -> u8 {
        match self {
            ExitCode::Done => 0,
            ExitCode::Pending => 1,
            ExitCode::NotUp => 2,
            ExitCode::Failed | ExitCode::Usage => 3,
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

/// The report's `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Healthy,
    Pending,
    Fixed,
    Failed,
    Unverified,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Healthy => "healthy",
            Outcome::Pending => "pending",
            Outcome::Fixed => "fixed",
            Outcome::Failed => "failed",
            Outcome::Unverified => "unverified",
        }
    }
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
    /// A failure with its one-line message (exit 1, or 2 for a [`UsageError`]).
    pub fn failed(e: &anyhow::Error) -> Verdict {
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
        assert_eq!(codes, [0, 1, 2, 3, 4]);
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
    }
}
