//! The admin command as an operator runs it: the real binary against the local AWS stand-in.

use std::process::{Command, Output};

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

fn admin(table: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asset-admin"))
        .args(args)
        .env("ASSETS_TABLE", table)
        .env("ASSETS_BUCKET", table)
        // The default queue, `{bucket}-events`: never the stack's own (scripts/test.sh sets it).
        .env_remove("ASSETS_EVENTS_QUEUE")
        .output()
        .expect("asset-admin runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "asset-admin failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn setup_create_list_revoke() {
    if endpoint().is_none() {
        return;
    }
    let table = format!("admin-cli-{}", std::process::id());
    stdout(&admin(&table, &["setup"]));
    stdout(&admin(&table, &["setup"]));

    let created = stdout(&admin(&table, &["key", "create", "acme"]));
    let secret = created.lines().last().unwrap().trim().to_owned();
    assert!(secret.starts_with("ak_") && secret.len() > 40, "{created}");

    let listed = stdout(&admin(&table, &["key", "list"]));
    assert!(!listed.contains(&secret), "list must never show secrets");
    let row = listed
        .lines()
        .find(|l| l.contains("acme"))
        .expect("key listed");
    assert!(row.ends_with("active"), "{row}");
    let key_id = row.split_whitespace().next().unwrap().to_owned();

    stdout(&admin(&table, &["key", "revoke", &key_id]));
    let listed = stdout(&admin(&table, &["key", "list", "acme"]));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&key_id) && l.ends_with("revoked"))
    );
    assert!(
        !admin(&table, &["key", "revoke", "0000000000000000"])
            .status
            .success()
    );

    let bad_company = admin(&table, &["key", "create", "not/a/company"]);
    assert!(!bad_company.status.success());
    let usage = admin(&table, &["frobnicate"]);
    assert!(String::from_utf8_lossy(&usage.stderr).contains("usage:"));
}

/// SDK clients for the local stand-in, as the functions build them (path-style S3).
async fn local_clients(endpoint: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
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

/// `setup` on a local stack: objects created under `staging/` (and only there) notify the events
/// queue, which retries 3 times before its dead-letter queue; running it again changes nothing.
#[tokio::test]
async fn setup_routes_staging_events_to_a_queue() {
    use aws_sdk_sqs::types::QueueAttributeName as Attr;
    let Some(endpoint) = endpoint() else {
        return;
    };
    let bucket = format!("admin-events-{}", std::process::id());
    let setup = stdout(&admin(&bucket, &["setup"]));
    assert!(
        setup.contains(&format!(
            "objects created under staging/ notify queue {bucket}-events (dead letters: {bucket}-events-dlq)"
        )),
        "{setup}"
    );
    stdout(&admin(&bucket, &["setup"]));
    let (s3, sqs) = local_clients(&endpoint).await;

    let notification = s3
        .get_bucket_notification_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let [queue_config] = notification.queue_configurations() else {
        panic!("one queue notification: {notification:?}");
    };
    assert_eq!(queue_config.events(), ["s3:ObjectCreated:*".into()]);
    let rules = queue_config
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].name().map(|n| n.as_str()), Some("prefix"));
    assert_eq!(rules[0].value(), Some("staging/"));

    let url = |name: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let queue = url(format!("{bucket}-events")).await;
    let dead_letters = url(format!("{bucket}-events-dlq")).await;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(Attr::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(queue_config.queue_arn(), attributes[&Attr::QueueArn]);
    assert_eq!(attributes[&Attr::VisibilityTimeout], "10");
    let redrive: serde_json::Value =
        serde_json::from_str(&attributes[&Attr::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "3"
    );
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{bucket}-events-dlq")),
        "{redrive}"
    );

    for key in ["staging/upload-1", "companies/c/assets/a/original"] {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"bytes".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    // What arrives: a test event per `setup` (S3 sends one whenever the notification is set) and
    // the one object created under staging/.
    let mut keys = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let body: serde_json::Value =
                serde_json::from_str(message.body.as_deref().unwrap()).unwrap();
            if body["Event"] != "s3:TestEvent" {
                assert_eq!(body["Records"][0]["eventName"], "ObjectCreated:Put");
                keys.push(body["Records"][0]["s3"]["object"]["key"].clone());
            }
            sqs.delete_message()
                .queue_url(&queue)
                .receipt_handle(message.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    // moto encodes the `/` too (S3 does not); either decodes to the key.
    assert_eq!(keys, ["staging%2Fupload-1"]);
    let dead = sqs
        .receive_message()
        .queue_url(&dead_letters)
        .send()
        .await
        .unwrap();
    assert!(dead.messages.unwrap_or_default().is_empty());
}

/// `setup` on a local stack puts the bucket CORS rule of the template (the methods and headers of
/// `BROWSER_UPLOAD_CORS`, `ETag` exposed) for the origins of `CORS_ALLOW_ORIGIN`, `*` without it;
/// running it again replaces the rule, never adds one.
#[tokio::test]
async fn setup_lets_browsers_upload_to_the_bucket() {
    use asset_service::storage::s3_presign::BROWSER_UPLOAD_CORS;
    let Some(endpoint) = endpoint() else {
        return;
    };
    let bucket = format!("admin-cors-{}", std::process::id());
    let setup = |origins: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_asset-admin"));
        command
            .arg("setup")
            .env("ASSETS_TABLE", &bucket)
            .env("ASSETS_BUCKET", &bucket)
            .env_remove("ASSETS_EVENTS_QUEUE")
            .env_remove("CORS_ALLOW_ORIGIN");
        if let Some(origins) = origins {
            command.env("CORS_ALLOW_ORIGIN", origins);
        }
        stdout(&command.output().expect("asset-admin runs"))
    };
    let (s3, _) = local_clients(&endpoint).await;
    let rules = || async {
        s3.get_bucket_cors()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .cors_rules
            .unwrap_or_default()
    };

    let said = setup(None);
    assert!(
        said.contains(&format!(
            "browsers may upload to bucket {bucket} from origins *"
        )),
        "{said}"
    );
    let [rule] = &rules().await[..] else {
        panic!("one CORS rule");
    };
    assert_eq!(rule.allowed_origins(), ["*"]);
    assert_eq!(rule.allowed_methods(), BROWSER_UPLOAD_CORS.allowed_methods);
    assert_eq!(rule.allowed_headers(), BROWSER_UPLOAD_CORS.allowed_headers);
    assert_eq!(rule.expose_headers(), BROWSER_UPLOAD_CORS.exposed_headers);
    assert!(rule.expose_headers().contains(&"ETag".to_owned()));
    assert_eq!(rule.max_age_seconds(), Some(600));

    setup(Some("http://127.0.0.1:5173, http://localhost:5173"));
    let [rule] = &rules().await[..] else {
        panic!("still one CORS rule");
    };
    assert_eq!(
        rule.allowed_origins(),
        ["http://127.0.0.1:5173", "http://localhost:5173"]
    );
}
