//! A counting global allocator that only counts on threads marked as server threads.
//!
//! The client (load generator) and the server share the process; marking the server runtime's
//! threads (`on_thread_start`) keeps the client's allocations out of the figures. Counting is
//! off until [`start`] so that it costs the throughput runs nothing but one relaxed load.
#![allow(unsafe_code)] // `GlobalAlloc` is an unsafe trait; every method forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

/// The process allocator: `System`, counted.
pub struct Counting;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SERVER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as a server thread (its allocations are counted).
pub fn mark_server_thread() {
    SERVER_THREAD.with(|flag| flag.set(true));
}

/// Allocation events (`alloc`, `alloc_zeroed`, `realloc`) and bytes requested on server threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    pub allocs: u64,
    pub bytes: u64,
}

/// Starts counting.
pub fn start() {
    ENABLED.store(true, Relaxed);
}

/// Stops counting.
pub fn stop() {
    ENABLED.store(false, Relaxed);
}

/// The counters now.
pub fn snapshot() -> Snapshot {
    Snapshot {
        allocs: ALLOCS.load(Relaxed),
        bytes: BYTES.load(Relaxed),
    }
}

fn record(size: usize) {
    if ENABLED.load(Relaxed) && SERVER_THREAD.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(size as u64, Relaxed);
        if TRACING.load(Relaxed) {
            trace(size);
        }
    }
}

static TRACING: AtomicBool = AtomicBool::new(false);
static TRACES: Mutex<Vec<(usize, Backtrace)>> = Mutex::new(Vec::new());

thread_local! {
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

/// Starts (or stops) capturing a backtrace of every counted allocation (diagnosis only).
pub fn set_tracing(on: bool) {
    TRACING.store(on, Relaxed);
}

/// The captured allocations so far: size and backtrace.
pub fn take_traces() -> Vec<(usize, Backtrace)> {
    std::mem::take(&mut *TRACES.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Captures a backtrace; the allocations that does itself are counted but not traced.
fn trace(size: usize) {
    if IN_TRACE.try_with(|flag| flag.replace(true)).unwrap_or(true) {
        return;
    }
    let backtrace = Backtrace::force_capture();
    TRACES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((size, backtrace));
    IN_TRACE.with(|flag| flag.set(false));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
