//! One registered deferred block and how it is started.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use smallbox::space::S2;
use smallbox::SmallBox;

use crate::output::sealed::IntoBlockResult;
use crate::output::DeferredOutput;
use crate::{Outcome, OutcomeKind};

/// A block's future: its user code runs when it is polled. Stored inline when it fits in two
/// words, 16 bytes (in practice a block that awaits nothing and captures at most one word: a
/// counter, a log line with an id or an `Arc`; a value moved into a `let` and held across an
/// `.await` counts twice, and any real I/O future is larger), else on the heap (one
/// allocation); either way it is pinned only where it is polled, in its task. Two words and not
/// more: every structure a response's blocks move through carries the room, and four cost ~235
/// instructions per response more (bench/RESULTS.md, "Where one `defer!` goes").
pub(crate) type BlockFuture = SmallBox<dyn Future<Output = Result<(), String>> + Send, S2>;

pin_project_lite::pin_project! {
    /// A user's block as a future of the result the run loop reads: a plain wrapper rather than
    /// an `async` block, which would add a state of its own, and so a word, to what is stored.
    struct ResultOf<F> {
        #[pin]
        future: F,
    }
}

impl<F> Future for ResultOf<F>
where
    F: Future,
    F::Output: DeferredOutput,
{
    type Output = Result<(), String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .future
            .poll(cx)
            .map(IntoBlockResult::into_block_result)
    }
}

/// `future` as a [`BlockFuture`].
#[allow(
    unsafe_code,
    reason = "`smallbox!` unsizes with an unsafe block of its crate's"
)]
fn block_future<F>(future: F) -> BlockFuture
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    smallbox::smallbox!(future)
}

type AlwaysFn = Box<dyn FnOnce(Outcome) -> BlockFuture + Send>;

/// When a block runs.
pub(crate) enum Block {
    /// `defer! { .. }`: only when the response completed.
    OnCompleted(BlockFuture),
    /// `defer!(|outcome| ..)`: always, told the outcome.
    Always(AlwaysFn),
    /// Cancelled through its handle before it ran.
    Cancelled,
}

/// A block with its options.
pub(crate) struct Entry {
    pub(crate) block: Block,
    pub(crate) timeout: Option<Duration>,
}

impl Entry {
    pub(crate) fn on_completed<F>(future: F) -> Self
    where
        F: Future + Send + 'static,
        F::Output: DeferredOutput,
    {
        let block = Block::OnCompleted(block_future(ResultOf { future }));
        Self {
            block,
            timeout: None,
        }
    }

    /// `defer_blocking`: on completion, `f` runs on tokio's blocking pool while the block's
    /// future (in its response's slot, in order) waits for it.
    pub(crate) fn blocking<F, R>(f: F) -> Self
    where
        F: FnOnce() -> R + Send + 'static,
        R: DeferredOutput,
    {
        let block = Block::OnCompleted(block_future(async move {
            match tokio::task::spawn_blocking(f).await {
                Ok(output) => output.into_block_result(),
                // Re-raised here, so the run loop logs and counts it like any block's panic.
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(error) => Err(format!(
                    "the blocking closure did not run to its end: {error}"
                )),
            }
        }));
        Self {
            block,
            timeout: None,
        }
    }

    pub(crate) fn always<F, Fut>(make: F) -> Self
    where
        F: FnOnce(Outcome) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: DeferredOutput,
    {
        let make: AlwaysFn = Box::new(move |outcome| {
            let future = make(outcome);
            block_future(ResultOf { future })
        });
        Self {
            block: Block::Always(make),
            timeout: None,
        }
    }

    /// Whether this block runs for a response that ended as `kind`.
    pub(crate) fn runs_on(&self, kind: OutcomeKind) -> bool {
        match self.block {
            Block::OnCompleted(_) => kind == OutcomeKind::Completed,
            Block::Always(_) => true,
            Block::Cancelled => false,
        }
    }

    /// `true` for the always-form: the only form that sees its [`Outcome`].
    pub(crate) fn sees_outcome(&self) -> bool {
        matches!(self.block, Block::Always(_))
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(self.block, Block::Cancelled)
    }

    /// The block's future for `outcome`, or `None` when it does not run.
    ///
    /// Calls the user's closure for the always-form, so it is only called from the blocks'
    /// task, and isolated: a panic in it is returned, not unwound.
    pub(crate) fn start(self, outcome: Outcome) -> Option<std::thread::Result<BlockFuture>> {
        match self.block {
            Block::OnCompleted(future) if outcome.is_completed() => Some(Ok(future)),
            Block::Always(make) => {
                Some(std::panic::catch_unwind(AssertUnwindSafe(|| make(outcome))))
            }
            Block::OnCompleted(_) | Block::Cancelled => None,
        }
    }
}

/// A response's entries in registration order, as the registry collects them; the first is
/// stored inline, since most handlers register one block and a collection would cost an
/// allocation per request.
#[derive(Default)]
pub(crate) enum Entries {
    #[default]
    Empty,
    One(Entry),
    Many(Vec<Entry>),
}

impl Entries {
    /// Appends `entry`; returns its index.
    pub(crate) fn push(&mut self, entry: Entry) -> usize {
        match self {
            Self::Empty => {
                *self = Self::One(entry);
                0
            }
            Self::One(_) => {
                let Self::One(first) = std::mem::take(self) else {
                    unreachable!("matched One above")
                };
                // Room for four: a handler that registers a second block often registers more,
                // and growing 2 → 4 would cost another allocation.
                let mut entries = Vec::with_capacity(4);
                entries.push(first);
                entries.push(entry);
                *self = Self::Many(entries);
                1
            }
            Self::Many(entries) => {
                entries.push(entry);
                entries.len() - 1
            }
        }
    }

    /// How the entries of a response that ended as `kind` divide, in one pass.
    pub(crate) fn tally(&self, kind: OutcomeKind) -> Tally {
        let mut tally = Tally::default();
        for entry in self.as_slice() {
            if entry.runs_on(kind) {
                tally.runnable += 1;
                tally.outcome_seen |= entry.sees_outcome();
            } else if !entry.is_cancelled() {
                tally.skipped += 1;
            }
        }
        tally
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> &mut Entry {
        match self {
            Self::Empty => panic!("no entry {index}"),
            Self::One(entry) => {
                assert_eq!(index, 0, "no entry {index}");
                entry
            }
            Self::Many(entries) => &mut entries[index],
        }
    }

    fn as_slice(&self) -> &[Entry] {
        match self {
            Self::Empty => &[],
            Self::One(entry) => std::slice::from_ref(entry),
            Self::Many(entries) => entries,
        }
    }
}

/// A fired response's entries, taken from the front as its blocks run (the run loop holds no
/// index or iterator beside them).
#[derive(Default)]
pub(crate) enum Queue {
    #[default]
    Done,
    One(Entry),
    Many(std::vec::IntoIter<Entry>),
}

impl From<Entries> for Queue {
    fn from(entries: Entries) -> Self {
        match entries {
            Entries::Empty => Self::Done,
            Entries::One(entry) => Self::One(entry),
            Entries::Many(entries) => Self::Many(entries.into_iter()),
        }
    }
}

impl Queue {
    /// Takes the first entry out (the next to run).
    pub(crate) fn pop_front(&mut self) -> Option<Entry> {
        match self {
            Self::Many(entries) => entries.next(),
            Self::One(_) => {
                let Self::One(entry) = std::mem::take(self) else {
                    unreachable!("matched One above")
                };
                Some(entry)
            }
            Self::Done => None,
        }
    }
}

/// See [`Entries::tally`].
#[derive(Default)]
pub(crate) struct Tally {
    /// Entries that run: always-blocks, and plain blocks of a completed response.
    pub(crate) runnable: u64,
    /// Plain blocks of a response that did not complete.
    pub(crate) skipped: u64,
    /// Whether a runnable entry is told the outcome (an always-block).
    pub(crate) outcome_seen: bool,
}

#[cfg(test)]
mod tests {
    use super::{Block, Entry};

    fn stored_inline(entry: &Entry) -> bool {
        match &entry.block {
            Block::OnCompleted(future) => !future.is_heap(),
            Block::Always(_) | Block::Cancelled => unreachable!("only plain blocks here"),
        }
    }

    #[test]
    fn a_block_of_at_most_16_bytes_is_stored_inline_and_a_larger_one_boxed() {
        assert!(stored_inline(&Entry::on_completed(async {})));

        let word = std::sync::Arc::new(1_u64);
        let one_word = async move { drop(word) };
        assert!(std::mem::size_of_val(&one_word) <= 16);
        assert!(stored_inline(&Entry::on_completed(one_word)));

        let bytes = vec![1_u8; 32];
        let more = std::sync::Arc::new(2_u64);
        let larger = async move { drop((bytes, more)) };
        assert!(std::mem::size_of_val(&larger) > 16);
        assert!(!stored_inline(&Entry::on_completed(larger)));
    }
}
