//! Operations: the bound and its shedding, counters, timeouts, drains and their deadlines,
//! spans. Every test has its own executor, so counters and drains see only its own work.

mod abandon;
mod after_deadline;
mod bound;
mod counters;
mod drain;
mod flood;
mod spans;
mod timeout;
