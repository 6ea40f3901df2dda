//! Runs `runtime_client.py` (a Runtime API client in plain Python, no HTTP library magic) as the
//! function, so the connection pattern is chosen exactly by `MODE`.
use std::os::unix::process::CommandExt;

fn main() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/runtime_client.py");
    let error = std::process::Command::new("python3").arg(script).exec();
    panic!("python3: {error}");
}
