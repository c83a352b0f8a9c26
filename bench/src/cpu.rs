//! CPU time used by the server runtime's threads (Linux: `/proc/self/task/*/schedstat`, ns).
//!
//! Throughput on a shared 2-core machine swings with whatever else runs; the server's CPU time
//! per request does much less, so it is reported beside it.

use std::fs;

use crate::server::THREAD_NAME;

/// Total on-CPU nanoseconds of the threads named [`THREAD_NAME`]; 0 where not available.
pub fn server_ns() -> u64 {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == THREAD_NAME)
        })
        .filter_map(|task| fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
