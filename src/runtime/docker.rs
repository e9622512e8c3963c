//! The runtime of a container on an engine that speaks the Docker Engine API (Docker's, or Podman's
//! service): the one implementation file of [`Runtime`] for it. Its parts:
//!
//! - [`endpoint`]: which engine (`-H`, `$DOCKER_HOST`, contexts, ssh tunnels, TLS);
//! - [`engine`]: the few calls ozrepair makes, with container states that never fail to parse;
//! - [`locate`]: which container runs the IdP and which of its mounts holds the Dex store;
//! - [`lifecycle`]: stop and prove it holds, start and watch;
//! - [`archive`]: a store in a container's volume this machine cannot open, copied out and back through
//!   the archive API.

pub mod archive;
pub mod dbserver;
pub mod endpoint;
pub mod engine;
pub mod lifecycle;
pub mod locate;

use super::{InsideSet, Located, Probe, Runtime, Started, State, Unit};
use crate::logs::{self, LogFindings, LATE_START_NS};
use crate::settings::Access;
use anyhow::Result;
use engine::{Container, Engine, LogRange};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::path::Path;
use std::rc::Rc;

/// A deployment on an engine: the container that runs the IdP (None for a volume no container mounts:
/// nothing to stop or start), and what this run did to it.
pub struct Docker {
    engine: Rc<Engine>,
    container: Option<Container>,
    unit: Option<Unit>,
    kind: &'static str,
    stopping: lifecycle::Stopping,
    /// The run the container was proven stopped in.
    held: Option<Container>,
}

/// Finds the deployment on the engine `host` names (see [`locate::find`]).
pub async fn locate(
    host: Option<&str>,
    container: Option<&str>,
    volume: Option<&str>,
    access: Access,
    probe: Probe<'_>,
) -> Result<Located> {
    // No engine to ask: [`crate::runtime::locate`] may look at systemd's units next.
    let nothing = |e: anyhow::Error| anyhow::Error::new(super::NothingHere(format!("{e:#}")));
    let engine = Engine::connect(host).map_err(nothing)?;
    engine
        .ping()
        .await
        .map_err(|e| nothing(engine::before_anything(e)))?;
    let want = locate::Wanted {
        container,
        volume,
        access,
    };
    let accepted = engine.ssh_accepted().map(endpoint::accepted_line);
    let mut found = locate::find(&engine, &want, probe).await?;
    found.why.splice(0..0, accepted);
    let kind = match engine.kind().await.flavour {
        engine::Flavour::Docker => "docker",
        engine::Flavour::Podman => "podman",
    };
    let configs = found
        .container
        .as_ref()
        .map(locate::config_places)
        .unwrap_or_default();
    let unit = found.container.as_ref().map(|c| Unit {
        name: c.name.clone(),
        id: c.id.clone(),
        state: c.status.clone(),
        exit_code: c.exit_code,
        restarts: c.restart_count,
    });
    Ok(Located {
        runtime: Box::new(Docker {
            engine: Rc::new(engine),
            container: found.container,
            unit,
            kind,
            stopping: lifecycle::Stopping::default(),
            held: None,
        }),
        volume: found.volume,
        place: found.place,
        why: found.why,
        logs: found.logs,
        configs,
    })
}

impl Runtime for Docker {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn host(&self) -> Option<&str> {
        Some(&self.engine.endpoint)
    }

    fn unit(&self) -> Option<&Unit> {
        self.unit.as_ref()
    }

    fn start_command(&self) -> Option<String> {
        self.container
            .as_ref()
            .map(|c| format!("docker start {}", c.name))
    }

    fn logs_command(&self) -> Option<String> {
        self.container
            .as_ref()
            .map(|c| format!("docker logs {}", c.name))
    }

    fn stop(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            if let Some(c) = &self.container {
                self.held = lifecycle::stop(&self.engine, c, &mut self.stopping).await?;
            } else {
                crate::fault::point(crate::fault::Point::AfterStop);
            }
            Ok(())
        }
        .boxed_local()
    }

    fn stopped_here(&self) -> bool {
        self.stopping.stopped_here
    }

    fn stop_refused(&self) -> bool {
        self.stopping.refused
    }

    fn check_held(&self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            match &self.container {
                Some(c) => lifecycle::check_held(&self.engine, c, self.held.as_ref()).await,
                None => Ok(()),
            }
        }
        .boxed_local()
    }

    fn start_if_stopped_here(&self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            if let (Some(c), true) = (&self.container, self.stopping.stopped_here) {
                crate::progress::say(format!("starting {}", c.name));
                self.engine.start(&c.id).await?;
            }
            Ok(())
        }
        .boxed_local()
    }

    fn start_and_watch(
        &self,
        wait: u64,
        backup: Option<String>,
    ) -> LocalBoxFuture<'_, Result<Started>> {
        async move {
            match &self.container {
                Some(c) => {
                    lifecycle::start_and_watch(&self.engine, c, wait, backup.as_deref()).await
                }
                None => Err(anyhow::anyhow!("there is no container to start")),
            }
        }
        .boxed_local()
    }

    fn state_now(&self) -> LocalBoxFuture<'_, Option<State>> {
        async move {
            let c = self.container.as_ref()?;
            lifecycle::state_of(&self.engine, c).await
        }
        .boxed_local()
    }

    /// The container's lines since its last start: in a restart loop from the earlier run seen on. A run
    /// that said nothing after its recorded start may have stamped its lines before it (an engine under
    /// load records the start late): then a little earlier is looked at too (for a running one, not
    /// before the run before it ended).
    fn last_run(&self) -> LocalBoxFuture<'_, Result<Option<LogFindings>>> {
        async move {
            let Some(c) = &self.container else {
                return Ok(None);
            };
            let e = &self.engine;
            let window = c.diagnosed_run();
            let found = logs::scan_window(&e.run_logs(c).await?, &window);
            let ended = c.status == State::Restarting || c.status.stays_down();
            // A running container whose lines were all stamped before its recorded start (seen on
            // Podman after a start by ozrepair, the machine loaded): looked at earlier too, never at
            // the run before's lines.
            let before = (c.status == State::Running)
                .then(|| c.run_before_ended())
                .flatten();
            if found.is_silent() && (ended || before.is_some()) && window.since.is_some() {
                let mut wider = window.widened(LATE_START_NS);
                if let Some(end) = before {
                    wider.since = wider
                        .since
                        .map(|s| s.max(end.saturating_add(engine::AFTER_END_NS)));
                }
                let lines = e.logs(&c.id, LogRange::Window(wider, logs::TAIL)).await?;
                Ok(Some(logs::scan_window(&lines, &wider)))
            } else {
                Ok(Some(found))
            }
        }
        .boxed_local()
    }

    fn fetch<'a>(
        &'a self,
        inside: &'a str,
        companions: &'a [&'a str],
    ) -> LocalBoxFuture<'a, Result<Box<dyn InsideSet>>> {
        async move {
            let c = self.container.as_ref().ok_or_else(|| {
                anyhow::anyhow!("a database inside a container needs the engine and the container")
            })?;
            let host_dir = locate::host_path(&c.mounts, inside)
                .and_then(|(p, _)| p.parent().map(Path::to_path_buf));
            let set =
                archive::InContainer::fetch(&self.engine, c, inside, host_dir, companions).await?;
            Ok(Box::new(set) as Box<dyn InsideSet>)
        }
        .boxed_local()
    }
}
