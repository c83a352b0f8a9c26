//! A `Result` handler that sends the welcome e-mail after the response, through a trait object.
//!
//! - The e-mail is registered only once the user exists: a `defer! {}` block runs when the
//!   response was *delivered*, whatever its status, so register work after the fallible steps
//!   (or [`cancel`](after_response::DeferHandle::cancel) it when a later step fails).
//! - The mailer is an `Arc<dyn Mailer>` in the app state: swap in a fake one in tests.
//! - A block may end in `Result<(), E: Display>`: a failed send is logged with the handler's name.
//!
//! Run with `cargo run --example signup_email`; it exits by itself.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use after_response::{after_response, defer};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

/// Sends e-mail. Object-safe (a boxed future), so handlers hold an `Arc<dyn Mailer>`.
trait Mailer: Send + Sync + 'static {
    fn send_welcome<'a>(
        &'a self,
        to: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;
}

#[derive(Debug)]
struct MailError(String);

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mail server said: {}", self.0)
    }
}

/// A stand-in for SMTP: slow, and it refuses one domain.
struct SlowSmtp;

impl Mailer for SlowSmtp {
    fn send_welcome<'a>(
        &'a self,
        to: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if to.ends_with("@bounce.invalid") {
                return Err(MailError(format!("550 no such mailbox <{to}>")));
            }
            println!("[mailer] welcome e-mail sent to {to}");
            Ok(())
        })
    }
}

#[derive(Clone)]
struct App {
    mailer: Arc<dyn Mailer>,
    users: Arc<Mutex<HashSet<String>>>,
}

#[derive(Deserialize)]
struct Signup {
    email: String,
}

#[derive(Serialize)]
struct User {
    email: String,
}

enum AppError {
    EmailTaken,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::EmailTaken => (StatusCode::CONFLICT, "e-mail already registered").into_response(),
        }
    }
}

impl App {
    fn create(&self, form: Signup) -> Result<User, AppError> {
        let mut users = self.users.lock().expect("users lock");
        if !users.insert(form.email.clone()) {
            return Err(AppError::EmailTaken);
        }
        Ok(User { email: form.email })
    }
}

#[after_response]
async fn signup(
    State(app): State<App>,
    Json(form): Json<Signup>,
) -> Result<(StatusCode, Json<User>), AppError> {
    let user = app.create(form)?; // an `Err` here returns before any e-mail is registered

    let mailer = Arc::clone(&app.mailer);
    let to = user.email.clone();
    defer! {
        // Runs once the 201 has been handed to the client; the client never waits for SMTP.
        mailer.send_welcome(&to).await
    }
    Ok((StatusCode::CREATED, Json(user)))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .init();

    let app = App {
        mailer: Arc::new(SlowSmtp),
        users: Arc::default(),
    };
    let router = Router::new().route("/signup", post(signup)).with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("listening on http://{addr}");

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for email in ["ada@example.com", "ada@example.com", "grace@bounce.invalid"] {
        let request = http::Request::post(format!("http://{addr}/signup"))
            .header("content-type", "application/json")
            .body(Full::from(format!(r#"{{"email":"{email}"}}"#)))
            .expect("request");
        let response = client.request(request).await.expect("signup request");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        println!("[client] POST /signup {email} -> {status} {body:?}");
    }

    // The responses are all in; the e-mails are still being sent. Wait for them.
    let report = after_response::shutdown(Duration::from_secs(5)).await;
    println!("[main] deferred work drained: {report:?}");
    let stats = after_response::stats();
    println!(
        "[main] e-mails: {} sent, {} failed (the 409 registered none)",
        stats.finished, stats.failed
    );
    assert!(report.is_complete());
    assert_eq!((stats.finished, stats.failed), (1, 1));
    server.abort();
}
