//! Behind a real reverse proxy: nginx (Debian's package, installed by `.ci/run`), started here
//! on 127.0.0.1 with a generated configuration and stopped by its pid. What `Completed` means
//! depends on the proxy's buffering: with nginx's default buffering the proxy takes the whole
//! body whether or not its own client stays; with `proxy_buffering off` a client that leaves
//! makes nginx close the upstream connection, and the body is Aborted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use after_response::OutcomeKind::{Aborted, Completed};

use super::handlers::{self, BIG_LEN};
use super::harness::{read_at_least, read_to_end, within, Client, Proto, Server};

/// The nginx binary, or `None` (said loudly) when it is not installed.
fn nginx_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists());
    if found.is_none() {
        eprintln!(
            "SKIPPED: nginx is not installed (.ci/run installs it: apt-get install -y nginx-light)"
        );
    }
    found
}

/// An nginx process proxying to `upstream`; killed by its pid when dropped.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Nginx {
    async fn start(binary: &Path, upstream: SocketAddr, extra: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "nginx-{}-{}",
            std::process::id(),
            upstream.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A free port for nginx: taken from the kernel, then released for nginx to bind.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/client_body;\n\
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
             proxy_pass http://{upstream};\n      {extra}\n    }}\n  }}\n}}\n"
        );
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut nginx = Self { child, addr, dir };
        within("nginx to listen", async {
            while tokio::net::TcpStream::connect(addr).await.is_err() {
                if let Some(status) = nginx.child.try_wait().unwrap() {
                    let log = std::fs::read_to_string(nginx.dir.join("error.log"));
                    panic!("nginx exited with {status}: {log:?}");
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        nginx
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Our own child, by its pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads `/big` (20 MiB, one frame) through nginx to its end: Completed either way.
async fn read_all_through(extra: &str) {
    let Some(binary) = nginx_binary() else { return };
    let mut server = Server::start(handlers::router()).await;
    let nginx = Nginx::start(&binary, server.addr, extra).await;
    let mut client = Client::connect(Proto::Http11, nginx.addr).await;
    let response = client.get("/big").await;
    assert_eq!(
        read_to_end(response.into_body()).await.unwrap(),
        BIG_LEN as u64
    );
    let outcome = server
        .expect(&format!("nginx [{extra}] read all"), Completed)
        .await;
    assert_eq!(outcome.body_bytes(), BIG_LEN as u64);
}

/// Reads 1 MB of `path` through nginx, then hangs up; returns the upstream outcome.
async fn hang_up_through(extra: &str, path: &str) -> Option<after_response::Outcome> {
    let binary = nginx_binary()?;
    let mut server = Server::start(handlers::router()).await;
    let nginx = Nginx::start(&binary, server.addr, extra).await;
    let mut client = Client::connect(Proto::Http11, nginx.addr).await;
    let mut response = client.get(path).await;
    let read = read_at_least(response.body_mut(), 1_000_000).await;
    client.hang_up();
    drop(response);
    let outcome = server.outcome(&format!("nginx [{extra}] hang up")).await;
    eprintln!(
        "nginx [{extra}]: client read {read} of {BIG_LEN} and left; upstream outcome {} after \
         {} bytes",
        outcome.kind(),
        outcome.body_bytes()
    );
    Some(outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_a_client_that_reads_all_is_completed() {
    read_all_through("").await;
    read_all_through("proxy_buffering off;").await;
}

/// Default buffering: nginx reads the upstream body into its buffers and a temp file as fast
/// as the upstream sends, whatever its client does. A client that has read nothing of the body
/// yet: the upstream response is already Completed, 20 MiB taken. Completed means the proxy
/// has the body; its client may still leave (measured: a client that left after 1 MB was
/// reported Completed in 2 of 8 runs, Aborted after 11-16 MB in 6, by who noticed first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_buffering_nginx_completed_means_the_proxy_has_it() {
    let Some(binary) = nginx_binary() else { return };
    let mut server = Server::start(handlers::router()).await;
    let nginx = Nginx::start(&binary, server.addr, "").await;
    let mut client = Client::connect(Proto::Http11, nginx.addr).await;
    let response = client.get("/big").await;
    // The client reads no body byte before the upstream outcome is known.
    let outcome = server
        .expect("nginx buffering, client not reading", Completed)
        .await;
    assert_eq!(outcome.body_bytes(), BIG_LEN as u64);
    eprintln!("nginx (default buffering): upstream Completed with {BIG_LEN} bytes before its client read a byte");
    client.hang_up();
    drop(response);
    // A client that leaves part-way: reported, not asserted (a race inside nginx).
    if let Some(outcome) = hang_up_through("", "/big").await {
        eprintln!(
            "nginx (default buffering), client left after 1 MB: {}",
            outcome.kind()
        );
    }
}

/// `proxy_buffering off`: nginx passes the body on as its client reads it; when the client
/// leaves, nginx closes the upstream connection and the body is Aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_unbuffered_nginx_a_client_that_leaves_is_aborted() {
    let Some(outcome) = hang_up_through("proxy_buffering off;", "/big").await else {
        return;
    };
    assert_eq!(outcome.kind(), Aborted, "{outcome:?}");
    assert!(outcome.body_bytes() < BIG_LEN as u64);
}

/// The per-response switch: a handler that sends `X-Accel-Buffering: no` gets the unbuffered
/// behaviour under nginx's default configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_x_accel_buffering_no_makes_a_leaving_client_aborted() {
    let Some(outcome) = hang_up_through("", "/big-unbuffered").await else {
        return;
    };
    assert_eq!(outcome.kind(), Aborted, "{outcome:?}");
}
