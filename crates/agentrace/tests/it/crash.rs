//! `agentrace serve` killed with SIGKILL in the middle of ingest keeps every span it acknowledged.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `agentrace serve` on free ports with `db`; returns once it printed its address.
fn serve(db: &std::path::Path) -> Serve {
    serve_on(db, 0)
}

/// Starts `agentrace serve` with `db`, its main port `port` (0: a free one) and free OTLP ports;
/// returns once it printed its address.
pub(crate) fn serve_on(db: &std::path::Path, port: u16) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args([
            "serve",
            "--port",
            &port.to_string(),
            "--otlp-http-port",
            "0",
            "--otlp-grpc-port",
            "0",
            "--headless",
        ])
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agentrace serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("serve prints its addresses")
            .expect("line");
        if let Some(rest) = line.trim().strip_prefix("API") {
            break rest.trim().trim_end_matches("/api").to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Serve { child, base }
}

fn export(request: u32) -> Value {
    let spans: Vec<Value> = (0..10u32)
        .map(|i| {
            json!({
                "traceId": format!("{:032x}", u128::from(request) + 1),
                "spanId": format!("{:016x}", u64::from(request) * 100 + u64::from(i) + 1),
                "name": if i == 0 { "invoke_agent a" } else { "chat m" },
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000000000500",
                "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": if i == 0 { "invoke_agent" } else { "chat" }}}]
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "agentevals.session_name", "value": {"stringValue": format!("crash-{}", request % 5)}}]},
        "scopeSpans": [{"scope": {"name": "crash"}, "spans": spans}]
    }]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_spans_survive_sigkill_during_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut server = serve(&db);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("{}/v1/traces", server.base);
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (acks_tx, mut acks) = tokio::sync::watch::channel(0usize);
    let acks_tx = std::sync::Arc::new(acks_tx);
    // Two writers post without pause; each stops at its first failure (the server is gone).
    let mut writers = Vec::new();
    for writer in 0..2u32 {
        let (client, url, acknowledged) = (
            client.clone(),
            url.clone(),
            std::sync::Arc::clone(&acknowledged),
        );
        let acks_tx = std::sync::Arc::clone(&acks_tx);
        writers.push(tokio::spawn(async move {
            for n in 0..5_000u32 {
                let request = n * 2 + writer;
                match client.post(&url).json(&export(request)).send().await {
                    Ok(r) if r.status() == 200 => {
                        let mut acked = acknowledged.lock().unwrap();
                        acked.push(request);
                        acks_tx.send_replace(acked.len());
                    }
                    _ => break,
                }
            }
        }));
    }
    // Kill once enough was acknowledged, while both writers are mid-flight.
    tokio::time::timeout(Duration::from_secs(60), acks.wait_for(|n| *n >= 200))
        .await
        .expect("200 acknowledgements in time")
        .expect("writers alive");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 200,
        "the writers were acknowledged before the kill"
    );

    let restarted = serve(&db);
    let mut stored_traces = std::collections::HashSet::new();
    for session in 0..5 {
        let spans: Value = client
            .get(format!(
                "{}/api/sessions/crash-{session}/spans",
                restarted.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for span in spans["spans"].as_array().unwrap() {
            stored_traces.insert(span["traceId"].as_str().unwrap().to_owned());
        }
    }
    for request in &acknowledged {
        let trace = format!("{:032x}", u128::from(*request) + 1);
        assert!(
            stored_traces.contains(&trace),
            "acknowledged request {request} was lost"
        );
    }
}
