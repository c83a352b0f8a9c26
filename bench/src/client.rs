//! The in-repo load generator: hyper 1 client connections (HTTP/1.1 keep-alive or HTTP/2
//! prior knowledge), each sending one request at a time and reading the whole body.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

/// Any error of the client.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The client's runtime: current-thread, on the calling thread.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The protocol of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Http1,
    Http2,
}

enum Sender {
    Http1(http1::SendRequest<Empty<Bytes>>),
    Http2(http2::SendRequest<Empty<Bytes>>),
}

/// One client connection.
pub struct Conn {
    sender: Sender,
    authority: String,
}

impl Conn {
    /// Opens a connection to `addr` (`TCP_NODELAY` on); its driver runs on the current runtime.
    pub async fn open(addr: SocketAddr, proto: Proto) -> Result<Self, Error> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let io = TokioIo::new(tcp);
        let sender = match proto {
            Proto::Http1 => {
                let (sender, conn) = http1::handshake(io).await?;
                tokio::spawn(conn);
                Sender::Http1(sender)
            }
            Proto::Http2 => {
                let (sender, conn) = http2::handshake(TokioExecutor::new(), io).await?;
                tokio::spawn(conn);
                Sender::Http2(sender)
            }
        };
        Ok(Self {
            sender,
            authority: addr.to_string(),
        })
    }

    /// `GET path`, reading the whole body; returns the time to its last byte.
    pub async fn get(&mut self, path: &str) -> Result<Duration, Error> {
        let started = Instant::now();
        let response = match &mut self.sender {
            Sender::Http1(sender) => {
                let request = Request::get(path)
                    .header(header::HOST, &self.authority)
                    .body(Empty::new())?;
                sender.ready().await?;
                sender.send_request(request).await?
            }
            Sender::Http2(sender) => {
                let uri = format!("http://{}{path}", self.authority);
                let request = Request::get(uri).body(Empty::new())?;
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let elapsed = started.elapsed();
        if status != StatusCode::OK || body.is_empty() {
            return Err(format!("GET {path}: {status}, {} body bytes", body.len()).into());
        }
        Ok(elapsed)
    }
}

/// What one load run measured.
pub struct Load {
    pub requests: u64,
    pub elapsed: Duration,
    /// Time to last byte of every request, in nanoseconds.
    pub latencies_ns: Vec<u64>,
}

impl Load {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// `conns` warm HTTP/1.1 keep-alive connections to one server, reused across runs.
pub struct Pool {
    conns: Vec<Conn>,
}

impl Pool {
    /// Opens `conns` connections to `addr`.
    pub async fn open(addr: SocketAddr, conns: usize) -> Result<Self, Error> {
        let mut opened = Vec::with_capacity(conns);
        for _ in 0..conns {
            opened.push(Conn::open(addr, Proto::Http1).await?);
        }
        Ok(Self { conns: opened })
    }

    /// Every connection sends `GET /` back to back for `duration`.
    pub async fn run(&mut self, duration: Duration) -> Result<Load, Error> {
        let started = Instant::now();
        let deadline = started + duration;
        let tasks: Vec<_> = self
            .conns
            .drain(..)
            .map(|mut conn| {
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(1 << 14);
                    while Instant::now() < deadline {
                        let latency = conn.get("/").await?;
                        latencies.push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
                    }
                    Ok::<_, Error>((conn, latencies))
                })
            })
            .collect();
        let mut latencies_ns = Vec::new();
        for task in tasks {
            let (conn, latencies) = task.await??;
            self.conns.push(conn);
            latencies_ns.extend(latencies);
        }
        Ok(Load {
            requests: latencies_ns.len() as u64,
            elapsed: started.elapsed(),
            latencies_ns,
        })
    }
}
