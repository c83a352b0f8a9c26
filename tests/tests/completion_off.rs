//! Completion handles off: a test that asks for a handle that will never be signalled fails
//! loudly. Its own binary (its own process), so that no executor with handles on exists: this
//! binary builds executors without handles only, and never touches the process default (which
//! the `test-util` feature turns handles on for).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use after_response::{Completion, Config};

#[tokio::test]
async fn completion_of_panics_with_how_to_when_no_executor_has_handles_on() {
    let executor = Config::default().completion_handles(false).build();
    let ran = Arc::new(AtomicUsize::new(0));
    let registry = executor.registry("download");
    let counter = Arc::clone(&ran);
    registry.defer(async move {
        counter.fetch_add(1, SeqCst);
    });
    let response = registry.attach(http::Response::new(String::from("hello")));
    assert!(
        response.extensions().get::<Completion>().is_none(),
        "handles are off: nothing in the extensions"
    );

    let asked = catch_unwind(AssertUnwindSafe(|| Completion::of(&response)));
    let payload = asked.expect_err("a handle that would never be signalled must not be handed out");
    let message = payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a panic message");
    assert!(message.contains("test-util"), "{message}");
    assert!(message.contains("completion_handles(true)"), "{message}");

    // The blocks themselves are untouched by the refusal: they still run once the body drops.
    drop(response);
    assert!(executor
        .shutdown(std::time::Duration::from_secs(30))
        .await
        .is_complete());
    assert_eq!(ran.load(SeqCst), 1);
}
