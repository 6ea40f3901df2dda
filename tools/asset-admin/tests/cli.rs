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
