//! Concurrency: 2,000 mixed uploads and reads from 32 concurrent clients through `cargo lambda watch`
//! (the real function binaries) against the local AWS stand-in, every byte read back checked by
//! SHA-256. Zero errors and zero mismatches are required; throughput and latency are reported, not
//! asserted. Loopback only, bounded in count and time.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::domain::CompanyId;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

const CLIENTS: usize = 32;
const OPERATIONS: usize = 2_000;
/// A hang detector for the whole run, not a performance assertion.
const RUN_GUARD: Duration = Duration::from_secs(600);

struct Stored {
    url: String,
    sha256: [u8; 32],
    private: bool,
}

#[derive(Default)]
struct Tally {
    upload_ms: Vec<f64>,
    read_ms: Vec<f64>,
    errors: Vec<String>,
    mismatches: usize,
}

/// xorshift64*: reproducible per client without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A text file of random printable content (the service accepts and serves it as text/plain).
fn random_text(rng: &mut Rng) -> Vec<u8> {
    let len = 64 + rng.below(48 * 1024) as usize;
    (0..len)
        .map(|i| {
            if i % 80 == 79 {
                b'\n'
            } else {
                b'a' + (rng.below(26) as u8)
            }
        })
        .collect()
}

/// Sends a request once; `Ok` only for a 200. Nothing is retried: the emulator's own 500s, which
/// an earlier version of this test retried, came from watch losing the end of response bodies and
/// are gone with `runtime-relay` (README, "Reliability"), so any failure now counts as an error.
async fn send(request: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    let response = request().send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if status == StatusCode::OK {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(format!("{status} {}", &body[..body.len().min(300)]))
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_mixed_requests_from_32_clients() {
    let Some((base, config)) = support::e2e_target() else {
        return;
    };
    let storage = AwsStorage::connect(&config).await;
    let (secret, _) = issue_key(
        storage.table.as_ref(),
        CompanyId::parse("load-test").unwrap(),
    )
    .await
    .unwrap();
    let key = Arc::new(secret.expose().to_owned());
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::limited(2))
        .build()
        .unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stored: Arc<Mutex<Vec<Stored>>> = Arc::default();

    let started = Instant::now();
    let mut workers = Vec::new();
    for client in 0..CLIENTS {
        let (base, key, http, tally, stored) = (
            base.clone(),
            key.clone(),
            http.clone(),
            tally.clone(),
            stored.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (client as u64 + 1));
            let share = OPERATIONS / CLIENTS + usize::from(client < OPERATIONS % CLIENTS);
            for op in 0..share {
                let nothing_to_read = stored.lock().await.is_empty();
                // The first operation of each client and 40% of the rest are uploads.
                if op == 0 || nothing_to_read || rng.below(10) < 4 {
                    let private = rng.below(2) == 0;
                    let bytes = random_text(&mut rng);
                    let visibility = if private { "private" } else { "public" };
                    let url = format!("{base}/api/v1/partner/asset/upload/{visibility}");
                    let t = Instant::now();
                    let result = send(|| {
                        let form = Form::new()
                            .part("file", Part::bytes(bytes.clone()).file_name("load.txt"));
                        http.post(&url)
                            .header("X-Api-Key", key.as_str())
                            .multipart(form)
                    })
                    .await;
                    let elapsed = t.elapsed().as_secs_f64() * 1e3;
                    match result {
                        Ok(response) => {
                            let asset: serde_json::Value = response.json().await.unwrap();
                            stored.lock().await.push(Stored {
                                url: asset["origURL"].as_str().unwrap().to_owned(),
                                sha256: Sha256::digest(&bytes).into(),
                                private,
                            });
                            tally.lock().await.upload_ms.push(elapsed);
                        }
                        Err(err) => tally.lock().await.errors.push(format!("upload: {err}")),
                    }
                } else {
                    let (url, expected, private) = {
                        let stored = stored.lock().await;
                        let pick = &stored[rng.below(stored.len() as u64) as usize];
                        (pick.url.clone(), pick.sha256, pick.private)
                    };
                    let t = Instant::now();
                    let result = send(|| {
                        let request = http.get(&url);
                        if private {
                            request.header("X-Api-Key", key.as_str())
                        } else {
                            request
                        }
                    })
                    .await;
                    match result {
                        Ok(response) => {
                            let body = response.bytes().await.unwrap();
                            let elapsed = t.elapsed().as_secs_f64() * 1e3;
                            let mut tally = tally.lock().await;
                            tally.read_ms.push(elapsed);
                            if <[u8; 32]>::from(Sha256::digest(&body)) != expected {
                                tally.mismatches += 1;
                            }
                        }
                        Err(err) => tally.lock().await.errors.push(format!("read: {err}")),
                    }
                }
            }
        }));
    }
    tokio::time::timeout(RUN_GUARD, async {
        for worker in workers {
            worker.await.unwrap();
        }
    })
    .await
    .expect("the load run finished");
    let wall = started.elapsed();

    let mut tally = tally.lock().await;
    let total = tally.upload_ms.len() + tally.read_ms.len() + tally.errors.len();
    let mut all: Vec<f64> = tally
        .upload_ms
        .iter()
        .chain(&tally.read_ms)
        .copied()
        .collect();
    let (uploads, reads) = (tally.upload_ms.len(), tally.read_ms.len());
    let report = format!(
        "load: {total} requests ({uploads} uploads, {reads} reads) from {CLIENTS} clients in {:.1} s: \
         {:.0} req/s; latency p50 {:.1} ms, p99 {:.1} ms (uploads p50 {:.1} / p99 {:.1}, reads p50 {:.1} / p99 {:.1}); \
         {} errors, {} mismatches, nothing retried",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        percentile(&mut all, 0.50),
        percentile(&mut all, 0.99),
        percentile(&mut tally.upload_ms, 0.50),
        percentile(&mut tally.upload_ms, 0.99),
        percentile(&mut tally.read_ms, 0.50),
        percentile(&mut tally.read_ms, 0.99),
        tally.errors.len(),
        tally.mismatches,
    );
    println!("{report}");
    // scripts/test.sh prints this after the run (cargo hides a passing test's output).
    if let Ok(path) = std::env::var("LOAD_REPORT") {
        std::fs::write(path, format!("{report}\n")).unwrap();
    }
    assert_eq!(total, OPERATIONS);
    assert!(
        tally.errors.is_empty(),
        "errors: {:?}",
        &tally.errors[..tally.errors.len().min(10)]
    );
    assert_eq!(tally.mismatches, 0);
    assert!(
        uploads >= 500 && reads >= 500,
        "a real mix: {uploads} uploads, {reads} reads"
    );
}
