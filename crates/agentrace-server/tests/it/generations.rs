//! Generations of a session key: each rerun of a key gets the next number after the last one
//! handed out (`demo`, `demo-2`, `demo-3`, …), found with a bounded number of looks however many
//! generations exist, and a deleted generation's id is not handed out again.

use std::collections::BTreeSet;

use crate::testkit::{self, agent_turn, kv, traces};

/// Posts run `run` of the key `gen` (a new `agentevals.session.run_id`: a rerun).
async fn post_run(base: &str, run: u8) {
    let request = traces(
        vec![
            kv("agentevals.session_name", "gen"),
            kv("agentevals.session.run_id", &format!("run-{run}")),
        ],
        agent_turn(run, 1, "again", "ok"),
    );
    let response = testkit::post_proto(&format!("{base}/v1/traces"), &request).await;
    assert_eq!(response.status(), 200, "run {run}");
}

async fn session_ids(base: &str) -> BTreeSet<String> {
    let list = testkit::get_json(&format!("{base}/api/sessions?q=gen&limit=500")).await;
    list["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn reruns_get_ascending_generations_and_deleted_ones_are_not_reused() {
    let server = testkit::start_default().await;
    let base = testkit::base(&server);
    for run in 1..=60u8 {
        post_run(&base, run).await;
    }
    let expected: BTreeSet<String> = std::iter::once("gen".to_owned())
        .chain((2..=60).map(|n| format!("gen-{n}")))
        .collect();
    assert_eq!(session_ids(&base).await, expected);
    let http = testkit::client();
    for id in ["gen-2", "gen-60"] {
        let response = http
            .delete(format!("{base}/api/sessions/{id}"))
            .send()
            .await
            .expect("DELETE");
        assert_eq!(response.status(), 204);
    }
    post_run(&base, 61).await;
    let ids = session_ids(&base).await;
    assert!(ids.contains("gen-61"), "{ids:?}");
    assert!(!ids.contains("gen-2") && !ids.contains("gen-60"), "{ids:?}");
    assert_eq!(ids.len(), 59);
    server.shutdown().await;
}
