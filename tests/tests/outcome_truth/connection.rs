//! Connection-level shapes where the bytes on the wire matter: raw HTTP/1.x over TCP, and the
//! WebSocket upgrade.

use after_response::OutcomeKind::Completed;
use futures_util::{SinkExt as _, StreamExt as _};
use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use super::handlers::{self, GATE};
use super::harness::{within, Server};

/// Reads until `needle` has arrived; returns everything read.
async fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    within(needle, async {
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(
                read > 0,
                "closed before {needle:?}: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buffer[..read]);
        }
    })
    .await;
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_without_keep_alive_is_completed_and_closed() {
    let mut server = Server::start(handlers::router()).await;
    for path in ["/small", "/stream"] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        // The server closes the connection after the response: read to EOF.
        within("the server to close", stream.read_to_end(&mut response))
            .await
            .unwrap();
        assert!(response.starts_with(b"HTTP/1.0 200 OK\r\n"), "{path}");
        let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let outcome = server.expect(&format!("HTTP/1.0 {path}"), Completed).await;
        assert_eq!(
            outcome.body_bytes(),
            (response.len() - head_end) as u64,
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_second_response_never_waits_for_the_first_block() {
    let mut server = Server::start(handlers::router()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let both = "GET /gated HTTP/1.1\r\nHost: localhost\r\n\r\nGET /small HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(both.as_bytes()).await.unwrap();
    // Both responses arrive while the first response's plain block is still waiting.
    let responses = read_until(&mut stream, "small").await;
    assert!(responses.contains("gated"), "{responses}");
    assert_eq!(
        GATE.available_permits(),
        0,
        "the first block is still waiting"
    );
    GATE.add_permits(1);
    let outcomes = server.outcomes("pipelined", 2).await;
    assert!(
        outcomes.iter().all(|o| o.kind() == Completed),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_is_completed() {
    let mut server = Server::start(handlers::router()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    read_until(&mut stream, "HTTP/1.1 100 Continue\r\n\r\n").await;
    stream.write_all(b"hello").await.unwrap();
    let response = read_until(&mut stream, "\r\n\r\nhello").await;
    assert!(response.contains("HTTP/1.1 200 OK"), "{response}");
    let outcome = server.expect("100-continue", Completed).await;
    assert_eq!(outcome.body_bytes(), 5);
}

/// A 101 has no body: Completed means the switch was handed to the connection. The session
/// that follows is not the response; work for its end belongs in the `on_upgrade` callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_is_completed_at_the_101() {
    let mut server = Server::start(handlers::router()).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut socket, response) = within(
        "the upgrade",
        tokio_tungstenite::client_async("ws://localhost/ws", stream),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    // Completed while the session is still open.
    let outcome = server.expect("websocket 101", Completed).await;
    assert_eq!(outcome.status(), Some(StatusCode::SWITCHING_PROTOCOLS));
    assert_eq!(outcome.body_bytes(), 0);
    socket.send(Message::text("ping")).await.unwrap();
    let echoed = within("the echo", socket.next()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("ping"));
}
