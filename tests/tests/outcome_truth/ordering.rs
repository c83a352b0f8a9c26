//! "User code runs only after the response's last bytes were written", counted: a socket
//! wrapper records how many responses the server has finished writing, and each response's
//! block reads that count when it starts. A block that starts before its own response's last
//! write sees one response too few.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use after_response::{after_response, defer};
use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tower::ServiceExt as _;

use super::harness::{read_to_end, within, Client, Proto};

/// Requests per protocol.
const REQUESTS: u64 = 1_000;
/// Every response body ends with this; it occurs nowhere else on the wire.
const END: &[u8] = b"#END#";

/// What the server has written on one connection: the number of responses whose last byte
/// has gone to the socket.
#[derive(Default)]
struct WriteLog {
    responses_written: AtomicU64,
    scan: Mutex<Scan>,
}

/// Incremental scan of the written byte stream.
#[derive(Default)]
struct Scan {
    /// HTTP/1: the last `END.len() - 1` bytes, for a marker split across writes.
    tail: Vec<u8>,
    /// HTTP/2: bytes of the frame being written, until its 9-byte header is complete, and how
    /// much of the current frame's payload is still to come.
    header: Vec<u8>,
    payload_left: usize,
    ends_stream: bool,
}

impl WriteLog {
    fn wrote(&self, proto: Proto, bytes: &[u8]) {
        let mut scan = self.scan.lock().unwrap();
        let done = if proto == Proto::Http2 {
            scan.frames(bytes)
        } else {
            scan.markers(bytes)
        };
        self.responses_written.fetch_add(done, SeqCst);
    }
}

impl Scan {
    fn markers(&mut self, bytes: &[u8]) -> u64 {
        let mut joined = std::mem::take(&mut self.tail);
        joined.extend_from_slice(bytes);
        let found = joined.windows(END.len()).filter(|w| *w == END).count();
        let keep = joined.len().min(END.len() - 1);
        self.tail = joined[joined.len() - keep..].to_vec();
        found as u64
    }

    /// Counts frames with `END_STREAM` on a client stream (HEADERS or DATA), once written whole.
    fn frames(&mut self, mut bytes: &[u8]) -> u64 {
        let mut ended = 0;
        while !bytes.is_empty() {
            if self.payload_left == 0 && self.header.len() < 9 {
                let take = (9 - self.header.len()).min(bytes.len());
                self.header.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.header.len() < 9 {
                    break;
                }
                let h = &self.header;
                let length = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                let (kind, flags) = (h[3], h[4]);
                let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
                self.ends_stream = stream != 0 && matches!(kind, 0 | 1) && flags & 0x1 != 0;
                self.payload_left = length;
            }
            let take = self.payload_left.min(bytes.len());
            self.payload_left -= take;
            bytes = &bytes[take..];
            if self.payload_left == 0 && self.header.len() == 9 {
                ended += u64::from(self.ends_stream);
                self.header.clear();
            }
        }
        ended
    }
}

/// A server socket that records every byte written.
struct Recorded {
    inner: TcpStream,
    proto: Proto,
    log: Arc<WriteLog>,
}

impl AsyncRead for Recorded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.log.wrote(self.proto, &buf[..written]);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = std::task::ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        let mut left = written;
        for buf in bufs {
            let take = left.min(buf.len());
            self.log.wrote(self.proto, &buf[..take]);
            left -= take;
        }
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What a block saw when it started: its request's index, and the responses written by then.
type Started = mpsc::UnboundedSender<(u64, u64)>;

/// The three shapes in turn: a small known length, a stream that ends with `None`, a
/// known length over several slices.
#[after_response]
async fn ordered(
    Path(index): Path<u64>,
    Extension(log): Extension<Arc<WriteLog>>,
    Extension(started): Extension<Started>,
) -> Body {
    defer! {
        let _ = started.send((index, log.responses_written.load(SeqCst)));
    }
    match index % 3 {
        0 => Body::from(format!(
            "response {index}{}",
            std::str::from_utf8(END).unwrap()
        )),
        1 => {
            let frames = [
                Bytes::from(format!("response {index} ")),
                Bytes::from_static(END),
            ];
            Body::from_stream(futures_util::stream::iter(
                frames.map(Ok::<_, std::io::Error>),
            ))
        }
        _ => {
            let mut body = vec![b'.'; 200 * 1024];
            body.extend_from_slice(END);
            Body::from(body)
        }
    }
}

/// Serves one connection at a time through hyper-util's server with the recording socket.
async fn serve(listener: tokio::net::TcpListener, proto: Proto, started: Started) {
    let router = Router::new().route("/ordered/{index}", get(ordered));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let log = Arc::new(WriteLog::default());
        let (router, started, for_requests) = (router.clone(), started.clone(), Arc::clone(&log));
        let service =
            tower::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(Arc::clone(&for_requests));
                request.extensions_mut().insert(started.clone());
                router.clone().oneshot(request.map(Body::new))
            });
        let io = TokioIo::new(Recorded {
            inner: stream,
            proto,
            log: Arc::clone(&log),
        });
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let _ = builder
                .serve_connection(io, TowerToHyperService::new(service))
                .await;
        });
    }
}

/// Sends `REQUESTS` requests one after another on one connection; returns how many blocks
/// started before their response's last byte was written, by shape.
async fn blocks_started_early(proto: Proto) -> [u64; 3] {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (started, mut starts) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(listener, proto, started));
    let mut client = Client::connect(proto, addr).await;
    let mut early = [0; 3];
    for index in 0..REQUESTS {
        let response = client.get(&format!("/ordered/{index}")).await;
        read_to_end(response.into_body()).await.unwrap();
        let (started_index, written) = within("the block", starts.recv()).await.unwrap();
        assert_eq!(started_index, index);
        // Responses 0..=index are this connection's; `index + 1` written means this one's
        // last byte was out when the block started.
        if written < index + 1 {
            early[(index % 3) as usize] += 1;
        }
    }
    server.abort();
    early
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_start_only_after_the_last_write_http1() {
    check(Proto::Http11, blocks_started_early(Proto::Http11).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_start_only_after_the_last_write_http2() {
    check(Proto::Http2, blocks_started_early(Proto::Http2).await);
}

fn check(proto: Proto, early: [u64; 3]) {
    let total: u64 = early.iter().sum();
    let report = format!(
        "{proto:?}: blocks started before the last write: {total} of {REQUESTS} \
         (small known length {}, stream ending with None {}, 200 KiB known length {})",
        early[0], early[1], early[2]
    );
    eprintln!("{report}");
    assert_eq!(total, 0, "{report}");
}
