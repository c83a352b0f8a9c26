//! The shared harness of the integration tests (`tests/*.rs`): a real axum server on
//! 127.0.0.1:0 with an executor of its own, real HTTP clients, probes, log capture and the
//! reliability suite's helpers. A library, so it is compiled once for every test binary.
#![allow(missing_docs, clippy::missing_panics_doc, clippy::must_use_candidate)]

pub mod handlers;
pub mod logs;
pub mod ops;
pub mod probe;
pub mod soak;

use std::net::SocketAddr;
use std::time::Duration;

use after_response::{Completion, Config, Executor};
use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Upper bound for any single wait in a test: a hang becomes a failure, never a stuck CI.
/// (A bound on waiting, not an assertion about speed.)
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it does not finish within [`PATIENCE`].
pub async fn within<F: std::future::IntoFuture>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Http1,
    Http2,
}

pub const PROTOCOLS: [Proto; 2] = [Proto::Http1, Proto::Http2];

/// A running server plus the completion handle of every response it produced, in order.
pub struct Server {
    pub addr: SocketAddr,
    /// The executor the server's handlers run their blocks on: the test's own.
    pub executor: Executor,
    completions: mpsc::UnboundedReceiver<Completion>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Serves `router` on an executor of its own with the default [`Config`]: see
    /// [`Server::start_on`].
    pub async fn start(router: Router) -> Self {
        Self::start_on(router, Config::default().build()).await
    }

    /// Serves `router` (HTTP/1.1 and HTTP/2 prior knowledge, as `axum::serve` does) with its
    /// blocks on `executor` and a tap that forwards each response's [`Completion`] to the test.
    /// [`Executor::process_default`] adds no layer at all: the zero-configuration path.
    pub async fn start_on(router: Router, executor: Executor) -> Self {
        let (tx, completions) = mpsc::unbounded_channel();
        let router = if executor.same_executor(&Executor::process_default()) {
            router
        } else {
            router.layer(executor.clone())
        };
        let router = router.layer(axum::middleware::map_response(
            move |response: axum::response::Response| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(Completion::of(&response));
                    response
                }
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            addr,
            executor,
            completions,
            task,
        }
    }

    /// This server's executor's counters.
    pub fn stats(&self) -> after_response::Stats {
        self.executor.stats()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The completion handle of the next response the server produced.
    pub async fn next_completion(&mut self) -> Completion {
        within("a response's completion handle", self.completions.recv())
            .await
            .expect("server stopped")
    }

    /// Waits until the next response's deferred blocks have all finished.
    pub async fn settle(&mut self) {
        let completion = self.next_completion().await;
        within("deferred blocks to finish", completion.wait()).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub type TestClient = Client<HttpConnector, Empty<Bytes>>;

/// A pooled hyper-util client: HTTP/1.1 keep-alive, or HTTP/2 with prior knowledge.
pub fn client(proto: Proto) -> TestClient {
    let mut builder = Client::builder(TokioExecutor::new());
    if proto == Proto::Http2 {
        builder.http2_only(true);
    }
    builder.build_http()
}

/// Sends `method path` and returns the response with its whole body read.
pub async fn send(
    client: &TestClient,
    server: &Server,
    method: http::Method,
    path: &str,
) -> (http::response::Parts, Bytes) {
    let request = Request::builder()
        .method(method)
        .uri(server.url(path))
        .body(Empty::new())
        .unwrap();
    let response = within("the response", client.request(request))
        .await
        .expect("request failed");
    let (parts, body) = response.into_parts();
    let body = within("the response body", body.collect())
        .await
        .expect("body failed")
        .to_bytes();
    (parts, body)
}

pub async fn get(
    client: &TestClient,
    server: &Server,
    path: &str,
) -> (http::response::Parts, Bytes) {
    send(client, server, http::Method::GET, path).await
}

/// Sends `count` GETs of `path` all at once, taking the clients in turn (e.g. one HTTP/1.1 and
/// one HTTP/2), and returns every response with its whole body, in order.
pub async fn get_round_robin(
    clients: &[&TestClient],
    server: &Server,
    path: &str,
    count: usize,
) -> Vec<(http::response::Parts, Bytes)> {
    futures_util::future::join_all(
        (0..count).map(|i| get(clients[i % clients.len()], server, path)),
    )
    .await
}

/// Sends a GET and returns the response head with its body still streaming.
pub async fn get_streaming(
    client: &TestClient,
    server: &Server,
    path: &str,
) -> Response<hyper::body::Incoming> {
    let request = Request::get(server.url(path)).body(Empty::new()).unwrap();
    within("the response head", client.request(request))
        .await
        .expect("request failed")
}

/// One dedicated HTTP/1.1 or HTTP/2 connection, for keep-alive tests.
pub enum Connection {
    Http1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    Http2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

impl Connection {
    pub async fn open(proto: Proto, server: &Server) -> Self {
        let stream = TokioIo::new(TcpStream::connect(server.addr).await.unwrap());
        match proto {
            Proto::Http1 => {
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(stream).await.unwrap();
                tokio::spawn(connection);
                Self::Http1(sender)
            }
            Proto::Http2 => {
                let (sender, connection) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), stream)
                        .await
                        .unwrap();
                tokio::spawn(connection);
                Self::Http2(sender)
            }
        }
    }

    /// GET `path` on this connection; returns status and whole body.
    pub async fn get(&mut self, path: &str) -> (http::StatusCode, Bytes) {
        let request = Request::get(path)
            .header("host", "localhost")
            .body(Empty::new())
            .unwrap();
        let response = match self {
            Self::Http1(sender) => {
                within("the connection to be ready", sender.ready())
                    .await
                    .unwrap();
                within("the response", sender.send_request(request))
                    .await
                    .unwrap()
            }
            Self::Http2(sender) => {
                let mut request = request;
                *request.uri_mut() = format!("http://localhost{path}").parse().unwrap();
                within("the connection to be ready", sender.ready())
                    .await
                    .unwrap();
                within("the response", sender.send_request(request))
                    .await
                    .unwrap()
            }
        };
        let status = response.status();
        let body = within("the body", response.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        (status, body)
    }
}

/// A raw HTTP/1.1 exchange over TCP, for cases where the bytes on the wire matter.
pub struct RawConnection {
    pub stream: TcpStream,
}

impl RawConnection {
    pub async fn open(server: &Server) -> Self {
        Self {
            stream: TcpStream::connect(server.addr).await.unwrap(),
        }
    }

    pub async fn send(&mut self, request: &str) {
        self.stream.write_all(request.as_bytes()).await.unwrap();
    }

    /// Reads until `needle` has been seen; returns everything read so far.
    pub async fn read_until(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        within("bytes from the server", async {
            while !String::from_utf8_lossy(&seen).contains(needle) {
                let read = self.stream.read(&mut buffer).await.unwrap();
                assert!(
                    read > 0,
                    "connection closed before {needle:?}: {}",
                    String::from_utf8_lossy(&seen)
                );
                seen.extend_from_slice(&buffer[..read]);
            }
        })
        .await;
        String::from_utf8_lossy(&seen).into_owned()
    }
}

/// A body that yields `chunks` then stays pending forever: the client decides when it ends.
pub fn endless_body(chunks: &'static [&'static str]) -> Body {
    let stream = futures_util::stream::iter(
        chunks
            .iter()
            .map(|chunk| Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))),
    )
    .chain(futures_util::stream::pending());
    Body::from_stream(stream)
}
