//! The state one executor's handles share: its settings, task tracker, admission and books.

use std::ops::Deref;
use std::sync::Arc;

use super::admission::Admission;
use super::ledger::Ledger;
use super::tracker::Tracker;
use crate::config::Config;

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) tracker: Tracker,
    pub(crate) admission: Admission,
    pub(crate) ledger: Ledger,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            admission: Admission::new(config.max_in_flight, config.max_queued),
            config,
            tracker: Tracker::new(),
            ledger: Ledger::new(),
        }
    }
}

/// A handle on one executor's [`Shared`] state. The process default lives in a static and is
/// handed out by reference, so the zero-configuration path never touches a reference count.
#[derive(Clone)]
pub(crate) enum SharedRef {
    ProcessDefault(&'static Shared),
    Built(Arc<Shared>),
}

impl SharedRef {
    pub(crate) fn same(&self, other: &Self) -> bool {
        let (this, that): (&Shared, &Shared) = (self, other);
        std::ptr::eq(this, that)
    }
}

impl Deref for SharedRef {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        match self {
            Self::ProcessDefault(shared) => shared,
            Self::Built(shared) => shared,
        }
    }
}
