//! The state one executor's handles share: its settings, task tracker, admission and books.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Whether an executor with completion handles on, and one with them off, was ever created in
/// this process.
static HANDLES_ON: AtomicBool = AtomicBool::new(false);
static HANDLES_OFF: AtomicBool = AtomicBool::new(false);

/// `true` when a response without a [`crate::Completion`] may still have deferred work that no
/// handle will report: some executor runs blocks without handles and none attaches them. (With
/// both kinds in one process the executors cannot be told apart from the response.)
pub(crate) fn completions_unseen() -> bool {
    HANDLES_OFF.load(Ordering::Relaxed) && !HANDLES_ON.load(Ordering::Relaxed)
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        let kind = if config.completion_handles {
            &HANDLES_ON
        } else {
            &HANDLES_OFF
        };
        kind.store(true, Ordering::Relaxed);
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
