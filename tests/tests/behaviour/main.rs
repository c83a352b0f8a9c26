//! What a response's blocks see and do: outcomes, order, isolation, protocol cases, trailers,
//! tower and tower-http layers, executors of their own, blocking work. Every test serves its
//! own router on its own executor (`after_response_tests::Server`).

mod blocking;
mod executors;
mod isolation;
mod layers;
mod ordering;
mod outcomes;
mod protocol;
mod runners;
mod small_blocks;
mod trailers;
