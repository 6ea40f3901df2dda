//! Cold-start harness. For each function binary it starts a minimal Lambda Runtime API on loopback,
//! spawns the binary with the environment Lambda gives a function (region, credentials, log settings;
//! no local endpoint), and measures:
//!
//! - `poll`:  process start -> its first `GET /runtime/invocation/next` (init done);
//! - `first`: process start -> its answer to a first invocation that needs no storage;
//! - `warm`:  a second invocation, from handing it over to its answer.
//!
//! ```text
//! lambda-bench [--runs N] NAME=PATH_TO_BINARY...
//! ```
//!
//! The invocations are chosen to need no AWS call (a request without an API key to an upload, a
//! malformed key to the GET), so the numbers are the binary's own start-up and request cost.
//!
//! A second mode checks large answers under the deployed shape (this harness, like Lambda's own
//! Runtime API, reads a response whole before acknowledging it; README, "Reliability"):
//!
//! ```text
//! lambda-bench responses --event FILE --min-bytes N --instances K --invocations M NAME=PATH
//! ```
//!
//! starts K instances of the binary at once (with this process's AWS_* and ASSETS_* environment,
//! so it can reach a local stand-in), hands each M copies of the API Gateway event in FILE one
//! after another, and fails unless every answer is a 200 whose body is at least N bytes.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Socket, Type};
use tiny_http::{Header, Response, Server};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const TIMEOUT: Duration = Duration::from_secs(20);

struct Sample {
    poll: Duration,
    first: Duration,
    warm: Duration,
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "responses") {
        return responses(&args[1..]);
    }
    let mut runs = 20;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .expect("--runs N");
        args.drain(i..=i + 1);
    }
    if args.is_empty() {
        eprintln!("usage: lambda-bench [--runs N] NAME=PATH_TO_BINARY...");
        std::process::exit(2);
    }
    println!(
        "{:<16} {:>5} {:>12} {:>12} {:>12}   (medians of {runs} cold starts; min..max)",
        "function", "runs", "first poll", "first answer", "warm answer"
    );
    for arg in &args {
        let (name, path) = arg.split_once('=').expect("NAME=PATH");
        let samples: Vec<Sample> = (0..runs).map(|_| cold_start(name, path)).collect();
        let stat = |pick: fn(&Sample) -> Duration| {
            let mut values: Vec<Duration> = samples.iter().map(pick).collect();
            values.sort();
            format!("{:>6.2} ms", values[values.len() / 2].as_secs_f64() * 1e3)
        };
        let range = |pick: fn(&Sample) -> Duration| {
            let values: Vec<f64> = samples
                .iter()
                .map(|s| pick(s).as_secs_f64() * 1e3)
                .collect();
            let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = values.iter().cloned().fold(0.0, f64::max);
            format!("{min:.2}..{max:.2}")
        };
        println!(
            "{name:<16} {runs:>5} {:>12} {:>12} {:>12}   poll {} first {} warm {}",
            stat(|s| s.poll),
            stat(|s| s.first),
            stat(|s| s.warm),
            range(|s| s.poll),
            range(|s| s.first),
            range(|s| s.warm),
        );
    }
}

fn event(name: &str) -> String {
    let (method, path) = if name.starts_with("upload") {
        let visibility = name.trim_start_matches("upload-");
        ("POST", format!("/api/v1/partner/asset/upload/{visibility}"))
    } else {
        ("GET", "/api/v1/partner/asset/not-a-key".to_owned())
    };
    serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc.execute-api.us-east-1.amazonaws.com", "content-type": "multipart/form-data; boundary=b"},
        "pathParameters": {"assetKey": "not-a-key"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench", "routeKey": format!("{method} {path}"), "stage": "$default", "timeEpoch": 0
        },
        "isBase64Encoded": false
    })
    .to_string()
}

fn spawn(name: &str, path: &str, port: u16) -> Child {
    Command::new(path)
        .env_clear()
        .envs([
            (
                "AWS_LAMBDA_RUNTIME_API",
                format!("127.0.0.1:{port}").as_str(),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0"),
            ("AWS_SECRET_ACCESS_KEY", "bench-secret"),
            ("AWS_SESSION_TOKEN", "bench-token"),
            ("ASSETS_TABLE", "assets"),
            ("ASSETS_BUCKET", "assets"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("_HANDLER", "bootstrap"),
            ("TZ", ":UTC"),
            // Amazon Linux 2023 keeps its roots in one bundle; rustls-native-certs reads it once.
            ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"))
}

fn expect(server: &Server, method: &str, path: &str) -> tiny_http::Request {
    let request = server
        .recv_timeout(TIMEOUT)
        .expect("runtime API")
        .unwrap_or_else(|| panic!("no {method} {path} within {TIMEOUT:?}"));
    assert_eq!(
        (request.method().as_str(), request.url()),
        (method, path),
        "unexpected runtime API call"
    );
    request
}

fn hand_over(request: tiny_http::Request, id: &str, body: &str) {
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(30);
    let headers = [
        ("Lambda-Runtime-Aws-Request-Id", id.to_owned()),
        (
            "Lambda-Runtime-Deadline-Ms",
            deadline.as_millis().to_string(),
        ),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
        ),
        (
            "Lambda-Runtime-Trace-Id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
        ("Content-Type", "application/json".to_owned()),
    ];
    let mut response = Response::from_string(body);
    for (name, value) in headers {
        response.add_header(Header::from_bytes(name, value).unwrap());
    }
    request.respond(response).expect("hand over event");
}

fn receive_answer(server: &Server, id: &str) -> u16 {
    let mut request = expect(
        server,
        "POST",
        &format!("/2018-06-01/runtime/invocation/{id}/response"),
    );
    let mut body = String::new();
    request.as_reader().read_to_string(&mut body).unwrap();
    request.respond(Response::empty(202)).unwrap();
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
    answer["statusCode"].as_u64().expect("statusCode") as u16
}

fn cold_start(name: &str, path: &str) -> Sample {
    // tiny_http writes headers and body separately; without TCP_NODELAY (inherited by accepted
    // sockets from the listener on Linux) Nagle's algorithm and the client's delayed ACK add ~40 ms
    // per kept-alive call that a real Runtime API does not.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_tcp_nodelay(true).expect("TCP_NODELAY");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind loopback");
    socket.listen(16).expect("listen");
    let server = Server::from_listener(TcpListener::from(socket), None).expect("runtime API");
    let port = server.server_addr().to_ip().unwrap().port();
    let event = event(name);
    let started = Instant::now();
    let mut child = spawn(name, path, port);

    let next = expect(&server, "GET", NEXT);
    let poll = started.elapsed();
    hand_over(next, "one", &event);
    let status = receive_answer(&server, "one");
    let first = started.elapsed();
    assert!(
        matches!(status, 401 | 404),
        "{name}: first answer was {status}"
    );

    let next = expect(&server, "GET", NEXT);
    let handed = Instant::now();
    hand_over(next, "two", &event);
    receive_answer(&server, "two");
    let warm = handed.elapsed();

    let _ = child.kill();
    let _ = child.wait();
    Sample { poll, first, warm }
}

/// `responses` mode: see the module docs.
fn responses(args: &[String]) {
    let value = |flag: &str| -> String {
        let i = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag} is required"));
        args.get(i + 1)
            .unwrap_or_else(|| panic!("{flag} needs a value"))
            .clone()
    };
    let event = std::fs::read_to_string(value("--event")).expect("readable --event file");
    let min_bytes: usize = value("--min-bytes").parse().expect("--min-bytes N");
    let instances: usize = value("--instances").parse().expect("--instances K");
    let invocations: usize = value("--invocations").parse().expect("--invocations M");
    let target = args.last().expect("NAME=PATH");
    let (name, path) = target.split_once('=').expect("NAME=PATH");
    let started = Instant::now();
    let workers: Vec<_> = (0..instances)
        .map(|instance| {
            let (event, name, path) = (event.clone(), name.to_owned(), path.to_owned());
            std::thread::spawn(move || {
                answer_large(&name, &path, &event, instance, invocations, min_bytes)
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    let mut bytes = 0;
    for worker in workers {
        let (worker_slowest, worker_bytes) = worker.join().expect("every answer arrived whole");
        slowest = slowest.max(worker_slowest);
        bytes = worker_bytes;
    }
    println!(
        "{name}: {instances} instance(s) x {invocations} invocation(s) answered 200 with {bytes} body bytes each; \
         slowest answer {:.1} ms, all in {:.2} s",
        slowest.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64()
    );
}

/// One instance: `invocations` events one after another; returns the slowest hand-over-to-answer
/// time and the decoded body size.
fn answer_large(
    name: &str,
    path: &str,
    event: &str,
    instance: usize,
    invocations: usize,
    min_bytes: usize,
) -> (Duration, usize) {
    let server = Server::http("127.0.0.1:0").expect("runtime API");
    let port = server.server_addr().to_ip().unwrap().port();
    let mut child = Command::new(path)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    let mut slowest = Duration::ZERO;
    let mut bytes = 0;
    for i in 0..invocations {
        let id = format!("{instance}-{i}");
        let next = expect(&server, "GET", NEXT);
        let handed = Instant::now();
        hand_over(next, &id, event);
        let mut request = expect(
            &server,
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
        );
        let mut body = String::new();
        request.as_reader().read_to_string(&mut body).unwrap();
        request.respond(Response::empty(202)).unwrap();
        slowest = slowest.max(handed.elapsed());
        let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
        assert_eq!(
            answer["statusCode"],
            200,
            "{id}: {}",
            &body[..body.len().min(300)]
        );
        let encoded = answer["body"].as_str().expect("a body");
        bytes = if answer["isBase64Encoded"] == true {
            encoded.len() / 4 * 3 - encoded.matches('=').count()
        } else {
            encoded.len()
        };
        assert!(
            bytes >= min_bytes,
            "{id}: {bytes} bytes, expected at least {min_bytes}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    (slowest, bytes)
}
