//! The server side: one tokio runtime (its own threads, counted by the allocator) serving each
//! variant on its own loopback listener.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use axum::serve::ListenerExt as _;
use axum::Router;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

use crate::alloc;

/// The name of the server runtime's threads.
pub const THREAD_NAME: &str = "bench-server";

/// The server runtime; dropping it stops every server.
pub struct Server {
    runtime: Runtime,
}

impl Server {
    /// A multi-thread runtime with `workers` worker threads (1 on a 2-core machine: the
    /// client gets the other core).
    ///
    /// With `--features metrics` it also installs a Prometheus recorder, so that every deferred
    /// block is counted and timed into a real one (the facade's default recorder does nothing).
    pub fn new(workers: usize) -> io::Result<Self> {
        #[cfg(feature = "metrics")]
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(io::Error::other)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(THREAD_NAME)
            .on_thread_start(alloc::mark_server_thread)
            .enable_all()
            .build()?;
        Ok(Self { runtime })
    }

    /// Serves `router` on `127.0.0.1:0` (`TCP_NODELAY` on) and returns its address.
    pub fn serve(&self, router: Router) -> io::Result<SocketAddr> {
        let listener = self
            .runtime
            .block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        self.runtime.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("server on {addr} stopped: {error}");
            }
        });
        Ok(addr)
    }
}
