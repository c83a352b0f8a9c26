//! A body that ends with trailers (gRPC-style): the trailers frame is the body's last frame.

use after_response_tests as common;

use after_response::{after_response, defer, OutcomeKind};
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::probe::{Event, Probe};
use common::{within, Connection, Server, PROTOCOLS};
use http::{HeaderMap, HeaderValue};
use http_body::Frame;
use http_body_util::{BodyExt as _, StreamBody};

const DATA: [&str; 2] = ["message 1", "message 2"];

#[after_response]
async fn with_trailers(State(probe): State<Probe>) -> Body {
    let plain = probe.clone();
    defer! {
        plain.send(Event::Plain);
    }
    let always = probe.clone();
    defer!(|outcome| {
        always.send(Event::Always(outcome));
    });
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = DATA
        .map(|data| Frame::data(Bytes::from(data)))
        .into_iter()
        .chain(std::iter::once(Frame::trailers(trailers)))
        .map(Ok::<_, std::io::Error>);
    Body::new(StreamBody::new(futures_util::stream::iter(frames)))
}

/// A client that asks for trailers (`te: trailers`), on one connection.
async fn fetch(connection: &mut Connection, path: &str) -> (Bytes, Option<HeaderMap>) {
    let request = http::Request::get(format!("http://localhost{path}"))
        .header("te", "trailers")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = match connection {
        Connection::Http1(sender) => {
            within("ready", sender.ready()).await.unwrap();
            within("the response", sender.send_request(request))
                .await
                .unwrap()
        }
        Connection::Http2(sender) => {
            within("ready", sender.ready()).await.unwrap();
            within("the response", sender.send_request(request))
                .await
                .unwrap()
        }
    };
    let collected = within("the body", response.into_body().collect())
        .await
        .unwrap();
    let trailers = collected.trailers().cloned();
    (collected.to_bytes(), trailers)
}

/// hyper stops polling a body after its trailers frame (both protocols), so the trailers frame
/// must count as the end. Today `DeferredBody` reports Aborted here; the fix is one condition
/// in `body.rs` (`frame.is_trailers()` sets `complete`), verified to make this test pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_ending_in_trailers_completes() {
    for proto in PROTOCOLS {
        let (probe, mut observer) = Probe::new();
        let router = Router::new()
            .route("/trailers", get(with_trailers))
            .with_state(probe);
        let mut server = Server::start(router).await;
        let mut connection = Connection::open(proto, &server).await;
        let (body, trailers) = fetch(&mut connection, "/trailers").await;
        assert_eq!(body, DATA.concat());
        if proto == common::Proto::Http2 {
            assert_eq!(
                trailers.unwrap()["grpc-status"],
                "0",
                "trailers pass through"
            );
        }
        server.settle().await;
        let first = observer.next().await;
        let outcome = match first {
            Event::Plain => observer.next_outcome().await,
            Event::Always(outcome) => outcome,
            Event::Step(_) => unreachable!(),
        };
        assert_eq!(
            outcome.kind(),
            OutcomeKind::Completed,
            "{proto:?}: {outcome:?}"
        );
        assert_eq!(outcome.body_bytes(), DATA.concat().len() as u64);
    }
}
