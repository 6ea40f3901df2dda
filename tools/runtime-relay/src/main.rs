//! `runtime-relay`: a cargo runner for the local stack that puts a relay between a function and
//! `cargo lambda watch`'s Runtime API emulation (README, "Reliability": the local stack's stall).
//!
//! ```text
//! CARGO_TARGET_<HOST>_RUNNER=target/debug/runtime-relay cargo lambda watch ...
//! runtime-relay BINARY [ARGS...]
//! ```
//!
//! Why: `cargo lambda watch` (1.8.6 .. 1.9.2) answers `POST /runtime/invocation/{id}/response`
//! with `200` before it has read the response body, and reads the body afterwards from the task
//! that answers the HTTP client. `lambda_runtime`'s client sends its next `GET .../next` on a
//! second connection while the first one still carries the body; while that first connection
//! stays open the emulator never sees the end of the body (the HTTP client waits forever), and when
//! it is closed the emulator answers its own 500. Bodies that arrive with the request head (tens of
//! KB) are not affected; multi-megabyte ones nearly always are. Reproduction:
//! `docs/upstream/watch-early-response/`.
//!
//! What the relay does: it starts `BINARY` with `AWS_LAMBDA_RUNTIME_API` pointing at itself
//! (127.0.0.1, a free port), reads each request of the function completely, and forwards it to
//! the emulator over ONE HTTP/2 connection (cleartext, prior knowledge; watch's server speaks both
//! versions). Each call is then its own stream with its own flow control: the emulator's late,
//! lazy read of a response body can neither hold up the function's next `GET .../next` (HTTP/1
//! queues it behind the unread body on the same connection) nor lose it (when the emulator stops
//! reading a body whose HTTP client went away, HTTP/1 closes the whole connection, and with it the
//! instance's pending `next`; HTTP/2 resets only that stream). One connection keeps the instance's
//! identity, which watch derives from the peer address. Real Lambda (RAPID) reads a response
//! before it acknowledges it, so deployed functions need none of this; the relay never ships (it
//! is not in `template.yaml`) and changes nothing the function sees but the address.
//!
//! Without `AWS_LAMBDA_RUNTIME_API` in its environment (a plain `cargo run` of a tool), it just
//! runs `BINARY`. It exits with the function's exit status.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::server::conn::http1 as server_http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::Mutex;

const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// The one upstream HTTP/2 connection, opened on first use and again after it fails.
struct Upstream {
    authority: String,
    sender: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl Upstream {
    /// The live connection's handle, connecting first when there is none (or it has closed).
    async fn connection(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let mut slot = self.sender.lock().await;
        if let Some(sender) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| format!("connect {}: {e}", self.authority))?;
        stream.set_nodelay(true).ok();
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .map_err(|e| format!("HTTP/2 handshake with {}: {e}", self.authority))?;
        tokio::spawn(connection);
        *slot = Some(sender.clone());
        Ok(sender)
    }

    /// Sends one whole request as its own stream and reads the whole response.
    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Full<Bytes>>, String> {
        let mut sender = self.connection().await?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

/// Reads the function's request whole, relays it, and answers with the emulator's answer. The
/// exchange runs in its own task so that a function going away mid-call cannot cut it in half.
async fn relay(
    upstream: Arc<Upstream>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return Ok(bad_gateway(format!("reading the function's request: {e}"))),
    };
    // HTTP/2 names the target in `:scheme`/`:authority` (RFC 9113, 8.3.1) and forbids HTTP/1's
    // connection-specific fields (8.2.2).
    for name in [
        http::header::HOST,
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
    ] {
        parts.headers.remove(name);
    }
    parts.headers.remove("keep-alive");
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = match format!("http://{}{path}", upstream.authority).parse() {
        Ok(uri) => uri,
        Err(e) => return Ok(bad_gateway(format!("relayed URI: {e}"))),
    };
    let request = Request::from_parts(parts, Full::new(body));
    let exchange = tokio::spawn(async move { upstream.exchange(request).await });
    Ok(match exchange.await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => bad_gateway(e),
        Err(e) => bad_gateway(e.to_string()),
    })
}

fn bad_gateway(reason: String) -> Response<Full<Bytes>> {
    eprintln!("runtime-relay: {reason}");
    let mut response = Response::new(Full::new(Bytes::from(reason)));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

async fn serve(listener: TcpListener, upstream: Arc<Upstream>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        stream.set_nodelay(true).ok();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| relay(upstream.clone(), request));
            let _ = server_http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(binary) = args.next() else {
        eprintln!("usage: runtime-relay BINARY [ARGS...]");
        return ExitCode::from(2);
    };
    let mut command = Command::new(&binary);
    command.args(args);

    if let Ok(api) = std::env::var(RUNTIME_API) {
        // `[http://]host:port[/prefix]`: watch gives `http://127.0.0.1:9000/.rt/NAME`, Lambda
        // `127.0.0.1:9001`. The function gets the same shape with our address in it.
        let (scheme, api) = api
            .split_once("://")
            .map_or(("", api.as_str()), |(s, a)| (s, a));
        let (authority, path) = api.split_once('/').map_or((api, ""), |(a, p)| (a, p));
        let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("runtime-relay: binding 127.0.0.1: {e}");
                return ExitCode::FAILURE;
            }
        };
        let local = listener
            .local_addr()
            .expect("bound listener has an address");
        let scheme = if scheme.is_empty() {
            String::new()
        } else {
            format!("{scheme}://")
        };
        let relayed = if path.is_empty() {
            format!("{scheme}{local}")
        } else {
            format!("{scheme}{local}/{path}")
        };
        command.env(RUNTIME_API, relayed);
        let upstream = Arc::new(Upstream {
            authority: authority.to_string(),
            sender: Mutex::new(None),
        });
        tokio::spawn(serve(listener, upstream));
    }

    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("runtime-relay: starting {}: {e}", binary.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    // watch stops an instance by signalling its process group, which the function shares with us.
    match child.wait().await {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(code as u8),
            None => ExitCode::FAILURE,
        },
        Err(_) => ExitCode::FAILURE,
    }
}
