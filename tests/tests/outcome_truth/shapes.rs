//! One test per response shape and client behaviour, each on HTTP/1.0, HTTP/1.1 and HTTP/2
//! (where the shape exists there): the outcome is the one the client saw.

use after_response::OutcomeKind::{Aborted, Completed};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt as _, Full};

use super::handlers::{self, BIG_LEN, FILE_LEN, SHORT_ANNOUNCED, SHORT_SENT, SSE_EVENTS};
use super::harness::{read_at_least, read_to_end, Client, Proto, Server, PROTOCOLS};

/// How much a client that hangs up early reads first.
const READ_BEFORE_HANG_UP: u64 = 1024 * 1024;

/// GET `path`, read the whole body: Completed, with every byte counted.
async fn read_all_is_completed(path: &str, len: u64) {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        let case = format!("{path} read all over {proto:?}");
        let mut client = Client::connect(proto, server.addr).await;
        let response = client.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{case}");
        let read = read_to_end(response.into_body()).await.expect(&case);
        assert_eq!(read, len, "{case}");
        let outcome = server.expect(&case, Completed).await;
        assert_eq!(outcome.body_bytes(), len, "{case}");
    }
}

/// GET `path`, read some, hang up: Aborted, with the bytes the connection took.
async fn hang_up_is_aborted(path: &str, len: u64, read_first: u64) {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        let case = format!("{path} abandoned over {proto:?}");
        let mut client = Client::connect(proto, server.addr).await;
        let mut response = client.get(path).await;
        let read = read_at_least(response.body_mut(), read_first).await;
        client.hang_up();
        drop(response);
        let outcome = server.expect(&case, Aborted).await;
        assert!(
            (read..len).contains(&outcome.body_bytes()),
            "{case}: client read {read}, connection took {}",
            outcome.body_bytes()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_file_read_all_is_completed() {
    read_all_is_completed("/file", FILE_LEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_file_hang_up_is_aborted() {
    hang_up_is_aborted("/file", FILE_LEN, READ_BEFORE_HANG_UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dir_read_all_is_completed() {
    read_all_is_completed("/dir/big.bin", FILE_LEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dir_hang_up_is_aborted() {
    hang_up_is_aborted("/dir/big.bin", FILE_LEN, READ_BEFORE_HANG_UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_stream_with_content_length_read_all_is_completed() {
    read_all_is_completed("/reader", FILE_LEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_stream_with_content_length_hang_up_is_aborted() {
    hang_up_is_aborted("/reader", FILE_LEN, READ_BEFORE_HANG_UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_request_is_completed_with_the_range() {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        let case = format!("range over {proto:?}");
        let mut client = Client::connect(proto, server.addr).await;
        let request = client
            .request("/file")
            .header(http::header::RANGE, "bytes=1000-1999")
            .body(Full::default())
            .unwrap();
        let response = client.send(request).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{case}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let expected: Vec<u8> = (1000..2000).map(handlers::pattern).collect();
        assert_eq!(body, expected, "{case}");
        let outcome = server.expect(&case, Completed).await;
        assert_eq!(outcome.status(), Some(StatusCode::PARTIAL_CONTENT));
        assert_eq!(outcome.body_bytes(), 1000, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_short_of_its_content_length_is_aborted() {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        let case = format!("short body over {proto:?}");
        let mut client = Client::connect(proto, server.addr).await;
        let request = client.request("/short").body(Full::default()).unwrap();
        // The client never gets the response it was promised: the connection fails before the
        // head is complete (HTTP/1.x, as hyper closes it), or the body fails.
        if let Ok(response) = client.try_send(request).await {
            let length = response.headers()[http::header::CONTENT_LENGTH].clone();
            assert_eq!(length, SHORT_ANNOUNCED.to_string().as_str(), "{case}");
            assert!(read_to_end(response.into_body()).await.is_err(), "{case}");
        }
        let outcome = server.expect(&case, Aborted).await;
        assert_eq!(outcome.body_bytes(), SHORT_SENT as u64, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_single_frame_read_slowly_to_the_end_is_completed() {
    // The client's windows and buffers are 64 KiB: it takes the body slice by slice.
    read_all_is_completed("/big", BIG_LEN as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_single_frame_abandoned_at_5_mb_is_aborted() {
    hang_up_is_aborted("/big", BIG_LEN as u64, 5_000_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_sse_client_leaves_is_aborted() {
    hang_up_is_aborted("/sse-endless", u64::MAX, 4096).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finite_sse_that_ends_is_completed() {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        let case = format!("finite sse over {proto:?}");
        let mut client = Client::connect(proto, server.addr).await;
        let response = client.get("/sse-finite").await;
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(text.matches("data: event").count(), SSE_EVENTS, "{case}");
        let outcome = server.expect(&case, Completed).await;
        assert_eq!(outcome.body_bytes(), body.len() as u64, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_is_completed() {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        let case = format!("redirect over {proto:?}");
        let mut client = Client::connect(proto, server.addr).await;
        let response = client.get("/redirect").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{case}");
        assert_eq!(read_to_end(response.into_body()).await.unwrap(), 0);
        let outcome = server.expect(&case, Completed).await;
        assert_eq!(outcome.status(), Some(StatusCode::SEE_OTHER), "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_headers_json_is_completed() {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        let case = format!("(status, headers, json) over {proto:?}");
        let mut client = Client::connect(proto, server.addr).await;
        let response = client.get("/json").await;
        assert_eq!(response.status(), StatusCode::CREATED, "{case}");
        assert_eq!(response.headers()["x-shape"], "status-headers-json");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, Bytes::from_static(br#"{"count":3,"id":7}"#), "{case}");
        let outcome = server.expect(&case, Completed).await;
        assert_eq!(outcome.body_bytes(), body.len() as u64, "{case}");
    }
}

/// The bytes on the wire are the crate's business only in when the blocks fire: the same
/// framing headers and body with and without deferred work, on every protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_is_what_it_is_without_the_crate() {
    let mut server = Server::start(handlers::router()).await;
    for proto in PROTOCOLS {
        for (tracked, untracked) in [("/big", "/big-untracked"), ("/stream", "/stream-untracked")] {
            let case = format!("{tracked} over {proto:?}");
            let mut framing = Vec::new();
            for path in [tracked, untracked] {
                // HTTP/1.0 closes after each response: one connection per request.
                let mut client = Client::connect(proto, server.addr).await;
                let response = client.get(path).await;
                let headers = [
                    http::header::CONTENT_LENGTH,
                    http::header::TRANSFER_ENCODING,
                ]
                .map(|name| response.headers().get(name).cloned());
                let body = response.into_body().collect().await.unwrap().to_bytes();
                framing.push((headers, body));
            }
            assert_eq!(framing[0], framing[1], "{case}");
            server.expect(&case, Completed).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_rst_stream_mid_body_is_aborted_and_the_connection_serves_on() {
    let mut server = Server::start(handlers::router()).await;
    let mut client = Client::connect(Proto::Http2, server.addr).await;
    let mut response = client.get("/endless").await;
    read_at_least(response.body_mut(), 1).await;
    // Dropping an unfinished HTTP/2 response body resets its stream (RST_STREAM CANCEL).
    drop(response);
    let outcome = server.expect("reset stream", Aborted).await;
    assert_eq!(outcome.body_bytes(), 5);
    let response = client.get("/small").await;
    assert_eq!(read_to_end(response.into_body()).await.unwrap(), 5);
    server
        .expect("next stream on the same connection", Completed)
        .await;
}
