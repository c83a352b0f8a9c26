//! The cost of following a large single-frame body to the socket: a 20 MiB `Full` served with
//! and without one `defer!`. With a block, the crate hands the frame to hyper in 64 KiB slices
//! of the same buffer (320 slices, no copy) so that completion follows the socket; this section
//! only drives the requests: `bench/callgrind.sh` counts the server thread's instructions for a
//! run of each and divides the difference by the requests.

use std::sync::OnceLock;

use after_response::{after_response, defer};
use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;

use crate::client::{Conn, Error, Proto};
use crate::server::Server;

/// The body: 20 MiB in one frame.
pub const BIG_FRAME_LEN: usize = 20 * 1024 * 1024;
/// Requests per run (after one warm-up request).
pub const BIG_FRAME_REQUESTS: u64 = 10;

fn big() -> Bytes {
    static BIG: OnceLock<Bytes> = OnceLock::new();
    BIG.get_or_init(|| Bytes::from(vec![b'x'; BIG_FRAME_LEN]))
        .clone()
}

async fn plain() -> Body {
    Body::from(big())
}

#[after_response]
async fn one_defer() -> Body {
    defer! {
        crate::variants::WORK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Body::from(big())
}

/// `GET /` answers the 20 MiB body, with one block when `with_block`.
fn router(with_block: bool) -> Router {
    if with_block {
        Router::new().route("/", get(one_defer))
    } else {
        Router::new().route("/", get(plain))
    }
}

/// Serves one side of the pair on `server` (`--variant 3`: with one block; otherwise plain
/// axum) and drives it, printing the section.
pub fn serve_and_run(server: &Server, with_block: bool) -> Result<(), Error> {
    let addr = server.serve(router(with_block))?;
    let client = crate::client::runtime()?;
    println!("{}", client.block_on(run(addr))?);
    Ok(())
}

/// One warm-up request, then [`BIG_FRAME_REQUESTS`] sequential ones on one keep-alive
/// connection, each read to its end.
async fn run(addr: std::net::SocketAddr) -> Result<String, Error> {
    let mut conn = Conn::open(addr, Proto::Http1).await?;
    conn.get("/").await?;
    let started = std::time::Instant::now();
    for _ in 0..BIG_FRAME_REQUESTS {
        conn.get("/").await?;
    }
    Ok(format!(
        "## Big frame\n\n{BIG_FRAME_REQUESTS} sequential GETs of a {} MiB single-frame body: {:?}",
        BIG_FRAME_LEN >> 20,
        started.elapsed()
    ))
}
