//! Everything one response registered, on its way from the registry to the executor.

use std::time::Instant;

use super::shared::SharedRef;
use crate::block::Entries;
use crate::latch::SetOnDrop;

pub(crate) struct Batch {
    pub(crate) entries: Entries,
    pub(crate) handler: &'static str,
    /// When the handler started, if its registry read the clock.
    pub(crate) started: Option<Instant>,
    pub(crate) span: Option<tracing::Span>,
    /// Marks the response's [`crate::Completion`] done when dropped; `None` when nobody can
    /// await it (handles off, or no response was produced).
    pub(crate) signal: Option<SetOnDrop>,
    /// The executor the blocks run on: the one the registry was created under.
    pub(crate) executor: SharedRef,
}
