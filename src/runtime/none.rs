//! No runtime: `--db`, a store file worked on directly. Nothing is stopped, started or watched, and there
//! are no logs; the one implementation file of [`Runtime`] for it.

use super::{InsideSet, Located, Runtime, Started, State, StorePlace, Unit};
use crate::logs::LogFindings;
use anyhow::{anyhow, Result};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::path::Path;

/// Nothing runs the IdP as far as ozrepair knows.
pub struct NoRuntime;

/// The deployment `--db` names: the file itself.
pub fn located(db: &Path) -> Located {
    Located {
        runtime: Box::new(NoRuntime),
        volume: None,
        place: StorePlace::File(db.to_path_buf()),
        why: vec!["--db: the file itself, without Docker (nothing is stopped or started)".into()],
        logs: None,
        configs: Vec::new(),
    }
}

impl Runtime for NoRuntime {
    fn kind(&self) -> &'static str {
        "none"
    }

    fn host(&self) -> Option<&str> {
        None
    }

    fn unit(&self) -> Option<&Unit> {
        None
    }

    fn start_command(&self) -> Option<String> {
        None
    }

    fn logs_command(&self) -> Option<String> {
        None
    }

    fn stop(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        async {
            crate::fault::point(crate::fault::Point::AfterStop);
            Ok(())
        }
        .boxed_local()
    }

    fn stopped_here(&self) -> bool {
        false
    }

    fn stop_refused(&self) -> bool {
        false
    }

    fn check_held(&self) -> LocalBoxFuture<'_, Result<()>> {
        async { Ok(()) }.boxed_local()
    }

    fn start_if_stopped_here(&self) -> LocalBoxFuture<'_, Result<()>> {
        async { Ok(()) }.boxed_local()
    }

    fn start_and_watch(
        &self,
        _wait: u64,
        _backup: Option<String>,
    ) -> LocalBoxFuture<'_, Result<Started>> {
        async {
            Err(anyhow!(
                "there is nothing to start: --db works on the file alone"
            ))
        }
        .boxed_local()
    }

    fn state_now(&self) -> LocalBoxFuture<'_, Option<State>> {
        async { None }.boxed_local()
    }

    fn last_run(&self) -> LocalBoxFuture<'_, Result<Option<LogFindings>>> {
        async { Ok(None) }.boxed_local()
    }

    fn fetch<'a>(
        &'a self,
        inside: &'a str,
        _companions: &'a [&'a str],
    ) -> LocalBoxFuture<'a, Result<Box<dyn InsideSet>>> {
        async move {
            Err(anyhow!(
                "{inside} is inside a container, and --db has none to copy it out of"
            ))
        }
        .boxed_local()
    }
}
