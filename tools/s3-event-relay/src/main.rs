//! `s3-event-relay`: the local stack's S3 -> Lambda. In AWS the bucket's event notification invokes
//! the finalize function for every object created under `staging/`; moto cannot invoke a function
//! run by `cargo lambda watch`, but it can put the same notification on an SQS queue
//! (`asset-admin setup` configures both locally). This relay long-polls that queue and invokes the
//! function through watch with each event, as S3 would. Never deployed (not in `template.yaml`).
//!
//! ```text
//! s3-event-relay --queue NAME_OR_URL --watch http://127.0.0.1:9000 --function upload-finalize
//!                [--invoke-timeout SECONDS]
//! ```
//!
//! AWS settings come from the environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials); it
//! refuses to run without `AWS_ENDPOINT_URL`, so it cannot drain a real queue by mistake.
//!
//! Per message: an `s3:TestEvent` is deleted; an event is sent to
//! `POST {watch}/2015-03-31/functions/{function}/invocations` (watch's Invoke API) and the message
//! deleted only when the function handled it ([`event::judge`]). Otherwise it stays in the queue,
//! which delivers it again after its visibility timeout, and after `maxReceiveCount` receives
//! moves it to its dead-letter queue (both set by `asset-admin setup`: 10 s, 3 receives, as Lambda
//! tries an asynchronous S3 event three times). A message that is not an S3 event takes the same
//! way, so it can be read in the dead-letter queue.
//!
//! One message at a time: S3 events are independent and finalize is idempotent, but a developer's
//! machine runs one function instance per event anyway (watch scales out only with
//! `--concurrency`), and a message received in a batch would sit invisible, its visibility timeout
//! running, while the ones before it are finalized. One log line per event: key, event name,
//! outcome; never the event's contents or a function's error message. SIGTERM or SIGINT ends it
//! at once, an invocation in flight included: its message is delivered again on the next start.

mod event;

use std::process::ExitCode;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_sqs::Client as Sqs;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message as SqsMessage, MessageSystemAttributeName};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use tracing::{error, info, warn};

use event::{Message, Outcome};

const USAGE: &str = "usage: s3-event-relay --queue NAME_OR_URL --watch URL --function NAME [--invoke-timeout SECONDS]";

/// SQS's longest long poll (SQS API reference, `ReceiveMessage`, `WaitTimeSeconds`).
const WAIT_TIME_SECONDS: i32 = 20;

struct Args {
    queue: String,
    watch: String,
    function: String,
    /// Lambda's longest function timeout (15 minutes) by default: watch compiles a function on its
    /// first invocation, which can take minutes on a busy machine.
    invoke_timeout: Duration,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let (mut queue, mut watch, mut function) = (None, None, None);
        let mut invoke_timeout = Duration::from_secs(900);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--queue" => queue = Some(value()?),
                "--watch" => watch = Some(value()?.trim_end_matches('/').to_owned()),
                "--function" => function = Some(value()?),
                "--invoke-timeout" => {
                    let seconds = value()?;
                    let seconds: u64 = seconds
                        .parse()
                        .map_err(|_| format!("--invoke-timeout {seconds}: not a number"))?;
                    invoke_timeout = Duration::from_secs(seconds);
                }
                _ => return Err(USAGE.to_owned()),
            }
        }
        match (queue, watch, function) {
            (Some(queue), Some(watch), Some(function)) => Ok(Self {
                queue,
                watch,
                function,
                invoke_timeout,
            }),
            _ => Err(USAGE.to_owned()),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        // Colours on a terminal only: the scripts write the log to a file (`.local/`).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("s3-event-relay: {message}");
            return ExitCode::FAILURE;
        }
    };
    let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        eprintln!(
            "s3-event-relay: AWS_ENDPOINT_URL is not set; this relay is for the local stack only"
        );
        return ExitCode::FAILURE;
    };
    let relay = match Relay::connect(args, &endpoint).await {
        Ok(relay) => relay,
        Err(message) => {
            eprintln!("s3-event-relay: {message}");
            return ExitCode::FAILURE;
        }
    };
    info!(
        queue = %relay.queue_url,
        invoke = %relay.invoke_url,
        "relaying S3 events"
    );
    tokio::select! {
        () = relay.run() => {}
        () = shutdown_signal() => info!("stopping"),
    }
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

struct Relay {
    sqs: Sqs,
    http: reqwest::Client,
    queue_url: String,
    invoke_url: String,
}

impl Relay {
    async fn connect(args: Args, endpoint: &str) -> Result<Self, String> {
        // The same HTTP stack as the functions (shared/src/app.rs): hyper 1 with rustls on ring.
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .endpoint_url(endpoint)
            .load()
            .await;
        let sqs = Sqs::new(&sdk);
        let queue_url = if args.queue.starts_with("http://") || args.queue.starts_with("https://") {
            args.queue
        } else {
            sqs.get_queue_url()
                .queue_name(&args.queue)
                .send()
                .await
                .map_err(|e| format!("queue {}: {}", args.queue, DisplayErrorContext(&e)))?
                .queue_url
                .ok_or_else(|| format!("queue {}: no URL in the answer", args.queue))?
        };
        let http = reqwest::Client::builder()
            .timeout(args.invoke_timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            sqs,
            http,
            queue_url,
            invoke_url: format!(
                "{}/2015-03-31/functions/{}/invocations",
                args.watch, args.function
            ),
        })
    }

    /// Polls forever; a failed poll (moto restarting) is logged and retried a second later.
    async fn run(&self) {
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(1)
                .wait_time_seconds(WAIT_TIME_SECONDS)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await;
            match received {
                Ok(output) => {
                    for message in output.messages.unwrap_or_default() {
                        self.handle(message).await;
                    }
                }
                Err(e) => {
                    warn!(error = %DisplayErrorContext(&e), "receiving from the queue failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn handle(&self, message: SqsMessage) {
        let receive_count = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|c| c.parse::<u32>().ok())
            .unwrap_or(0);
        let body = message.body.as_deref().unwrap_or_default();
        let (payload, event) = match event::read_message(body) {
            Ok(Message::TestEvent) => {
                info!(outcome = "skipped", "s3:TestEvent");
                self.delete(&message).await;
                return;
            }
            Ok(Message::Event { payload, event }) => (payload, event),
            Err(unreadable) => {
                error!(
                    outcome = "unreadable",
                    reason = %unreadable.0,
                    receive_count,
                    "not an S3 event; left to the queue's dead-letter queue"
                );
                return;
            }
        };
        let outcome = self.invoke(payload).await;
        for record in &event.records {
            let key = record
                .s3
                .object
                .key
                .as_deref()
                .map(event::decoded_key)
                .unwrap_or_default();
            let event_name = record.event_name.as_deref().unwrap_or_default();
            match &outcome {
                Outcome::Handled => info!(key, event_name, outcome = "handled", receive_count),
                Outcome::Failed(reason) => warn!(
                    key,
                    event_name,
                    outcome = "failed",
                    reason,
                    receive_count,
                    "left in the queue: delivered again after its visibility timeout, or moved to its dead-letter queue after the last attempt"
                ),
            }
        }
        if outcome == Outcome::Handled {
            self.delete(&message).await;
        }
    }

    async fn invoke(&self, payload: Vec<u8>) -> Outcome {
        let answer = self
            .http
            .post(&self.invoke_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload)
            .send()
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(e) => return Outcome::Failed(format!("no answer from {}: {e}", self.invoke_url)),
        };
        let status = response.status().as_u16();
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .map(|v| v.to_str().unwrap_or("unreadable").to_owned());
        match response.bytes().await {
            Ok(body) => event::judge(status, function_error.as_deref(), &body),
            Err(e) => Outcome::Failed(format!("reading the answer ({status}): {e}")),
        }
    }

    /// A failed delete is logged, not retried: the message comes back after its visibility
    /// timeout and is handled again, which finalize's idempotence makes harmless.
    async fn delete(&self, message: &SqsMessage) {
        let Some(receipt) = message.receipt_handle.as_deref() else {
            return;
        };
        if let Err(e) = self
            .sqs
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            warn!(error = %DisplayErrorContext(&e), "deleting a handled message failed; it will be delivered again");
        }
    }
}
