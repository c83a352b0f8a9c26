//! A block whose future fits in 16 bytes is stored inline, in the structures that carry it to its
//! task, instead of in a box of its own (which blocks are: `runtime/src/block.rs`'s unit test).
//! Such a block must behave as a boxed one does when it waits, when its timeout cancels it (it is
//! then dropped where it lies, in its task) and when what it captured panics as it is dropped.
//! Each test asserts the size of the block it registers, so that it keeps testing the inline path.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::task::{Context, Poll};
use std::time::Duration;

use after_response::{Completion, Config, Registry};
use after_response_tests::{logs, ops, within};

fn assert_small<F>(block: &F) {
    assert!(
        std::mem::size_of_val(block) <= 16,
        "the block must fit inline to test the inline path: {} bytes",
        std::mem::size_of_val(block)
    );
}

/// Pending once, then ready: a one-byte stand-in for any await (tokio's `yield_now` future is
/// larger than the inline room).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_block_that_waits_runs_once_to_its_end() {
    static RAN: AtomicU64 = AtomicU64::new(0);
    let executor = Config::default().completion_handles(true).build();
    let registry = executor.registry("small_waits");
    let block = async {
        // Pending twice: the task polls the inline future three times, where it lies.
        YieldOnce(false).await;
        YieldOnce(false).await;
        RAN.fetch_add(1, SeqCst);
    };
    assert_small(&block);
    registry.defer(block);
    let response = registry.attach(http::Response::new(String::from("ok")));
    let completion = Completion::of(&response);
    drop(response);

    within("the block", completion).await;
    assert_eq!(RAN.load(SeqCst), 1);
    assert_eq!(executor.stats().finished, 1);
}

/// Sets its flag when dropped: what a cancelled block captured.
struct DroppedFlag(&'static AtomicBool);

impl Drop for DroppedFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// Panics when dropped: a captured value whose `Drop` is faulty.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a captured value's drop panicked");
    }
}

/// Registers a last block that counts in `next_ran`, then sends the response (drops it) and
/// waits for its blocks to end.
async fn fire_then_next(registry: Registry, next_ran: &'static AtomicU64) {
    registry.defer(async {
        next_ran.fetch_add(1, SeqCst);
    });
    let response = registry.attach(http::Response::new(String::from("ok")));
    let completion = Completion::of(&response);
    drop(response);
    within("the blocks", completion).await;
}

/// Exactly one panic was logged, and it is `PanicsOnDrop`'s.
fn assert_one_drop_panic_logged(logs: &logs::Capture) {
    let panics = logs.lines_with("deferred block panicked");
    assert_eq!(panics.len(), 1, "{panics:?}");
    assert!(
        panics[0].contains("a captured value's drop panicked"),
        "{panics:?}"
    );
}

#[test]
fn a_small_block_cancelled_by_its_timeout_is_dropped_and_a_panic_in_that_drop_is_isolated() {
    static DROPPED: AtomicBool = AtomicBool::new(false);
    static NEXT_RAN: AtomicU64 = AtomicU64::new(0);
    let logs = logs::Capture::new();
    logs.block_on(async {
        let executor = Config::default().completion_handles(true).build();
        let before = executor.stats();
        let registry = executor.registry("small_timeouts");

        let flag = DroppedFlag(&DROPPED);
        // Held across the await as what the block captured (a `let` would hold it twice).
        let hangs = async move {
            std::future::pending::<()>().await;
            drop(flag);
        };
        assert_small(&hangs);
        registry.defer(hangs).set_timeout(Duration::from_millis(1));

        let faulty = PanicsOnDrop;
        let panics_when_dropped = async move {
            std::future::pending::<()>().await;
            drop(faulty);
        };
        assert_small(&panics_when_dropped);
        registry
            .defer(panics_when_dropped)
            .set_timeout(Duration::from_millis(1));

        fire_then_next(registry, &NEXT_RAN).await;
        assert!(
            DROPPED.load(SeqCst),
            "the cancelled block's captures were dropped"
        );
        assert_eq!(NEXT_RAN.load(SeqCst), 1, "the block after them ran");
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("finished", 1), ("timed_out", 2)]
        );
    });
    assert_one_drop_panic_logged(&logs);
}

/// Ready at its first poll, still holding what it captured: that is dropped after the block
/// ended, as the task drops the finished future in place.
struct ReadyHolding<T>(T);

impl<T> Future for ReadyHolding<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

#[test]
fn a_finished_small_block_whose_captures_panic_when_dropped_counts_as_finished_and_is_logged() {
    static NEXT_RAN: AtomicU64 = AtomicU64::new(0);
    let logs = logs::Capture::new();
    logs.block_on(async {
        let executor = Config::default().completion_handles(true).build();
        let before = executor.stats();
        let registry = executor.registry("small_drop_panics");
        let block = ReadyHolding(PanicsOnDrop);
        assert_small(&block);
        registry.defer(block);
        fire_then_next(registry, &NEXT_RAN).await;
        assert_eq!(NEXT_RAN.load(SeqCst), 1, "the block after it ran");
        assert_eq!(
            ops::changes(&before, &executor.stats()),
            [("finished", 2)],
            "it ended before its captures were dropped"
        );
    });
    assert_one_drop_panic_logged(&logs);
}
