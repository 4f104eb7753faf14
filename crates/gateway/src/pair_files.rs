//! A pairing store on disk: `paired.json` and `pending.json` in one directory, each a JSON map
//! (atomic writes, 0600). A change is written before it is applied in memory, so a failed write
//! leaves memory equal to disk; an unreadable file is set aside (`<name>.corrupt-<ts>`), never
//! overwritten. Only the gateway process writes these files (the CLI goes through the
//! gateway), so the in-process lock is enough. Devices and nodes each have one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sync::LockExt;

/// The two maps: `paired` by device/node id, `pending` by request id.
#[derive(Clone)]
pub struct Maps<P, Q> {
    pub paired: BTreeMap<String, P>,
    pub pending: BTreeMap<String, Q>,
}

impl<P, Q> Default for Maps<P, Q> {
    fn default() -> Self {
        Self {
            paired: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write the pairing store: {0}")]
    Io(#[from] std::io::Error),
    #[error("pairing store is read-only: {0}")]
    Frozen(String),
}

/// The outcome of an [`PairFiles::update`] closure.
pub enum Change<R> {
    /// Nothing to write.
    Unchanged(R),
    /// Write the changed copy, then return `R`.
    Write(R),
}

pub struct PairFiles<P, Q> {
    dir: PathBuf,
    inner: Mutex<Maps<P, Q>>,
    /// Why writes are refused: a corrupt store file could not be set aside, and writing would
    /// destroy it.
    frozen: Option<String>,
}

/// Reads one store file. Missing or blank ⇒ empty. Unreadable or unparsable ⇒ set aside and
/// empty; `Err` when it could not even be set aside (then it must not be overwritten).
fn load_file<T: DeserializeOwned + Default>(path: &Path, what: &str) -> Result<T, String> {
    match openclaw_config::fsutil::read_json_or_set_aside(path) {
        Ok(read) => {
            if let Some((problem, kept)) = &read.set_aside {
                tracing::error!(target: "gateway", "{} is {problem}; kept it as {} and started an empty one", path.display(), kept.display());
            }
            Ok(read.value)
        }
        Err(e) => {
            tracing::error!(target: "gateway", "{e}; {what} changes are refused until it is fixed");
            Err(e.to_string())
        }
    }
}

impl<P, Q> PairFiles<P, Q>
where
    P: Clone + Serialize + DeserializeOwned,
    Q: Clone + Serialize + DeserializeOwned,
{
    /// Opens the store; never fatal. Unreadable files are set aside and the store starts
    /// empty; one that cannot be set aside leaves the store read-only.
    pub fn open(dir: PathBuf, what: &str) -> Self {
        let paired = load_file(&dir.join("paired.json"), what);
        let pending = load_file(&dir.join("pending.json"), what);
        let frozen = [paired.as_ref().err(), pending.as_ref().err()]
            .into_iter()
            .flatten()
            .next()
            .cloned();
        Self {
            dir,
            inner: Mutex::new(Maps {
                paired: paired.unwrap_or_default(),
                pending: pending.unwrap_or_default(),
            }),
            frozen,
        }
    }

    pub fn read(&self) -> MutexGuard<'_, Maps<P, Q>> {
        self.inner.locked()
    }

    fn persist(&self, data: &Maps<P, Q>) -> Result<(), StoreError> {
        if let Some(why) = &self.frozen {
            return Err(StoreError::Frozen(why.clone()));
        }
        let paired = serde_json::to_vec_pretty(&data.paired).map_err(std::io::Error::other)?;
        openclaw_config::fsutil::write_atomic(&self.dir.join("paired.json"), &paired)?;
        let pending = serde_json::to_vec_pretty(&data.pending).map_err(std::io::Error::other)?;
        openclaw_config::fsutil::write_atomic(&self.dir.join("pending.json"), &pending)?;
        Ok(())
    }

    /// Applies `change` to a copy, writes the copy, and only then makes it the live state.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut Maps<P, Q>) -> Change<R>,
    ) -> Result<R, StoreError> {
        let mut data = self.inner.locked();
        let mut next = data.clone();
        match change(&mut next) {
            Change::Unchanged(r) => Ok(r),
            Change::Write(r) => {
                self.persist(&next)?;
                *data = next;
                Ok(r)
            }
        }
    }
}
