//! A one-way latch: set once, when its [`SetOnDrop`] guard is dropped; any number of clones
//! can ask whether it is set or wait for it.

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The waiting side. Built on a `CancellationToken` because that is exactly a settable,
/// awaitable, cloneable flag; "cancelled" here only ever means "set".
#[derive(Clone, Debug)]
pub(crate) struct Latch(CancellationToken);

/// Sets its [`Latch`] when dropped, so a task dropped at runtime shutdown still releases the
/// latch's waiters. The token itself rather than its `DropGuard` (an `Option` inside), so that
/// `Option<SetOnDrop>` stays one word in every structure a response's blocks move through.
pub(crate) struct SetOnDrop(CancellationToken);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Latch {
    pub(crate) fn new() -> (Self, SetOnDrop) {
        let token = CancellationToken::new();
        let guard = SetOnDrop(token.clone());
        (Self(token), guard)
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once the latch is set.
    pub(crate) fn wait_set(self) -> WaitForCancellationFutureOwned {
        self.0.cancelled_owned()
    }
}
