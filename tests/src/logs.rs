//! Per-test log capture. A [`Capture`] is the tracing default of the threads it is entered on
//! and of every thread of the runtimes it builds (workers and blocking pool), so a test sees
//! the events of its own server and blocks and no other test's, although they share a process.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use tracing::dispatcher::{self, DefaultGuard, Dispatch};

/// The text of one test's events, or (for floods) only counts of some of them.
#[derive(Clone)]
pub struct Capture {
    dispatch: Dispatch,
    text: Buffer,
    counted: Arc<Vec<(&'static str, AtomicU64)>>,
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

/// The writer each event is formatted into: kept, or, when the capture counts, only counted
/// (a flood of 100 000 warnings, or hyper's trace events, must not grow the test's memory).
struct EventWriter {
    line: Vec<u8>,
    text: Buffer,
    counted: Arc<Vec<(&'static str, AtomicU64)>>,
}

impl Write for EventWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if self.counted.is_empty() {
            self.text.0.lock().unwrap().extend_from_slice(&self.line);
            return;
        }
        let line = String::from_utf8_lossy(&self.line);
        for (needle, count) in self.counted.iter() {
            if line.contains(needle) {
                count.fetch_add(1, Relaxed);
            }
        }
    }
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

impl Capture {
    /// Keeps the text of every event.
    pub fn new() -> Self {
        Self::counting(&[])
    }

    /// Keeps no text: only counts the events containing each of `needles` (see
    /// [`Capture::count`]).
    pub fn counting(needles: &[&'static str]) -> Self {
        let text = Buffer::default();
        let counted: Arc<Vec<_>> =
            Arc::new(needles.iter().map(|n| (*n, AtomicU64::new(0))).collect());
        let (writer_text, writer_counted) = (text.clone(), Arc::clone(&counted));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || EventWriter {
                line: Vec::new(),
                text: writer_text.clone(),
                counted: Arc::clone(&writer_counted),
            })
            .with_ansi(false)
            .with_max_level(if needles.is_empty() {
                tracing::Level::TRACE
            } else {
                tracing::Level::WARN
            })
            .finish();
        Self {
            dispatch: Dispatch::new(subscriber),
            text,
            counted,
        }
    }

    /// Makes this the calling thread's default until the guard drops.
    pub fn enter(&self) -> DefaultGuard {
        dispatcher::set_default(&self.dispatch)
    }

    /// A multi-thread runtime (`workers` workers) whose every thread logs here.
    pub fn runtime(&self, workers: usize) -> tokio::runtime::Runtime {
        let dispatch = self.dispatch.clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .on_thread_start(move || {
                // The thread's default for its whole life.
                std::mem::forget(dispatcher::set_default(&dispatch));
            })
            .build()
            .unwrap()
    }

    /// Runs `future` on a fresh two-worker [`Capture::runtime`], this capture entered on the
    /// calling thread too (where `block_on` polls `future` itself).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        let _entered = self.enter();
        self.runtime(2).block_on(future)
    }

    /// Every kept line containing `needle` (none when the capture only counts).
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.text.0.lock().unwrap()).into_owned();
        text.lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// How many events so far contained `needle`, one of those given to [`Capture::counting`].
    pub fn count(&self, needle: &str) -> u64 {
        self.counted.iter().find(|(n, _)| *n == needle).map_or_else(
            || panic!("{needle:?} is not counted"),
            |(_, c)| c.load(Relaxed),
        )
    }
}
