//! An audit line for every request, written after the response, whatever happened to it.
//!
//! `defer!(|outcome| ..)` runs always (completed, aborted, cancelled, panicked) and is told the
//! status and how many body bytes reached the connection: what an access or audit log needs,
//! written off the request path.
//!
//! Run with `cargo run --example audit_log`; it exits by itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use after_response::{after_response, defer, Outcome};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

/// Appends one line per request to a file; tells `main` each time it wrote one.
struct AuditLog {
    path: PathBuf,
    written: mpsc::UnboundedSender<()>,
}

impl AuditLog {
    async fn write(&self, request: &str, outcome: Outcome) -> std::io::Result<()> {
        let status = outcome
            .status()
            .map_or_else(|| "-".to_owned(), |status| status.as_u16().to_string());
        let line = format!(
            "{request:<28} {kind:<9} status={status} bytes={bytes} elapsed_us={elapsed}\n",
            kind = outcome.kind(),
            bytes = outcome.body_bytes(),
            elapsed = outcome.elapsed().as_micros(),
        );
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await?;
        file.write_all(line.as_bytes()).await?;
        let _ = self.written.send(());
        Ok(())
    }
}

#[after_response]
async fn file(
    State(audit): State<Arc<AuditLog>>,
    method: http::Method,
    Path(name): Path<String>,
) -> Response {
    let request = format!("{method} /files/{name}");
    defer!(|outcome| {
        // Ends in `io::Result<()>`: a failed write is logged, never lost silently.
        audit.write(&request, outcome).await
    });
    match name.as_str() {
        "readme.txt" => "Deferred work runs after the response.\n".into_response(),
        "big.iso" => {
            // A long download, one chunk at a time.
            let chunks = futures_util::stream::unfold(0u32, |sent| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((
                    Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 4096])),
                    sent + 1,
                ))
            });
            Body::from_stream(chunks).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .init();

    let path =
        std::env::temp_dir().join(format!("after-response-audit-{}.log", std::process::id()));
    let (written, mut lines) = mpsc::unbounded_channel();
    let audit = Arc::new(AuditLog {
        path: path.clone(),
        written,
    });
    let router = Router::new()
        .route("/files/{name}", get(file))
        .with_state(audit);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!(
        "listening on http://{addr}, audit log at {}",
        path.display()
    );

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for (method, name) in [
        (http::Method::GET, "readme.txt"),
        (http::Method::HEAD, "readme.txt"),
        (http::Method::GET, "missing.txt"),
    ] {
        let request = http::Request::builder()
            .method(method.clone())
            .uri(format!("http://{addr}/files/{name}"))
            .body(Empty::new())
            .expect("request");
        let response = client.request(request).await.expect("request");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        println!(
            "[client] {method} /files/{name} -> {status}, {} body bytes",
            body.len()
        );
    }

    // A client that gives up on the download after the first bytes.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /files/big.iso HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("send");
    let mut buffer = vec![0; 64 * 1024];
    let read = stream.read(&mut buffer).await.expect("read");
    println!("[client] GET /files/big.iso -> read {read} bytes, hanging up");
    drop(stream);

    // Wait for the four audit lines (bounded), then show the file.
    for _ in 0..4 {
        tokio::time::timeout(Duration::from_secs(5), lines.recv())
            .await
            .expect("an audit line within 5 s")
            .expect("audit log alive");
    }
    let log = tokio::fs::read_to_string(&path)
        .await
        .expect("read the audit log");
    println!("--- {} ---\n{log}---", path.display());
    let _ = tokio::fs::remove_file(&path).await;
    assert_eq!(log.lines().count(), 4);
    assert!(log.contains("aborted"), "the hang-up is logged as aborted");
    server.abort();
}
