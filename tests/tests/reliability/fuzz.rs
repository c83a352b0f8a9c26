//! Fuzzed bodies: a property test over random frame sequences, size hints, end-of-stream
//! signals, errors, pending polls, statuses, consumers and drop points, through
//! `Registry::attach` with a scripted `http_body::Body`.
//!
//! For every case: the wrapper forwards exactly the inner body's frames (and its `size_hint`
//! and `is_end_stream`), never polls the inner body after it ended (`None`, or data after
//! which it said `is_end_stream`), answers `None` from then on, and fires its blocks exactly
//! once with the outcome the spec gives.
//!
//! 512 cases by default; `AFTER_RESPONSE_SOAK=full` runs 50,000.

use after_response_tests as common;
use after_response_tests::soak;

use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};

use after_response::{Completion, Config, DeferredBody, Executor, Outcome, OutcomeKind};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body::{Body, Frame, SizeHint};
use proptest::prelude::*;

/// One step of the inner body's script.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A data frame of this many bytes (0 included).
    Data(usize),
    /// A trailers frame.
    Trailers,
    /// An error frame.
    Error,
    /// `Poll::Pending` once (the waker is woken at once).
    Pending,
}

/// What the inner body answers to `size_hint`.
#[derive(Clone, Copy, Debug)]
enum Hint {
    /// `SizeHint::default()`.
    Unknown,
    /// The exact length of the data still to come (as `Full` does): honest.
    ExactRemaining,
    /// A fixed exact length, right or wrong.
    Exact(u64),
    /// A fixed range.
    Range(u64, Option<u64>),
}

/// What the inner body answers to `is_end_stream`.
#[derive(Clone, Copy, Debug)]
enum EndSignal {
    /// Always `false`: only `None` tells the end.
    Never,
    /// `true` once every step has been taken.
    AfterLastStep,
    /// `true` once no data frame is left (trailers may still follow).
    AfterLastData,
}

/// How the connection polls the wrapper.
#[derive(Clone, Copy, Debug)]
enum Consumer {
    /// As hyper does: not at all if it is already at its end; stops after `None`, an error,
    /// trailers, `is_end_stream`, or the exact length announced at the start.
    Hyper,
    /// Polls on regardless, past `None` and errors (as some layers do).
    Greedy,
}

#[derive(Clone, Debug)]
struct Case {
    steps: Vec<Step>,
    hint: Hint,
    end: EndSignal,
    status: StatusCode,
    consumer: Consumer,
    /// Polls before the connection drops the body.
    drop_after: usize,
}

/// What the inner body has done, shared with the test.
#[derive(Debug, Default)]
struct Log {
    /// Steps taken.
    next: usize,
    /// Data bytes yielded so far.
    yielded_bytes: u64,
    /// It returned `None`.
    ended: bool,
    /// Polls after it returned `None`: must stay 0.
    polls_after_end: usize,
    /// Polls in all.
    polls: usize,
    /// What its last poll returned.
    last: Option<Seen>,
}

/// A poll result, comparable.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Data(Bytes),
    Trailers(HeaderMap),
    Error,
    Pending,
    End,
}

#[derive(Debug)]
struct ScriptError;

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted body error")
    }
}

impl std::error::Error for ScriptError {}

struct Scripted {
    case: Arc<Case>,
    log: Arc<Mutex<Log>>,
}

fn data_left(case: &Case, next: usize) -> u64 {
    case.steps[next.min(case.steps.len())..]
        .iter()
        .map(|step| match step {
            Step::Data(len) => *len as u64,
            _ => 0,
        })
        .sum()
}

/// The inner body's size hint after `next` steps.
fn hint_of(case: &Case, next: usize) -> SizeHint {
    match case.hint {
        Hint::Unknown => SizeHint::default(),
        Hint::ExactRemaining => SizeHint::with_exact(data_left(case, next)),
        Hint::Exact(len) => SizeHint::with_exact(len),
        Hint::Range(lower, upper) => {
            let mut hint = SizeHint::new();
            hint.set_lower(lower);
            if let Some(upper) = upper {
                hint.set_upper(upper.max(lower));
            }
            hint
        }
    }
}

/// The inner body's `is_end_stream` after `next` steps.
fn end_of(case: &Case, next: usize) -> bool {
    match case.end {
        EndSignal::Never => false,
        EndSignal::AfterLastStep => next >= case.steps.len(),
        EndSignal::AfterLastData => !case.steps[next.min(case.steps.len())..]
            .iter()
            .any(|step| matches!(step, Step::Data(_))),
    }
}

fn pair(hint: &SizeHint) -> (u64, Option<u64>) {
    (hint.lower(), hint.upper())
}

impl Body for Scripted {
    type Data = Bytes;
    type Error = ScriptError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ScriptError>>> {
        let mut log = self.log.lock().unwrap();
        log.polls += 1;
        if log.ended {
            log.polls_after_end += 1;
            return Poll::Ready(None);
        }
        let Some(step) = self.case.steps.get(log.next).copied() else {
            log.ended = true;
            log.last = Some(Seen::End);
            return Poll::Ready(None);
        };
        let index = log.next;
        log.next += 1;
        let (seen, result) = match step {
            Step::Data(len) => {
                // Distinct bytes per frame, so a reordered or repeated frame shows.
                let bytes = Bytes::from(vec![u8::try_from(index % 251).unwrap(); len]);
                log.yielded_bytes += len as u64;
                (
                    Seen::Data(bytes.clone()),
                    Poll::Ready(Some(Ok(Frame::data(bytes)))),
                )
            }
            Step::Trailers => {
                let mut trailers = HeaderMap::new();
                trailers.insert("x-step", index.into());
                (
                    Seen::Trailers(trailers.clone()),
                    Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                )
            }
            Step::Error => (Seen::Error, Poll::Ready(Some(Err(ScriptError)))),
            Step::Pending => {
                cx.waker().wake_by_ref();
                (Seen::Pending, Poll::Pending)
            }
        };
        log.last = Some(seen);
        result
    }

    fn is_end_stream(&self) -> bool {
        let log = self.log.lock().unwrap();
        log.ended || end_of(&self.case, log.next)
    }

    fn size_hint(&self) -> SizeHint {
        hint_of(&self.case, self.log.lock().unwrap().next)
    }
}

#[derive(Debug)]
enum Ran {
    Plain,
    Always(Outcome),
}

/// What the connection learned while polling, by the spec's rules.
// Four independent facts the outcome rule combines; an enum would hide which combine how.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Default)]
struct Model {
    /// The wrapper was polled at least once.
    polled: bool,
    /// An error frame came through.
    errored: bool,
    /// The end was signalled: `None`, a trailers frame, `is_end_stream` after a frame (or from
    /// the start), or the exact length announced at the start reached.
    complete: bool,
    /// Data bytes forwarded.
    bytes: u64,
    /// The length announced at the start was overrun, or the body ended short of it: the
    /// client cannot have the response (HTTP/1 cuts or closes, HTTP/2 clients reject it).
    wrong_length: bool,
}

/// Polls the wrapper as `case.consumer` would until the drop point, checking each poll
/// against the inner body's log.
fn drive(
    case: &Case,
    body: &mut DeferredBody<Scripted>,
    log: &Mutex<Log>,
) -> Result<Model, TestCaseError> {
    let exact_at_start = hint_of(case, 0).exact();
    // A body that says it has ended before its first frame has ended with 0 bytes: short of a
    // length it announced.
    let ended_at_start = end_of(case, 0);
    let mut model = Model {
        complete: ended_at_start,
        wrong_length: ended_at_start && exact_at_start.is_some_and(|len| len > 0),
        ..Model::default()
    };
    let (mut wrapper_ended, mut trailers_seen) = (false, false);
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut polls = 0;
    loop {
        // Forwarded unchanged, before and between polls.
        let (inner_hint, inner_end) = {
            let log = log.lock().unwrap();
            (hint_of(case, log.next), log.ended || end_of(case, log.next))
        };
        prop_assert_eq!(pair(&body.size_hint()), pair(&inner_hint));
        prop_assert_eq!(body.is_end_stream(), inner_end || wrapper_ended);

        if polls == case.drop_after {
            return Ok(model);
        }
        if let Consumer::Hyper = case.consumer {
            let at_length = model.polled && exact_at_start == Some(model.bytes);
            let stop = wrapper_ended || model.errored || trailers_seen;
            if stop || body.is_end_stream() || at_length {
                return Ok(model);
            }
        }
        polls += 1;
        model.polled = true;
        let inner_polls = log.lock().unwrap().polls;
        let seen = match Pin::new(&mut *body).poll_frame(&mut cx) {
            Poll::Pending => Seen::Pending,
            Poll::Ready(None) => Seen::End,
            Poll::Ready(Some(Err(_))) => Seen::Error,
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Seen::Data(data),
                Err(frame) => Seen::Trailers(frame.into_trailers().unwrap()),
            },
        };
        let log = log.lock().unwrap();
        if wrapper_ended {
            // After `None`: `None` again, without touching the inner body.
            prop_assert_eq!(&seen, &Seen::End);
            prop_assert_eq!(log.polls, inner_polls, "inner body polled after None");
            continue;
        }
        // Exactly the inner body's frame, from exactly one inner poll.
        prop_assert_eq!(log.polls, inner_polls + 1);
        prop_assert_eq!(Some(&seen), log.last.as_ref());
        match &seen {
            Seen::Data(data) => {
                model.bytes += data.len() as u64;
                model.wrong_length |= exact_at_start.is_some_and(|len| model.bytes > len);
            }
            Seen::Error => model.errored = true,
            Seen::End => {
                wrapper_ended = true;
                model.complete = true;
            }
            // Trailers are the last frame of an HTTP message: hyper polls no further.
            Seen::Trailers(_) => {
                trailers_seen = true;
                model.complete = true;
            }
            Seen::Pending => {}
        }
        if matches!(seen, Seen::Data(_) | Seen::Trailers(_))
            && (end_of(case, log.next) || exact_at_start == Some(model.bytes))
        {
            model.complete = true;
        }
        // Data after which the inner body says it ended is its end: `None` from then on,
        // without polling it again.
        if matches!(seen, Seen::Data(_)) && end_of(case, log.next) {
            wrapper_ended = true;
        }
        if matches!(seen, Seen::Data(_) | Seen::Trailers(_) | Seen::End) && model.complete {
            model.wrong_length |= exact_at_start.is_some_and(|len| model.bytes < len);
        }
    }
}

/// Drives one case and checks every property; returns the outcome kind.
fn check(
    case: &Case,
    executor: &Executor,
    runtime: &tokio::runtime::Runtime,
) -> Result<OutcomeKind, TestCaseError> {
    let case = Arc::new(case.clone());
    let log = Arc::new(Mutex::new(Log::default()));
    let (tx, ran) = mpsc::channel();
    let registry = executor.registry("fuzzed");
    let plain = tx.clone();
    registry.defer(async move { plain.send(Ran::Plain).unwrap() });
    registry.defer_always(move |outcome| async move { tx.send(Ran::Always(outcome)).unwrap() });
    let mut response = http::Response::new(Scripted {
        case: Arc::clone(&case),
        log: Arc::clone(&log),
    });
    *response.status_mut() = case.status;
    let response = registry.attach(response);
    let completion = Completion::of(&response);
    let mut body = response.into_body();
    // The frames, too, are dropped where a runtime is current, as a server drops them: a body's
    // last bytes can carry its blocks.
    let model = {
        let _entered = runtime.enter();
        drive(&case, &mut body, &log)?
    };
    // Dropped where a runtime is current, as a server drops it.
    runtime.block_on(async {
        drop(body);
        common::within("the blocks", completion.wait()).await;
    });

    let log = log.lock().unwrap();
    prop_assert_eq!(log.polls_after_end, 0, "inner body polled after None");
    prop_assert_eq!(log.yielded_bytes, model.bytes, "every data byte forwarded");
    let bodyless = case.status.is_informational()
        || case.status == StatusCode::NO_CONTENT
        || case.status == StatusCode::NOT_MODIFIED;
    // Unpolled: discarded on purpose (HEAD, HTTP/1.1 204/304), see the README's limits.
    let expected =
        if bodyless || !model.polled || (model.complete && !model.errored && !model.wrong_length) {
            OutcomeKind::Completed
        } else {
            OutcomeKind::Aborted
        };
    let events: Vec<Ran> = ran.try_iter().collect();
    let outcome = match events.as_slice() {
        [Ran::Plain, Ran::Always(outcome)] if expected == OutcomeKind::Completed => *outcome,
        [Ran::Always(outcome)] if expected == OutcomeKind::Aborted => *outcome,
        other => {
            return Err(TestCaseError::fail(format!(
                "expected {expected:?} ({model:?}), blocks ran as {other:?}"
            )))
        }
    };
    prop_assert_eq!(outcome.kind(), expected);
    prop_assert_eq!(outcome.status(), Some(case.status));
    prop_assert_eq!(outcome.body_bytes(), model.bytes);
    Ok(expected)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..=12).prop_map(Step::Data),
        1 => Just(Step::Trailers),
        1 => Just(Step::Error),
        2 => Just(Step::Pending),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let hint = prop_oneof![
        Just(Hint::Unknown),
        Just(Hint::ExactRemaining),
        (0u64..=64).prop_map(Hint::Exact),
        (0u64..=32, proptest::option::of(0u64..=64)).prop_map(|(l, u)| Hint::Range(l, u)),
    ];
    let end = prop_oneof![
        Just(EndSignal::Never),
        Just(EndSignal::AfterLastStep),
        Just(EndSignal::AfterLastData),
    ];
    let status = prop_oneof![
        8 => Just(StatusCode::OK),
        1 => Just(StatusCode::NO_CONTENT),
        1 => Just(StatusCode::NOT_MODIFIED),
        1 => Just(StatusCode::INTERNAL_SERVER_ERROR),
    ];
    let consumer = prop_oneof![Just(Consumer::Hyper), Just(Consumer::Greedy)];
    (
        proptest::collection::vec(step(), 0..10),
        hint,
        end,
        status,
        consumer,
        0usize..16,
    )
        .prop_map(|(steps, hint, end, status, consumer, drop_after)| Case {
            steps,
            hint,
            end,
            status,
            consumer,
            drop_after,
        })
}

#[test]
fn fuzzed_bodies_forward_exactly_and_fire_once() {
    let cases = u32::try_from(soak::scale(512, 50_000)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = Config::default().build();
    let before = executor.stats();
    let tally = Mutex::new([0u64; 2]);
    soak::proptest_runner(cases)
        .run(&case(), |case| {
            let kind = check(&case, &executor, &runtime)?;
            tally.lock().unwrap()[usize::from(kind != OutcomeKind::Completed)] += 1;
            Ok(())
        })
        .unwrap();
    let [completed, aborted] = *tally.lock().unwrap();
    let delta = soak::delta(&before, &executor.stats());
    // Passing cases only (proptest runs each once when nothing fails).
    assert_eq!(completed + aborted, u64::from(cases));
    assert_eq!(
        delta.finished,
        2 * completed + aborted,
        "each block ran once: {delta:?}"
    );
    assert_eq!(delta.skipped, aborted);
    assert_eq!((delta.in_flight, delta.lost), (0, 0));
    assert!(completed > 0 && aborted > 0, "both outcomes explored");
    println!(
        "fuzzed bodies: {cases} cases, {completed} completed, {aborted} aborted; blocks run {}, \
         plain skipped {}, lost {}",
        delta.finished, delta.skipped, delta.lost
    );
}

/// The case the full run (50,000 cases) found, kept for the short run: a body that says it has
/// ended before its first frame, polled anyway by a greedy consumer (hyper never polls it) and
/// answering `Pending`, then dropped. Its end was signalled: Completed, unless it announced a
/// length it now cannot send (Aborted).
#[test]
fn a_body_polled_after_saying_it_had_ended_is_completed_unless_short_of_its_length() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = Config::default().build();
    for (hint, expected) in [
        (Hint::Unknown, OutcomeKind::Completed),
        (Hint::Exact(1), OutcomeKind::Aborted),
    ] {
        let case = Case {
            steps: vec![Step::Pending],
            hint,
            end: EndSignal::AfterLastData,
            status: StatusCode::OK,
            consumer: Consumer::Greedy,
            drop_after: 1,
        };
        let kind = check(&case, &executor, &runtime).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(kind, expected, "{case:?}");
    }
}
