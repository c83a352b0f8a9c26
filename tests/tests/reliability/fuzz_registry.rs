//! Fuzzed registries: a property test over random sets of blocks (plain or always; returning
//! `Ok`, returning `Err`, panicking, or hanging past their own timeout; some cancelled through
//! their handle, some twice) and random endings (completed, aborted, handler dropped, handler
//! panicked), through the plain `Registry` API.
//!
//! For every case: exactly the blocks the spec says run, each once, in registration order, with
//! the right outcome; and every block ends in exactly one counter (finished, failed, panicked,
//! timed out, cancelled or skipped), none lost.
//!
//! 256 cases by default; `AFTER_RESPONSE_SOAK=full` runs 10,000. Every case registers on
//! the test's own executor and compares its counters.

use after_response_tests::soak;

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::Context;
use std::time::Duration;

use after_response::{Config, Executor, OutcomeKind, Registry, Stats};
use bytes::Bytes;
use http_body::{Body as _, Frame};
use http_body_util::{Full, StreamBody};
use proptest::prelude::*;

const PANIC_MESSAGE: &str = "deliberate fuzzed panic";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `defer! { .. }`: runs on Completed only.
    Plain,
    /// `defer!(|outcome| ..)`: runs always.
    Always,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Ok,
    Err,
    Panic,
    /// Never ends: stopped by a timeout of its own.
    Hang,
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    form: Form,
    behaviour: Behaviour,
    /// Cancelled through its handle: 0, 1 or 2 times.
    cancels: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Attached to a full body, polled to its last byte, dropped.
    Completed,
    /// Attached to a streaming body, dropped after its first chunk.
    Aborted,
    /// The registry dropped without being attached (the handler future was dropped).
    Cancelled,
    /// The registry dropped while the thread unwinds (the handler panicked).
    Panicked,
}

impl Ending {
    fn kind(self) -> OutcomeKind {
        match self {
            Self::Completed => OutcomeKind::Completed,
            Self::Aborted => OutcomeKind::Aborted,
            Self::Cancelled => OutcomeKind::Cancelled,
            Self::Panicked => OutcomeKind::Panicked,
        }
    }
}

/// What a block reports when it starts: its index, and the outcome it was given.
type Started = (usize, Option<OutcomeKind>);

async fn behave(behaviour: Behaviour) -> Result<(), String> {
    match behaviour {
        Behaviour::Ok => Ok(()),
        Behaviour::Err => Err("deliberate fuzzed error".to_owned()),
        Behaviour::Panic => panic!("{PANIC_MESSAGE}"),
        Behaviour::Hang => std::future::pending().await,
    }
}

fn register(registry: &Registry, index: usize, spec: Spec, started: &mpsc::Sender<Started>) {
    let started = started.clone();
    let handle = match spec.form {
        Form::Plain => registry.defer(async move {
            started.send((index, None)).unwrap();
            behave(spec.behaviour).await
        }),
        Form::Always => registry.defer_always(move |outcome| async move {
            started.send((index, Some(outcome.kind()))).unwrap();
            behave(spec.behaviour).await
        }),
    };
    if spec.behaviour == Behaviour::Hang {
        handle.set_timeout(Duration::from_millis(1));
    }
    for _ in 0..spec.cancels {
        handle.cancel();
    }
}

/// Ends the registry's request as `ending`; blocks fire on the current runtime.
fn end(registry: Registry, ending: Ending) {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    match ending {
        Ending::Completed => {
            let response = registry.attach(http::Response::new(Full::new(Bytes::from("all"))));
            let mut body = response.into_body();
            let frame = Pin::new(&mut body).poll_frame(&mut cx);
            assert!(frame.is_ready(), "a full body yields at once");
            drop(body);
        }
        Ending::Aborted => {
            let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(Frame::data(
                Bytes::from("part"),
            ))]);
            let endless = futures_util::StreamExt::chain(chunks, futures_util::stream::pending());
            let response = registry.attach(http::Response::new(StreamBody::new(endless)));
            let mut body = response.into_body();
            let frame = Pin::new(&mut body).poll_frame(&mut cx);
            assert!(frame.is_ready(), "the first chunk comes at once");
            drop(body);
        }
        Ending::Cancelled => drop(registry),
        Ending::Panicked => {
            let unwound = std::panic::catch_unwind(AssertUnwindSafe(move || {
                let _registry = registry;
                panic!("{PANIC_MESSAGE}: the handler");
            }));
            assert!(unwound.is_err());
        }
    }
}

/// The counters a case must move, from the spec.
fn expected(specs: &[Spec], ending: Ending) -> (Stats, Vec<usize>) {
    let mut stats = Stats::default();
    let mut runs = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        if spec.cancels > 0 {
            stats.cancelled += 1;
        } else if spec.form == Form::Plain && ending != Ending::Completed {
            stats.skipped += 1;
        } else {
            runs.push(index);
            match spec.behaviour {
                Behaviour::Ok => stats.finished += 1,
                Behaviour::Err => stats.failed += 1,
                Behaviour::Panic => stats.panicked += 1,
                Behaviour::Hang => stats.timed_out += 1,
            }
        }
    }
    (stats, runs)
}

fn check(
    specs: &[Spec],
    ending: Ending,
    executor: &Executor,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), TestCaseError> {
    let (tx, started) = mpsc::channel();
    let before = executor.stats();
    runtime.block_on(async {
        let registry = executor.registry("fuzzed_registry");
        for (index, spec) in specs.iter().enumerate() {
            register(&registry, index, *spec, &tx);
        }
        end(registry, ending);
        // Every fired block has ended once nothing is in flight.
        soak::until_stats(executor, "the blocks to end", |s| {
            s.in_flight == before.in_flight
        })
        .await;
    });
    let delta = soak::delta(&before, &executor.stats());
    let (want, runs) = expected(specs, ending);
    let ran: Vec<Started> = started.try_iter().collect();
    let ran_indices: Vec<usize> = ran.iter().map(|(index, _)| *index).collect();
    prop_assert_eq!(
        &ran_indices,
        &runs,
        "exactly these blocks, once each, in order"
    );
    for (index, kind) in &ran {
        if specs[*index].form == Form::Always {
            prop_assert_eq!(*kind, Some(ending.kind()), "block {}", index);
        }
    }
    prop_assert_eq!(
        (
            delta.finished,
            delta.failed,
            delta.panicked,
            delta.timed_out
        ),
        (want.finished, want.failed, want.panicked, want.timed_out)
    );
    prop_assert_eq!(
        (delta.cancelled, delta.skipped),
        (want.cancelled, want.skipped)
    );
    prop_assert_eq!(
        (delta.in_flight, delta.shed, delta.abandoned, delta.lost),
        (0, 0, 0, 0)
    );
    Ok(())
}

fn spec() -> impl Strategy<Value = Spec> {
    let form = prop_oneof![Just(Form::Plain), Just(Form::Always)];
    let behaviour = prop_oneof![
        6 => Just(Behaviour::Ok),
        2 => Just(Behaviour::Err),
        2 => Just(Behaviour::Panic),
        1 => Just(Behaviour::Hang),
    ];
    let cancels = prop_oneof![8 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)];
    (form, behaviour, cancels).prop_map(|(form, behaviour, cancels)| Spec {
        form,
        behaviour,
        cancels,
    })
}

fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        Just(Ending::Completed),
        Just(Ending::Aborted),
        Just(Ending::Cancelled),
        Just(Ending::Panicked),
    ]
}

#[test]
fn fuzzed_registries_run_each_block_once_and_count_it_once() {
    soak::quiet_deliberate_panics(PANIC_MESSAGE);
    let cases = u32::try_from(soak::scale(256, 10_000)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = Config::default().build();
    let start = executor.stats();
    soak::proptest_runner(cases)
        .run(
            &(proptest::collection::vec(spec(), 0..8), ending()),
            |(specs, ending)| check(&specs, ending, &executor, &runtime),
        )
        .unwrap();
    let total = soak::delta(&start, &executor.stats());
    println!(
        "fuzzed registries: {cases} cases; blocks finished {}, failed {}, panicked {}, timed out \
         {}, cancelled {}, skipped {}; in flight {}, lost {}",
        total.finished,
        total.failed,
        total.panicked,
        total.timed_out,
        total.cancelled,
        total.skipped,
        total.in_flight,
        total.lost
    );
    assert_eq!((total.in_flight, total.lost, total.shed), (0, 0, 0));
}
