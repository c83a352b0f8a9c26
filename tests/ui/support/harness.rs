//! The corpus' harness: each case's router served by a real axum server on 127.0.0.1:0, each
//! request sent by a real hyper client, and the response's deferred blocks awaited through its
//! completion handle (tapped by a layer) before the marks they left are counted.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use after_response::Completion;
use axum::Router;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

/// Upper bound for any single wait: a hang becomes a failure (not an assertion about speed).
const PATIENCE: Duration = Duration::from_secs(20);

/// How many deferred blocks of a case ran; each block calls [`Marks::mark`].
pub struct Marks(AtomicUsize);

impl Marks {
    pub const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    pub fn mark(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

/// One request and what must come of it.
pub struct Check {
    method: Method,
    uri: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Bytes,
    status: StatusCode,
    contains: &'static str,
    marks: usize,
}

impl Check {
    pub fn get(uri: &'static str) -> Self {
        Self {
            method: Method::GET,
            uri,
            headers: Vec::new(),
            body: Bytes::new(),
            status: StatusCode::OK,
            contains: "",
            marks: 0,
        }
    }

    /// A `POST` of `body` with this `content-type`.
    pub fn post(uri: &'static str, content_type: &'static str, body: &'static str) -> Self {
        Self {
            method: Method::POST,
            body: Bytes::from_static(body.as_bytes()),
            ..Self::get(uri)
        }
        .header("content-type", content_type)
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The status, a text the body must contain, and how many deferred blocks must have run
    /// once the response's completion handle resolved.
    pub fn expect(mut self, status: u16, contains: &'static str, marks: usize) -> Self {
        self.status = StatusCode::from_u16(status).expect("a status code");
        self.contains = contains;
        self.marks = marks;
        self
    }
}

/// Serves `router` and runs every check in order.
pub fn run(router: Router, marks: &Marks, checks: &[Check]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let (tap, mut completions) = mpsc::unbounded_channel();
        let router = router.layer(axum::middleware::map_response(
            move |response: axum::response::Response| {
                let tap = tap.clone();
                async move {
                    let _ = tap.send(Completion::of(&response));
                    response
                }
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        let server = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service).await.expect("serve");
        });
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        for check in checks {
            let mut request = Request::builder()
                .method(check.method.clone())
                .uri(format!("http://{addr}{}", check.uri));
            for (name, value) in &check.headers {
                request = request.header(*name, *value);
            }
            let request = request
                .body(Full::new(check.body.clone()))
                .expect("a request");
            let what = format!("{} {}", check.method, check.uri);
            let response = within(&what, client.request(request))
                .await
                .expect("a response");
            let status = response.status();
            let body = within(&what, response.into_body().collect())
                .await
                .expect("the body")
                .to_bytes();
            let body = String::from_utf8_lossy(&body);
            assert_eq!(status, check.status, "{what}: {body}");
            assert!(
                body.contains(check.contains),
                "{what}: {body:?} lacks {:?}",
                check.contains
            );
            let completion = within(&what, completions.recv())
                .await
                .expect("a completion");
            within(&what, completion.wait()).await;
            assert_eq!(
                marks.take(),
                check.marks,
                "{what}: deferred blocks that ran"
            );
        }
        server.abort();
    });
}

async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}
