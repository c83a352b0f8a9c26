//! Observability over a real server: the metrics a Prometheus recorder serves on `/metrics` after
//! a known mix of blocks, the failure hook's calls, and the spans tracing-opentelemetry exports.
//!
//! Each test has an executor of its own, and the failure hook is that executor's (its
//! `Config::on_failure`): it hears only that executor's blocks. The Prometheus recorder and the
//! tracing subscriber are process-wide by design (every executor's metrics go to the one
//! recorder, labelled by handler), so they are set up once and the tests take turns.

use after_response_tests as common;
use after_response_tests::{ops, soak};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use after_response::{after_response, defer, Config, Executor, FailureKind, OutcomeKind};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::probe::{Event, Probe};
use common::{within, Proto, Server};
use http_body_util::BodyExt as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tower_http::trace::TraceLayer;
use tracing_subscriber::layer::SubscriberExt as _;

/// What the failure hook was told, owned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Reported {
    handler: String,
    kind: &'static str,
    outcome: &'static str,
    message: String,
}

/// The message that makes the failure hook itself panic (after recording the failure).
const HOOK_PANICS_ON: &str = "this one makes the hook panic";

/// Every failure a hook was told of, in order.
type Reports = Arc<Mutex<Vec<Reported>>>;

/// `config` with a failure hook that records into the returned list (and panics on
/// [`HOOK_PANICS_ON`], after recording).
fn with_hook(config: Config) -> (Config, Reports) {
    let reports = Reports::default();
    let into = Arc::clone(&reports);
    let config = config.on_failure(move |failure| {
        let reported = Reported {
            handler: failure.handler().to_owned(),
            kind: failure.kind().as_str(),
            outcome: failure.outcome().as_str(),
            message: failure.message().to_owned(),
        };
        into.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reported);
        assert_ne!(failure.message(), HOOK_PANICS_ON, "a deliberate hook panic");
    });
    (config, reports)
}

fn sorted(reports: &Reports) -> Vec<Reported> {
    let mut reports = reports.lock().unwrap().clone();
    reports.sort();
    reports
}

struct Observability {
    prometheus: PrometheusHandle,
    spans: InMemorySpanExporter,
}

/// Installs the recorder and the subscriber once; then waits for this test's turn.
fn observability() -> (&'static Observability, MutexGuard<'static, ()>) {
    static SETUP: OnceLock<Observability> = OnceLock::new();
    static TURN: Mutex<()> = Mutex::new(());
    let setup = SETUP.get_or_init(|| {
        let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("observability")));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        Observability { prometheus, spans }
    });
    (setup, TURN.lock().unwrap_or_else(PoisonError::into_inner))
}

#[after_response]
async fn obs_completed() -> &'static str {
    defer! {}
    "completed"
}

#[after_response]
async fn obs_failing() -> &'static str {
    defer! {
        Err::<(), _>("disk full")
    }
    "failing"
}

#[after_response]
async fn obs_panicking() -> &'static str {
    defer! {
        explode();
    }
    "panicking"
}

fn explode() {
    panic!("boom");
}

#[after_response]
async fn obs_timing_out() -> &'static str {
    defer!(timeout = Duration::from_millis(5) => {
        std::future::pending::<()>().await; // never ends: always cancelled by the timeout
    });
    "timing out"
}

#[after_response]
async fn obs_cancelled() -> &'static str {
    let handle = defer! {};
    handle.cancel();
    "cancelled"
}

#[after_response]
async fn obs_aborted(State(probe): State<Probe>) -> axum::body::Body {
    defer! {
        // Skipped: the client leaves mid-body.
    }
    defer!(|outcome| {
        probe.send(Event::Always(outcome));
    });
    common::endless_body(&["first chunk"])
}

#[after_response]
async fn obs_hook_panics() -> &'static str {
    defer! {
        Err::<(), _>(HOOK_PANICS_ON)
    }
    "hook panics"
}

/// Takes the one slot and holds it until the gate opens.
#[after_response]
async fn obs_holding(State(probe): State<Probe>) -> &'static str {
    defer! {
        probe.send(Event::Step("holding"));
        probe.wait_for_gate().await;
    }
    "holding"
}

#[after_response]
async fn obs_queued() -> &'static str {
    defer! {}
    "queued"
}

#[after_response]
async fn obs_shed() -> &'static str {
    defer! {}
    "shed"
}

fn router(probe: Probe) -> Router {
    Router::new()
        .route("/completed", get(obs_completed))
        .route("/failing", get(obs_failing))
        .route("/panicking", get(obs_panicking))
        .route("/timing-out", get(obs_timing_out))
        .route("/cancelled", get(obs_cancelled))
        .route("/aborted", get(obs_aborted))
        .route("/hook-panics", get(obs_hook_panics))
        .route("/holding", get(obs_holding))
        .route("/queued", get(obs_queued))
        .route("/shed", get(obs_shed))
        .with_state(probe)
}

/// The scraped samples: `name{label="value",..}` (labels sorted) → the value as rendered.
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let key = match series.split_once('{') {
                None => series.to_owned(),
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort_unstable();
                    format!("{name}{{{}}}", labels.join(","))
                }
            };
            (key, value.to_owned())
        })
        .collect()
}

/// The key [`samples`] gives `name` with `labels` for handler `handler` (this file's module).
fn series(name: &str, handler: &str, labels: &[(&str, &str)]) -> String {
    let handler = format!("observability::{handler}");
    let mut labels: Vec<String> = labels
        .iter()
        .chain(&[("handler", handler.as_str())])
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    labels.sort_unstable();
    format!("{name}{{{}}}", labels.join(","))
}

fn reported(handler: &str, kind: FailureKind, message: &str) -> Reported {
    Reported {
        handler: format!("observability::{handler}"),
        kind: kind.as_str(),
        outcome: OutcomeKind::Completed.as_str(),
        message: message.to_owned(),
    }
}

/// Completed (4), failing, panicking, timing out, cancelled, a failure whose hook panics,
/// aborted (one skipped, one always-block), shed behind a held slot and a queued response, and
/// two lost (the runtime dropped under a running block; no runtime at all), all on `executor`.
fn drive_the_mix(executor: &Executor) {
    let tokio_runtime = soak::runtime();
    tokio_runtime.block_on(async {
        let (probe, mut observer) = Probe::new();
        let mut server = Server::start_on(router(probe), executor.clone()).await;
        let client = common::client(Proto::Http1);
        for path in [
            "/completed",
            "/completed",
            "/completed",
            "/failing",
            "/panicking",
            "/timing-out",
            "/cancelled",
            "/hook-panics",
            "/completed", // the server kept serving after the hook panicked
        ] {
            common::get(&client, &server, path).await;
            server.settle().await;
        }

        let mut body = common::get_streaming(&client, &server, "/aborted")
            .await
            .into_body();
        within("the first chunk", body.frame())
            .await
            .unwrap()
            .unwrap();
        drop(body); // the client leaves mid-body
        server.settle().await;
        assert_eq!(observer.next_outcome().await.kind(), OutcomeKind::Aborted);

        // One slot, one place in the queue: the third response's block is shed.
        common::get(&client, &server, "/holding").await;
        assert_eq!(observer.next_step().await, "holding");
        let holding = server.next_completion().await;
        common::get(&client, &server, "/queued").await;
        let queued = server.next_completion().await;
        ops::until("the queued response to be fired", || {
            executor.stats().in_flight == 2
        })
        .await;
        common::get(&client, &server, "/shed").await;
        within("the shed response", server.next_completion().await.wait()).await;
        observer.open_gate(1);
        within("the holding response", holding.wait()).await;
        within("the queued response", queued.wait()).await;

        // Fired, then lost when the runtime is dropped under it.
        common::get(&client, &server, "/holding").await;
        assert_eq!(observer.next_step().await, "holding");
    });
    drop(tokio_runtime);
    // Lost without ever being fired: no runtime where the body is dropped.
    let registry = executor.registry("observability::obs_by_hand");
    registry.defer(async {});
    drop(registry.attach(http::Response::new(String::from("by hand"))));
}

#[test]
fn metrics_and_the_failure_hook_report_a_known_mix_of_blocks() {
    let (setup, _turn) = observability();
    // One slot, one place in the queue, a failure hook: this executor's alone.
    let (config, reports) = with_hook(Config::default().max_in_flight(1).max_queued(1));
    let executor = config.build();
    let before = executor.stats();
    drive_the_mix(&executor);
    let after = executor.stats();
    assert_eq!(
        ops::changes(&before, &after),
        [
            ("finished", 7),
            ("failed", 2),
            ("panicked", 1),
            ("timed_out", 1),
            ("cancelled", 1),
            ("skipped", 1),
            ("shed", 1),
            ("lost", 2),
            ("failure_hook_panicked", 1),
        ]
    );
    assert_eq!(
        after_response::stats().failure_hook_panicked,
        0,
        "counted on the hook's executor, not the process default"
    );

    let failures = sorted(&reports);
    let mut expected = vec![
        reported("obs_failing", FailureKind::Failed, "disk full"),
        reported("obs_hook_panics", FailureKind::Failed, HOOK_PANICS_ON),
        reported("obs_panicking", FailureKind::Panicked, "boom"),
        reported(
            "obs_timing_out",
            FailureKind::TimedOut,
            "timed out after 5ms and was cancelled",
        ),
        reported(
            "obs_shed",
            FailureKind::Shed,
            "deferred work was full (max_in_flight running, max_queued waiting); the block was \
             dropped without running",
        ),
    ];
    expected.sort();
    assert_eq!(
        failures, expected,
        "the hook is told of exactly the failures"
    );

    assert_scrape(&scrape(&setup.prometheus));
}

/// The recorder's text as Prometheus gets it: a GET of an app's `/metrics` route over a real
/// connection (the route renders the handle, as in `examples/prometheus_metrics.rs`).
fn scrape(prometheus: &PrometheusHandle) -> String {
    let prometheus = prometheus.clone();
    let app = Router::new().route(
        "/metrics",
        get(move || std::future::ready(prometheus.render())),
    );
    soak::runtime().block_on(async {
        let server = Server::start(app).await;
        let client = common::client(Proto::Http1);
        let (parts, body) = common::get(&client, &server, "/metrics").await;
        assert_eq!(parts.status, http::StatusCode::OK);
        String::from_utf8(body.to_vec()).expect("the exposition format is text")
    })
}

/// What the Prometheus recorder renders after [`drive_the_mix`].
fn assert_scrape(text: &str) {
    let samples = samples(text);
    let value = |name: &str, handler: &str, labels: &[(&str, &str)]| {
        let key = series(name, handler, labels);
        samples
            .get(&key)
            .unwrap_or_else(|| panic!("no {key} in the scrape:\n{text}"))
            .clone()
    };
    let ended = |handler, ending| {
        value(
            "after_response_blocks_ended_total",
            handler,
            &[("ending", ending)],
        )
    };
    let fired = |handler, outcome| {
        value(
            "after_response_blocks_fired_total",
            handler,
            &[("outcome", outcome)],
        )
    };
    let expected_ended = [
        ("obs_completed", "finished", "4"),
        ("obs_failing", "failed", "1"),
        ("obs_hook_panics", "failed", "1"),
        ("obs_panicking", "panicked", "1"),
        ("obs_timing_out", "timed_out", "1"),
        ("obs_cancelled", "cancelled", "1"),
        ("obs_aborted", "skipped", "1"),
        ("obs_aborted", "finished", "1"),
        ("obs_shed", "shed", "1"),
        ("obs_holding", "finished", "1"),
        ("obs_holding", "lost", "1"),
        ("obs_queued", "finished", "1"),
        ("obs_by_hand", "lost", "1"),
    ];
    for (handler, ending, count) in expected_ended {
        assert_eq!(ended(handler, ending), count, "{handler} {ending}");
    }
    assert_eq!(fired("obs_completed", "completed"), "4");
    assert_eq!(fired("obs_aborted", "aborted"), "1");
    assert_eq!(fired("obs_holding", "completed"), "2");
    assert!(!samples.contains_key(&series(
        "after_response_blocks_fired_total",
        "obs_shed",
        &[("outcome", "completed")]
    )));
    let hook_panics = "after_response_failure_hook_panics_total";
    assert_eq!(value(hook_panics, "obs_hook_panics", &[]), "1");
    for handler in ["obs_completed", "obs_holding", "obs_queued", "obs_aborted"] {
        assert_eq!(value("after_response_blocks_in_flight", handler, &[]), "0");
    }
    assert_eq!(
        value("after_response_responses_queued", "obs_queued", &[]),
        "0"
    );

    // Histograms (rendered as summaries): one sample per started block, or per queued response.
    let count = |name: &str, handler, labels| value(&format!("{name}_count"), handler, labels);
    let duration = "after_response_block_duration_seconds";
    assert_eq!(
        count(duration, "obs_completed", &[("ending", "finished")]),
        "4"
    );
    assert_eq!(
        count(duration, "obs_timing_out", &[("ending", "timed_out")]),
        "1"
    );
    assert_eq!(
        count(duration, "obs_panicking", &[("ending", "panicked")]),
        "1"
    );
    let start_delay = "after_response_block_start_delay_seconds";
    assert_eq!(count(start_delay, "obs_completed", &[]), "4");
    assert_eq!(count(start_delay, "obs_holding", &[]), "2");
    let queue_wait = "after_response_queue_wait_seconds";
    assert_eq!(count(queue_wait, "obs_queued", &[]), "1");
    assert!(
        !samples.contains_key(&series(
            &format!("{queue_wait}_count"),
            "obs_completed",
            &[]
        )),
        "only responses that waited for a slot are in the queue-wait histogram"
    );

    assert_described(text, &samples);
}

/// Every metric has its description and type, and no label but `handler`, `outcome`, `ending`
/// (and the summaries' `quantile`): nothing per request.
fn assert_described(text: &str, samples: &BTreeMap<String, String>) {
    for (name, kind) in [
        ("after_response_blocks_fired_total", "counter"),
        ("after_response_blocks_ended_total", "counter"),
        ("after_response_blocks_in_flight", "gauge"),
        ("after_response_responses_queued", "gauge"),
        ("after_response_block_duration_seconds", "summary"),
        ("after_response_block_start_delay_seconds", "summary"),
        ("after_response_queue_wait_seconds", "summary"),
        ("after_response_failure_hook_panics_total", "counter"),
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} undescribed:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name} not a {kind}:\n{text}"
        );
    }
    for key in samples
        .keys()
        .filter(|key| key.starts_with("after_response_"))
    {
        let labels = key.split_once('{').map_or("", |(_, labels)| labels);
        assert!(
            labels
                .split(',')
                .all(|label| ["handler=", "outcome=", "ending=", "quantile="]
                    .iter()
                    .any(|allowed| label.starts_with(allowed))),
            "unexpected label in {key}"
        );
    }
}

#[after_response]
async fn obs_traced() -> &'static str {
    defer! {
        tracing::info!("deferred work");
    }
    "traced"
}

fn exported(spans: &InMemorySpanExporter, name: &str) -> Option<SpanData> {
    spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .find(|span| span.name == name)
}

#[test]
fn the_exported_block_span_is_a_child_of_the_request_span_and_links_to_it() {
    let (setup, _turn) = observability();
    setup.spans.reset();
    let tokio_runtime = soak::runtime();
    tokio_runtime.block_on(async {
        let router = Router::new()
            .route("/traced", get(obs_traced))
            .layer(TraceLayer::new_for_http());
        let mut server = Server::start(router).await;
        let client = common::client(Proto::Http2);
        assert_eq!(common::get(&client, &server, "/traced").await.1, "traced");
        server.settle().await;
        ops::until("the request span to be exported", || {
            exported(&setup.spans, "request").is_some()
        })
        .await;
    });
    let request = exported(&setup.spans, "request").expect("the request span");
    let block = exported(&setup.spans, "after_response").expect("the blocks' span");

    let request_context = &request.span_context;
    assert_eq!(block.span_context.trace_id(), request_context.trace_id());
    assert_eq!(block.parent_span_id, request_context.span_id());
    let links: Vec<_> = block.links.iter().map(|link| &link.span_context).collect();
    assert_eq!(links, [request_context], "a link to the request span");
    // The request span ends when the response does, not when its deferred work does (it is
    // exported once the blocks' span, its child, has closed).
    assert!(request.end_time <= block.start_time);
    assert!(
        block
            .events
            .iter()
            .any(|event| event.name == "deferred work"),
        "the block's event is in its span: {:?}",
        block.events
    );
}

#[after_response]
async fn obs_elsewhere() -> &'static str {
    defer! {
        Err::<(), _>("elsewhere")
    }
    "elsewhere"
}

#[test]
fn a_failure_hook_hears_only_its_own_executors_blocks_including_blocking_ones() {
    let (_setup, _turn) = observability();
    assert_eq!(
        Executor::process_default().config(),
        &Config::default(),
        "the process default has no failure hook"
    );
    let (config, reports) = with_hook(Config::default());
    let hooked = config.build();
    let plain = Config::default().build();
    let tokio_runtime = soak::runtime();
    tokio_runtime.block_on(async {
        let app = || Router::new().route("/elsewhere", get(obs_elsewhere));
        let mut on_hooked = Server::start_on(app(), hooked.clone()).await;
        let mut on_plain = Server::start_on(app(), plain.clone()).await;
        let mut on_default = Server::start_on(app(), Executor::process_default()).await;
        let client = common::client(Proto::Http1);
        for server in [&mut on_hooked, &mut on_plain, &mut on_default] {
            common::get(&client, server, "/elsewhere").await;
            server.settle().await;
        }

        // `defer_blocking` closures report like the other blocks.
        let registry = hooked.registry("observability::by_hand_blocking");
        registry.defer_blocking(|| Err::<(), _>("blocking disk full"));
        registry.defer_blocking(|| -> () { panic!("blocking boom") });
        let response = registry.attach(http::Response::new(String::new()));
        let completion = after_response::Completion::of(&response);
        drop(response);
        within("the blocking closures", completion).await;
    });
    assert_eq!(hooked.stats().failed, 2);
    assert_eq!(hooked.stats().panicked, 1);
    assert_eq!(plain.stats().failed, 1, "the plain executor ran its block");
    let blocking = |kind, message: &str| Reported {
        handler: "observability::by_hand_blocking".to_owned(),
        kind: FailureKind::as_str(kind),
        outcome: OutcomeKind::Completed.as_str(),
        message: message.to_owned(),
    };
    let mut expected = vec![
        reported("obs_elsewhere", FailureKind::Failed, "elsewhere"),
        blocking(FailureKind::Failed, "blocking disk full"),
        blocking(FailureKind::Panicked, "blocking boom"),
    ];
    expected.sort();
    assert_eq!(
        sorted(&reports),
        expected,
        "exactly the hooked executor's failures, once each"
    );
}
