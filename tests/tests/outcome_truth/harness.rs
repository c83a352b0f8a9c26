//! A real axum server on 127.0.0.1:0 whose handlers report what their blocks saw, and hyper
//! clients on HTTP/1.0, HTTP/1.1 and HTTP/2 that read all, read some, or hang up.

use std::net::SocketAddr;

use after_response::{Completion, Outcome, OutcomeKind};
use axum::Router;
use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

pub use after_response_tests::within;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Http10,
    Http11,
    Http2,
}

pub const PROTOCOLS: [Proto; 3] = [Proto::Http10, Proto::Http11, Proto::Http2];

/// What a handler's blocks did.
#[derive(Debug)]
pub enum Ran {
    Plain,
    Always(Outcome),
}

/// Handler state: where the blocks report.
#[derive(Clone)]
pub struct Report(mpsc::UnboundedSender<Ran>);

impl Report {
    pub fn plain(&self) {
        let _ = self.0.send(Ran::Plain);
    }

    pub fn always(&self, outcome: Outcome) {
        let _ = self.0.send(Ran::Always(outcome));
    }
}

/// A running server plus every response's completion handle and its blocks' reports.
pub struct Server {
    pub addr: SocketAddr,
    completions: mpsc::UnboundedReceiver<Completion>,
    ran: mpsc::UnboundedReceiver<Ran>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(router: Router<Report>) -> Self {
        let (report, ran) = mpsc::unbounded_channel();
        let (tap, completions) = mpsc::unbounded_channel();
        let router = router
            .layer(axum::middleware::map_response(
                move |response: axum::response::Response| {
                    let tap = tap.clone();
                    async move {
                        let _ = tap.send(Completion::of(&response));
                        response
                    }
                },
            ))
            .with_state(Report(report));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            addr,
            completions,
            ran,
            task,
        }
    }

    /// The next response's outcome, once all its blocks have run; asserts that its
    /// always-block ran exactly once and its plain block ran exactly when it was Completed.
    pub async fn outcome(&mut self, case: &str) -> Outcome {
        let completion = within("a response", self.completions.recv())
            .await
            .expect("server stopped");
        within("the blocks", completion.wait()).await;
        let mut ran = Vec::new();
        while let Ok(event) = self.ran.try_recv() {
            ran.push(event);
        }
        match ran.as_slice() {
            [Ran::Plain, Ran::Always(outcome)] if outcome.kind() == OutcomeKind::Completed => {
                *outcome
            }
            [Ran::Always(outcome)] if outcome.kind() != OutcomeKind::Completed => *outcome,
            other => panic!("{case}: blocks ran as {other:?}"),
        }
    }

    /// The outcomes of the next `count` responses, whose blocks may interleave; asserts each
    /// always-block ran once and as many plain blocks ran as there were Completed outcomes.
    pub async fn outcomes(&mut self, case: &str, count: usize) -> Vec<Outcome> {
        for _ in 0..count {
            let completion = within("a response", self.completions.recv())
                .await
                .expect("server stopped");
            within("the blocks", completion.wait()).await;
        }
        let (mut plain, mut outcomes) = (0, Vec::new());
        while let Ok(event) = self.ran.try_recv() {
            match event {
                Ran::Plain => plain += 1,
                Ran::Always(outcome) => outcomes.push(outcome),
            }
        }
        assert_eq!(outcomes.len(), count, "{case}: {outcomes:?}");
        let completed = outcomes.iter().filter(|o| o.is_completed()).count();
        assert_eq!(plain, completed, "{case}: plain blocks vs Completed");
        outcomes
    }

    /// Asserts the next response ended as `kind`, and returns its outcome.
    pub async fn expect(&mut self, case: &str, kind: OutcomeKind) -> Outcome {
        let outcome = self.outcome(case).await;
        assert_eq!(outcome.kind(), kind, "{case}: {outcome:?}");
        outcome
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The client's receive buffer: small, so that what the server wrote is bounded by what the
/// client read plus the kernel's send buffer.
const CLIENT_RECEIVE_BUFFER: u32 = 64 * 1024;

pub async fn connect_small(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(CLIENT_RECEIVE_BUFFER).unwrap();
    socket.connect(addr).await.unwrap()
}

enum Sender {
    Http1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// One client connection; hanging up drops the socket.
pub struct Client {
    proto: Proto,
    sender: Sender,
    connection: tokio::task::JoinHandle<()>,
}

impl Client {
    pub async fn connect(proto: Proto, addr: SocketAddr) -> Self {
        let io = TokioIo::new(connect_small(addr).await);
        let (sender, connection) = if proto == Proto::Http2 {
            let (sender, connection) =
                hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                    .initial_stream_window_size(65_535)
                    .initial_connection_window_size(65_535)
                    .handshake(io)
                    .await
                    .unwrap();
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            (Sender::Http2(sender), task)
        } else {
            let (sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
            let task = tokio::spawn(async move {
                let _ = connection.with_upgrades().await;
            });
            (Sender::Http1(sender), task)
        };
        Self {
            proto,
            sender,
            connection,
        }
    }

    /// A request for `path` in this protocol's form.
    pub fn request(&self, path: &str) -> http::request::Builder {
        let builder = Request::get(format!("http://localhost{path}")).header("host", "localhost");
        match self.proto {
            Proto::Http10 => builder.version(Version::HTTP_10),
            Proto::Http11 => builder.version(Version::HTTP_11),
            Proto::Http2 => builder.version(Version::HTTP_2),
        }
    }

    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Response<Incoming> {
        self.try_send(request).await.expect("request failed")
    }

    /// Sends `request`; the error if the connection failed before the response head arrived.
    pub async fn try_send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        match &mut self.sender {
            Sender::Http1(sender) => {
                within("the connection", sender.ready()).await.unwrap();
                within("the response head", sender.send_request(request)).await
            }
            Sender::Http2(sender) => {
                within("the connection", sender.ready()).await.unwrap();
                within("the response head", sender.send_request(request)).await
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response<Incoming> {
        let request = self.request(path).body(Full::default()).unwrap();
        self.send(request).await
    }

    /// Drops the connection (the socket closes).
    pub fn hang_up(self) {
        self.connection.abort();
    }
}

/// Reads the body to its end: the byte count, or the error the client saw.
pub async fn read_to_end(mut body: Incoming) -> Result<u64, hyper::Error> {
    let mut bytes = 0;
    while let Some(frame) = within("a body frame", body.frame()).await {
        if let Ok(data) = frame?.into_data() {
            bytes += data.len() as u64;
        }
    }
    Ok(bytes)
}

/// Reads at least `least` body bytes, or until the client's own connection gives up (an
/// HTTP/2 client refuses a flood of tiny DATA frames with `ENHANCE_YOUR_CALM`); returns how
/// many were read.
pub async fn read_at_least(body: &mut Incoming, least: u64) -> u64 {
    let mut bytes = 0;
    while bytes < least {
        let frame = within("a body frame", body.frame())
            .await
            .expect("the body ended early");
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    bytes += data.len() as u64;
                }
            }
            Err(error) => {
                eprintln!("the client gave up after {bytes} bytes: {error}");
                break;
            }
        }
    }
    bytes
}
