//! No Dex store: the standalone setup (a management server with an external IdP), whose repairable state
//! is its config files alone. The one implementation file of [`Store`] for it: its lock is taken beside
//! the first config file to change, its backup is a set of the config files, and it has no rows to read
//! or write.

use super::{Found, Lock, Store, Write, WriteError, Wrote};
use crate::backups::{self, BackupSet, Origin, Sets, Taken};
use crate::dex::{ConnectorRow, Stored};
use anyhow::{anyhow, bail, Result};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::path::{Path, PathBuf};

/// The config files of a deployment without a Dex store, named by the first one to change.
pub struct ConfigOnly {
    first: PathBuf,
}

impl ConfigOnly {
    pub fn beside(first: &Path) -> ConfigOnly {
        ConfigOnly {
            first: first.to_path_buf(),
        }
    }
}

fn no_store() -> anyhow::Error {
    anyhow!("this deployment has no Dex database; nothing was changed")
}

impl Store for ConfigOnly {
    fn kind(&self) -> &'static str {
        "none"
    }

    fn shown(&self) -> String {
        self.first.display().to_string()
    }

    fn source(&self) -> String {
        self.first.display().to_string()
    }

    /// Beside the first config file (ozrepair-backups/).
    fn default_backups(&self) -> Sets {
        Sets::at(
            self.first
                .parent()
                .unwrap_or(Path::new("."))
                .join("ozrepair-backups"),
        )
    }

    fn read(&self) -> Result<Stored> {
        Err(no_store())
    }

    /// No schema and no rows (a set of config files records neither).
    fn read_rows(&self) -> Result<Stored> {
        Ok(Stored {
            schema: crate::dex::Schema {
                migrations: 0,
                has_grant_types: false,
                flavour_only: 0,
            },
            rows: Vec::new(),
            sha256: String::new(),
        })
    }

    fn connectors(&self) -> Result<Vec<ConnectorRow>> {
        Ok(Vec::new())
    }

    fn find_user(&self, _email: &str) -> Result<Found> {
        Err(no_store())
    }

    /// ozrepair's lock file beside the first config file.
    fn lock(&self) -> Result<Lock> {
        Ok(Box::new(crate::safefs::lock::acquire(&self.first)?))
    }

    fn can_write(&self) -> Result<()> {
        Ok(())
    }

    fn refresh(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        async { Ok(()) }.boxed_local()
    }

    /// A set of the config files only (`files` empty, `configs` listed), verified by its hashes.
    fn backup(&self, sets: &Sets, origin: &Origin) -> Result<Taken> {
        backups::take_files(sets, origin)
    }

    /// Nothing to write: only rows that are not there could be asked for.
    fn write<'a>(&'a mut self, w: Write<'a>) -> LocalBoxFuture<'a, Result<Wrote, WriteError>> {
        async move {
            match w {
                Write::Connectors { edits, new_rows }
                    if edits.is_empty() && new_rows.is_empty() =>
                {
                    Ok(Wrote::Rows)
                }
                _ => Err(WriteError::RolledBack(no_store())),
            }
        }
        .boxed_local()
    }

    fn fingerprint(&self) -> Result<Option<String>> {
        Ok(None)
    }

    fn verify_set(&self, set: &BackupSet) -> Result<()> {
        backups::verify(&set.dir).map(|_| ())
    }

    fn prepare_restore(&mut self, _set: &BackupSet) -> Result<Vec<String>> {
        bail!("a set of config files only is not restored by ozrepair; nothing was changed; copy the files back by hand")
    }
}
