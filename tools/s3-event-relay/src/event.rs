//! The relay's pure parts: what a queue message is, what the function is sent, and whether an
//! invocation's answer means the event was handled.

use aws_lambda_events::event::s3::S3Event;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// A message of the events queue, read.
#[derive(Debug)]
pub enum Message {
    /// `s3:TestEvent`: S3 (and moto) send one to the queue each time the bucket's notification
    /// configuration is set (`asset-admin setup`, on every start). Nothing to finalize.
    TestEvent,
    /// An event notification with at least one record, each naming an object.
    Event {
        /// The notification as the function receives it: S3's JSON, completed where moto leaves
        /// out fields S3 always sends (see [`read_message`]).
        payload: Vec<u8>,
        /// The same, parsed as the function will parse it.
        event: S3Event,
    },
}

/// Why a message is not an S3 event the function can be given.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// Reads one queue message body.
///
/// S3's format (AWS, "Event message structure", S3 user guide: `notification-content-structure`):
/// `{"Records":[{"eventName":"ObjectCreated:Put","userIdentity":{..},"requestParameters":{..},
/// "responseElements":{..},"s3":{"bucket":{"name":..},"object":{"key":..,"size":..,"eTag":..}}}]}`,
/// the key URL-encoded as a form value (`+` for a space). moto 5.2 sends the records without
/// `userIdentity`, `requestParameters` and `responseElements`; `aws_lambda_events`' `S3Event`
/// (what `lambda_runtime` parses the function's event into) requires the first two, so a moto
/// event would fail in the function before its code runs. They are filled in here with what S3
/// would say for a local caller, and only when absent.
///
/// Errors: not JSON, or not the shape `S3Event` reads, or a record without an object key. Such a
/// message can never succeed; the relay leaves it to the queue's redrive policy (dead-letter queue).
pub fn read_message(body: &str) -> Result<Message, Unreadable> {
    let mut value: Value =
        serde_json::from_str(body).map_err(|e| Unreadable(format!("not JSON: {e}")))?;
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Message::TestEvent);
    }
    let records = value
        .get_mut("Records")
        .and_then(Value::as_array_mut)
        .filter(|records| !records.is_empty())
        .ok_or_else(|| Unreadable("no `Records` array with a record in it".to_owned()))?;
    for record in records.iter_mut() {
        let record = record
            .as_object_mut()
            .ok_or_else(|| Unreadable("a record is not a JSON object".to_owned()))?;
        complete_record(record);
    }
    let event: S3Event = serde_json::from_value(value.clone())
        .map_err(|e| Unreadable(format!("not an S3 event notification: {e}")))?;
    if event.records.iter().any(|r| r.s3.object.key.is_none()) {
        return Err(Unreadable("a record names no object key".to_owned()));
    }
    let payload = serde_json::to_vec(&value).expect("a JSON value serializes");
    Ok(Message::Event { payload, event })
}

/// Adds the record fields S3 always sends and moto leaves out.
fn complete_record(record: &mut Map<String, Value>) {
    let defaults = [
        (
            "userIdentity",
            serde_json::json!({ "principalId": "local" }),
        ),
        (
            "requestParameters",
            serde_json::json!({ "sourceIPAddress": "127.0.0.1" }),
        ),
        ("responseElements", serde_json::json!({})),
    ];
    for (field, default) in defaults {
        record.entry(field).or_insert(default);
    }
}

/// An object key as it was written: S3 event keys are form-URL-encoded (`+` is a space, `%2B`
/// a plus). moto also encodes `/` as `%2F`, which S3 leaves as is; both decode the same.
pub fn decoded_key(encoded: &str) -> String {
    let spaced = encoded.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// What an invocation's answer means for the message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The function handled the event: delete the message.
    Handled,
    /// It did not: keep the message, so the queue delivers it again after its visibility timeout.
    Failed(String),
}

/// Judges the answer to `POST /2015-03-31/functions/{name}/invocations`.
///
/// Lambda's Invoke API (API reference, "Invoke") answers a function error with 200 and an
/// `X-Amz-Function-Error` header. `cargo lambda watch` 1.9 answers it with 500 and the function's
/// `{"errorType","errorMessage"}` body, an unknown function with 404, and an error while the
/// function starts (`/runtime/init/error`) with 200 and that error body (watch's
/// `trigger_router.rs` / `functions_router.rs`). So only a 2xx without the header whose body is
/// not such an error object counts as handled.
pub fn judge(status: u16, function_error: Option<&str>, body: &[u8]) -> Outcome {
    let error_type = error_type(body);
    if !(200..300).contains(&status) {
        let detail = error_type.map_or_else(String::new, |t| format!(" ({t})"));
        return Outcome::Failed(format!("invocation answered {status}{detail}"));
    }
    if let Some(kind) = function_error {
        let detail = error_type.map_or_else(String::new, |t| format!(", {t}"));
        return Outcome::Failed(format!("function error: {kind}{detail}"));
    }
    if let Some(error_type) = error_type {
        return Outcome::Failed(format!("function error: {error_type}"));
    }
    Outcome::Handled
}

/// The `errorType` of a Lambda error body (`{"errorType": .., "errorMessage": ..}`), if the body
/// is one. The message itself is not logged: it may quote anything the function saw.
fn error_type(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    object.get("errorMessage")?;
    Some(
        object
            .get("errorType")?
            .as_str()
            .unwrap_or("unknown")
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message exactly as moto 5.2.5 puts it on the queue for a `PutObject` of
    /// `staging/a b+c/é ü.jpg` (captured from its server; moto/s3/notifications.py).
    const MOTO_PUT: &str = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-30T00:29:39.906Z", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "staging-created", "bucket": {"name": "probe", "arn": "arn:aws:s3:::probe"}, "object": {"key": "staging%2Fa+b%2Bc%2F%C3%A9+%C3%BC.jpg", "size": 5, "eTag": "5d41402abc4b2a76b9719d911017c592"}}}]}"#;

    /// S3's own example of the format (S3 user guide, "Event message structure"), with values.
    const S3_DOCUMENTED: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2","eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:CompleteMultipartUpload","userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},"requestParameters":{"sourceIPAddress":"192.0.2.1"},"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},"s3":{"s3SchemaVersion":"1.0","configurationId":"staging-created","bucket":{"name":"assets","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::assets"},"object":{"key":"staging/red+flower.jpg","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}]}"#;

    fn event(body: &str) -> (Value, S3Event) {
        match read_message(body).expect("readable") {
            Message::Event { payload, event } => (serde_json::from_slice(&payload).unwrap(), event),
            Message::TestEvent => panic!("not a test event"),
        }
    }

    #[test]
    fn moto_events_lack_fields_the_function_runtime_requires() {
        // Pinned: when moto starts sending the fields (or aws_lambda_events stops requiring
        // them), `complete_record` can go.
        let err = serde_json::from_str::<S3Event>(MOTO_PUT).unwrap_err();
        assert!(err.to_string().contains("userIdentity"), "{err}");
    }

    #[test]
    fn moto_events_are_completed_and_keep_everything_they_had() {
        let (payload, event) = event(MOTO_PUT);
        let record = &event.records[0];
        assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
        assert_eq!(record.s3.bucket.name.as_deref(), Some("probe"));
        assert_eq!(record.s3.object.size, Some(5));
        assert_eq!(
            record.principal_id.principal_id.as_deref(),
            Some("local"),
            "userIdentity filled in"
        );
        let raw = &payload["Records"][0];
        assert_eq!(
            raw["s3"]["object"]["key"],
            "staging%2Fa+b%2Bc%2F%C3%A9+%C3%BC.jpg"
        );
        assert_eq!(raw["eventTime"], "2026-11-30T00:29:39.906Z");
        assert_eq!(raw["s3"]["configurationId"], "staging-created");
        assert_eq!(raw["requestParameters"]["sourceIPAddress"], "127.0.0.1");
        assert_eq!(raw["responseElements"], serde_json::json!({}));
    }

    #[test]
    fn s3_events_pass_unchanged() {
        let (payload, event) = event(S3_DOCUMENTED);
        assert_eq!(
            payload,
            serde_json::from_str::<Value>(S3_DOCUMENTED).unwrap()
        );
        assert_eq!(
            event.records[0].principal_id.principal_id.as_deref(),
            Some("AWS:AIDAEXAMPLE")
        );
    }

    #[test]
    fn keys_decode_as_form_values_whichever_way_slashes_come() {
        assert_eq!(
            decoded_key("staging%2Fa+b%2Bc%2F%C3%A9+%C3%BC.jpg"),
            "staging/a b+c/é ü.jpg"
        );
        assert_eq!(
            decoded_key("staging/a+b%2Bc/%C3%A9+%C3%BC.jpg"),
            "staging/a b+c/é ü.jpg"
        );
    }

    #[test]
    fn test_events_are_recognised() {
        // moto's, and S3's (which adds RequestId and HostId).
        for body in [
            r#"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-30T00:29:39.776Z", "Bucket": "probe"}"#,
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"assets","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#,
        ] {
            assert!(
                matches!(read_message(body), Ok(Message::TestEvent)),
                "{body}"
            );
        }
    }

    #[test]
    fn anything_else_is_unreadable() {
        let no_key = MOTO_PUT.replace(r#""key": "staging%2Fa+b%2Bc%2F%C3%A9+%C3%BC.jpg", "#, "");
        let bad_time = MOTO_PUT.replace("2026-11-30T00:29:39.906Z", "yesterday");
        for (body, reason) in [
            ("not json", "not JSON"),
            (r#"{"Event": "s3:SomethingElse"}"#, "no `Records`"),
            (r#"{"Records": []}"#, "no `Records`"),
            (r#"{"Records": [42]}"#, "not a JSON object"),
            (
                r#"{"Records": [{"eventName": "ObjectCreated:Put"}]}"#,
                "not an S3 event",
            ),
            (&bad_time, "not an S3 event"),
            (&no_key, "no object key"),
        ] {
            let err = read_message(body).unwrap_err();
            assert!(err.0.contains(reason), "{body}: {err:?}");
        }
    }

    #[test]
    fn only_a_clean_2xx_is_handled() {
        assert_eq!(judge(200, None, b""), Outcome::Handled);
        assert_eq!(judge(200, None, b"null"), Outcome::Handled);
        assert_eq!(judge(202, None, br#"{"status":"ready"}"#), Outcome::Handled);
        // A result that merely mentions an error message is not an error body.
        assert_eq!(
            judge(200, None, br#"{"errorMessage":"x"}"#),
            Outcome::Handled
        );

        let function_error =
            br#"{"errorType":"FinalizeError","errorMessage":"the object at staging/x is gone"}"#;
        for (status, header, body, expected) in [
            (
                500,
                None,
                &function_error[..],
                "invocation answered 500 (FinalizeError)",
            ),
            (
                404,
                None,
                br#"{"title":"Missing function","detail":".."}"#,
                "invocation answered 404",
            ),
            (502, None, b"", "invocation answered 502"),
            (
                200,
                Some("Unhandled"),
                &function_error[..],
                "function error: Unhandled, FinalizeError",
            ),
            (200, Some("Handled"), b"", "function error: Handled"),
            (
                200,
                None,
                &function_error[..],
                "function error: FinalizeError",
            ),
        ] {
            match judge(status, header, body) {
                Outcome::Failed(reason) => {
                    assert_eq!(reason, expected);
                    assert!(
                        !reason.contains("staging/x"),
                        "error messages are not logged"
                    );
                }
                Outcome::Handled => panic!("{status} {header:?} counted as handled"),
            }
        }
    }
}
