//! The relay as the local stack runs it: the real binary between moto (S3 notifications to an SQS
//! queue) and an invoke endpoint. The endpoint is a recording server in this test, so the relay's
//! own behaviour is what is checked: polling, completing and forwarding events, deleting a message
//! only when the invocation succeeded, redelivery after a failure, the dead-letter queue after
//! three, and a clean stop on SIGTERM. (The finalize function through `cargo lambda watch` is
//! tested by the service's end-to-end tests.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_sqs::types::QueueAttributeName as Attr;
use percent_encoding::percent_decode_str;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FUNCTION: &str = "upload-finalize";

fn endpoint() -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var("REQUIRE_LOCAL_AWS").is_ok_and(|v| v == "1") => {
            panic!("AWS_ENDPOINT_URL is not set but REQUIRE_LOCAL_AWS=1; run scripts/test.sh")
        }
        _ => {
            eprintln!("skipped: AWS_ENDPOINT_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

async fn local_clients(endpoint: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .endpoint_url(endpoint)
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    (s3, aws_sdk_sqs::Client::new(&sdk))
}

/// A bucket whose `staging/` objects notify a queue with a dead-letter queue after 3 receives, as
/// `asset-admin setup` makes them (its own test checks that), but with a 1 s visibility timeout so
/// redeliveries come quickly. Returns the queue's and the dead-letter queue's URLs.
async fn staging_bucket(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    bucket: &str,
) -> (String, String) {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let mut queues = Vec::new();
    for name in [format!("{bucket}-events-dlq"), format!("{bucket}-events")] {
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(Attr::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&Attr::QueueArn]
            .clone();
        queues.push((url, arn));
    }
    let [(dlq_url, dlq_arn), (queue_url, queue_arn)] = <[_; 2]>::try_from(queues).unwrap();
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(Attr::VisibilityTimeout, "1")
        .attributes(
            Attr::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let filter = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(
                    FilterRule::builder()
                        .name(FilterRuleName::Prefix)
                        .value("staging/")
                        .build(),
                )
                .build(),
        )
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .id("staging-object-created")
                        .queue_arn(queue_arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .filter(filter)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    (queue_url, dlq_url)
}

/// One request as the recording server saw it.
#[derive(Clone, Debug)]
struct Invocation {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
    /// The first record's object key, decoded.
    key: String,
}

type Recorder = Arc<Mutex<Vec<Invocation>>>;

/// What the recording server answers the `n`th invocation (from 1) for `key`: (status, extra
/// header, body).
fn answer(key: &str, n: usize) -> (u16, &'static str, &'static str) {
    const FUNCTION_ERROR: &str =
        r#"{"errorType":"FinalizeError","errorMessage":"secret-detail of the failure"}"#;
    match (key, n) {
        ("staging/once fails+1 é.jpg", 1) => (500, "", FUNCTION_ERROR),
        ("staging/function-error", 1) => {
            (200, "X-Amz-Function-Error: Unhandled\r\n", FUNCTION_ERROR)
        }
        ("staging/poison", _) => (500, "", FUNCTION_ERROR),
        _ => (200, "", "null"),
    }
}

fn decode_key(encoded: &str) -> String {
    percent_decode_str(&encoded.replace('+', " "))
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// A minimal HTTP/1.1 server: reads one request per connection (head, then `Content-Length`
/// bytes), records it, answers per [`answer`] and closes.
async fn serve(listener: TcpListener, recorder: Recorder) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let recorder = recorder.clone();
        tokio::spawn(async move { exchange(stream, recorder).await });
    }
}

async fn exchange(mut stream: TcpStream, recorder: Recorder) {
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside the request head");
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let (method, path) = (
        request_line.next().unwrap().to_owned(),
        request_line.next().unwrap().to_owned(),
    );
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers["content-length"].parse().unwrap();
    while data.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside the request body");
        data.extend_from_slice(&chunk[..n]);
    }
    let body = data[head_end..head_end + length].to_vec();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = decode_key(
        json["Records"][0]["s3"]["object"]["key"]
            .as_str()
            .unwrap_or(""),
    );
    let n = {
        let mut recorded = recorder.lock().unwrap();
        recorded.push(Invocation {
            method,
            path,
            content_type: headers.get("content-type").cloned(),
            body,
            key: key.clone(),
        });
        recorded.iter().filter(|i| i.key == key).count()
    };
    let (status, extra, body) = answer(&key, n);
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
    stream.shutdown().await.ok();
}

/// The relay binary, its stderr in a file; killed on drop if the test fails before stopping it.
struct RelayProcess {
    child: Child,
    log: PathBuf,
}

impl RelayProcess {
    fn start(queue: &str, invoke_base: &str, log_name: &str) -> Self {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(log_name);
        let child = Command::new(env!("CARGO_BIN_EXE_s3-event-relay"))
            .args([
                "--queue",
                queue,
                "--watch",
                invoke_base,
                "--function",
                FUNCTION,
            ])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the relay starts");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// SIGTERM, then its exit status (killed after 30 s so a hang fails instead of blocking).
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the relay did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn queue_counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Attr::ApproximateNumberOfMessages)
        .attribute_names(Attr::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let count = |a: &Attr| attributes[a].parse::<u64>().unwrap();
    (
        count(&Attr::ApproximateNumberOfMessages),
        count(&Attr::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_function_until_it_handles_them() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let (s3, sqs) = local_clients(&endpoint).await;
    let bucket = format!("relay-e2e-{}", std::process::id());
    let (queue, dead_letters) = staging_bucket(&s3, &sqs, &bucket).await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let invoke_base = format!("http://{}", listener.local_addr().unwrap());
    let recorder = Recorder::default();
    tokio::spawn(serve(listener, recorder.clone()));
    let mut relay = RelayProcess::start(&queue, &invoke_base, &format!("{bucket}.log"));

    let objects: [(&str, &[u8]); 5] = [
        ("staging/ok", b"one"),
        ("staging/once fails+1 é.jpg", b"two!"),
        ("staging/function-error", b"three"),
        ("staging/poison", b"four"),
        ("companies/c/assets/a/original", b"not staged"),
    ];
    for (key, bytes) in objects {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(bytes.to_vec().into())
            .send()
            .await
            .unwrap();
    }

    // Done when nothing is left in the queue, in flight or not, and the poison message has moved
    // to the dead-letter queue (moto moves it at the first receive after its third).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let drained = queue_counts(&sqs, &queue).await == (0, 0);
        let dead = queue_counts(&sqs, &dead_letters).await;
        if drained && dead == (1, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queue not drained: {:?}, dead letters {dead:?}; invocations {:?}; relay log:\n{}",
            queue_counts(&sqs, &queue).await,
            recorder
                .lock()
                .unwrap()
                .iter()
                .map(|i| &i.key)
                .collect::<Vec<_>>(),
            relay.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let invocations = recorder.lock().unwrap().clone();
    let times = |key: &str| invocations.iter().filter(|i| i.key == key).count();
    assert_eq!(times("staging/ok"), 1, "handled at once");
    assert_eq!(
        times("staging/once fails+1 é.jpg"),
        2,
        "500 once, then handled"
    );
    assert_eq!(
        times("staging/function-error"),
        2,
        "function error once, then handled"
    );
    assert_eq!(
        times("staging/poison"),
        3,
        "three attempts, then the dead-letter queue"
    );
    assert_eq!(
        invocations.len(),
        8,
        "nothing else (no test event, nothing outside staging/): {invocations:?}"
    );

    for invocation in &invocations {
        assert_eq!(invocation.method, "POST");
        assert_eq!(
            invocation.path,
            "/2015-03-31/functions/upload-finalize/invocations"
        );
        assert_eq!(invocation.content_type.as_deref(), Some("application/json"));
        // What `lambda_runtime` will parse the function's event into.
        let event: S3Event = serde_json::from_slice(&invocation.body).unwrap();
        let [record] = &event.records[..] else {
            panic!("one record: {event:?}");
        };
        assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
        assert_eq!(record.s3.bucket.name.as_deref(), Some(bucket.as_str()));
        assert_eq!(
            record.s3.configuration_id.as_deref(),
            Some("staging-object-created")
        );
        let (_, bytes) = objects
            .iter()
            .find(|(key, _)| *key == invocation.key)
            .unwrap();
        assert_eq!(record.s3.object.size, Some(bytes.len() as i64));
    }

    let dead = sqs
        .receive_message()
        .queue_url(&dead_letters)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(dead[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        decode_key(body["Records"][0]["s3"]["object"]["key"].as_str().unwrap()),
        "staging/poison"
    );

    assert!(relay.terminate().success());
    let log = relay.log();
    for expected in [
        "s3:TestEvent",
        r#"key="staging/ok""#,
        r#"key="staging/once fails+1 é.jpg""#,
        r#"outcome="handled""#,
        r#"outcome="failed""#,
        "invocation answered 500 (FinalizeError)",
        "function error: Unhandled, FinalizeError",
        "stopping",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} not in the relay log:\n{log}"
        );
    }
    assert!(
        !log.contains("secret-detail"),
        "function error messages are not logged:\n{log}"
    );
}

#[test]
fn refuses_without_a_local_stack_or_a_queue() {
    let relay = env!("CARGO_BIN_EXE_s3-event-relay");
    let run = |command: &mut Command| {
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8(output.stderr).unwrap()
    };
    let no_endpoint = run(Command::new(relay)
        .args([
            "--queue",
            "q",
            "--watch",
            "http://127.0.0.1:1",
            "--function",
            FUNCTION,
        ])
        .env_remove("AWS_ENDPOINT_URL"));
    assert!(no_endpoint.contains("local stack only"), "{no_endpoint}");
    let usage = run(Command::new(relay).args(["--queue", "q"]));
    assert!(usage.contains("usage:"), "{usage}");

    if endpoint().is_none() {
        return;
    }
    let queue = format!("relay-missing-{}", std::process::id());
    let missing = run(Command::new(relay).args([
        "--queue",
        &queue,
        "--watch",
        "http://127.0.0.1:1",
        "--function",
        FUNCTION,
    ]));
    assert!(missing.contains(&format!("queue {queue}")), "{missing}");
}
