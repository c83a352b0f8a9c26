//! What handlers under test report: which blocks ran, with which outcome.

use std::sync::Arc;

use after_response::Outcome;
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::within;

#[derive(Debug)]
pub enum Event {
    /// A plain `defer! {}` block ran.
    Plain,
    /// A `defer!(|outcome| ..)` block ran.
    Always(Outcome),
    /// A labelled step, for ordering tests.
    Step(&'static str),
}

/// Handler state: an event channel, a notification that the handler started, and a gate that
/// blocks can wait on until the test releases them.
#[derive(Clone)]
pub struct Probe {
    pub events: mpsc::UnboundedSender<Event>,
    pub entered: Arc<Notify>,
    pub gate: Arc<Semaphore>,
}

pub struct Observer {
    pub events: mpsc::UnboundedReceiver<Event>,
    pub entered: Arc<Notify>,
    pub gate: Arc<Semaphore>,
}

impl Probe {
    pub fn new() -> (Self, Observer) {
        let (events, receiver) = mpsc::unbounded_channel();
        let entered = Arc::new(Notify::new());
        let gate = Arc::new(Semaphore::new(0));
        let observer = Observer {
            events: receiver,
            entered: Arc::clone(&entered),
            gate: Arc::clone(&gate),
        };
        (
            Self {
                events,
                entered,
                gate,
            },
            observer,
        )
    }

    pub fn send(&self, event: Event) {
        self.events.send(event).unwrap();
    }

    /// Waits until the test opens the gate (one permit per waiter).
    pub async fn wait_for_gate(&self) {
        self.gate.acquire().await.unwrap().forget();
    }
}

impl Observer {
    pub async fn next(&mut self) -> Event {
        within("a deferred block's event", self.events.recv())
            .await
            .unwrap()
    }

    /// The next event, which must be an always-block's outcome.
    pub async fn next_outcome(&mut self) -> Outcome {
        match self.next().await {
            Event::Always(outcome) => outcome,
            other => panic!("expected an always-block's outcome, got {other:?}"),
        }
    }

    /// The always-block's outcome, asserting no plain block ran before it or after it.
    pub async fn only_outcome(&mut self) -> Outcome {
        let outcome = self.next_outcome().await;
        assert!(self.events.try_recv().is_err(), "no other block may run");
        outcome
    }

    pub async fn next_step(&mut self) -> &'static str {
        match self.next().await {
            Event::Step(step) => step,
            other => panic!("expected a step, got {other:?}"),
        }
    }

    /// `true` if no event is waiting right now.
    pub fn is_quiet(&mut self) -> bool {
        self.events.try_recv().is_err()
    }

    pub fn open_gate(&self, permits: usize) {
        self.gate.add_permits(permits);
    }
}
