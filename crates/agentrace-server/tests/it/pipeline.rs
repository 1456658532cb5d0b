//! The ingest pipeline as one plan / check / apply: limits checked on the plan, every store change
//! of a batch in one ticketed transaction, counts taken from what was committed, and reads on
//! their own connection.

use std::time::Duration;

use agentrace_server::{
    config::{DbLocation, Limits},
    store::{SessionFilter, SessionRow, Store},
};
use serde_json::json;

use crate::testkit::{self, agent_turn, kv, traces};

#[tokio::test]
async fn two_new_traces_of_one_new_key_are_one_session_at_the_session_limit() {
    let server = testkit::start_with_limits(Limits {
        max_sessions: 2,
        ..Limits::default()
    })
    .await;
    let base = testkit::base(&server);
    let one = traces(
        vec![kv("agentevals.session_name", "a")],
        agent_turn(1, 1, "q", "a"),
    );
    assert_eq!(
        testkit::post_proto(&format!("{base}/v1/traces"), &one)
            .await
            .status(),
        200
    );
    // One request, two new traces, one new key: one session more, within the limit of two.
    let mut spans = agent_turn(2, 1, "first", "one");
    spans.extend(agent_turn(3, 1, "second", "two"));
    let two = traces(vec![kv("agentevals.session_name", "b")], spans);
    let reply = testkit::post_proto(&format!("{base}/v1/traces"), &two).await;
    assert_eq!(reply.status(), 200);
    let b = testkit::get_json(&format!("{base}/api/sessions/b")).await;
    assert_eq!(b["spanCount"], 4, "{b}");
    // A third key is past the limit: refused whole, nothing stored.
    let three = traces(
        vec![kv("agentevals.session_name", "c")],
        agent_turn(4, 1, "q", "a"),
    );
    let reply = testkit::post_proto(&format!("{base}/v1/traces"), &three).await;
    assert_eq!(reply.status(), 503);
    let list = testkit::get_json(&format!("{base}/api/sessions")).await;
    assert_eq!(list["total"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_failed_write_leaves_no_session_behind_and_the_key_works_once_there_is_room() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = testkit::start(
        testkit::config()
            .with_db(DbLocation::File(dir.path().join("small.db")))
            .with_limits(Limits {
                max_db_bytes: Some(512 * 1024),
                ..Limits::default()
            })
            .build()
            .expect("config"),
    )
    .await;
    let base = testkit::base(&server);
    let http = testkit::client();
    let post = |body: Vec<u8>| {
        http.post(format!("{base}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
    };
    let mut stored = Vec::new();
    let mut failed = None;
    for n in 1..=60u8 {
        let name = format!("s{n}");
        match post(testkit::bulky_turn(&name, n, 40_000))
            .await
            .expect("sent")
            .status()
            .as_u16()
        {
            200 => stored.push(name),
            503 => {
                failed = Some((name, n));
                break;
            }
            other => panic!("batch {n}: {other}"),
        }
    }
    let (name, n) = failed.expect("the bound is reached");
    // The failed batch created nothing: not in the store, and not in the index either (a later
    // batch of the key would otherwise go to a session the store does not have).
    let gone = http
        .get(format!("{base}/api/sessions/{name}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(gone.status(), 404);
    for old in stored.iter().take(4) {
        let deleted = http
            .delete(format!("{base}/api/sessions/{old}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(deleted.status(), 204);
    }
    let retried = post(testkit::bulky_turn(&name, n, 40_000))
        .await
        .expect("sent");
    assert_eq!(retried.status(), 200);
    let session = testkit::get_json(&format!("{base}/api/sessions/{name}")).await;
    assert_eq!(session["spanCount"], 2, "{session}");
    // The counts are the store's: a retried export of the same spans adds nothing.
    assert_eq!(
        post(testkit::bulky_turn(&name, n, 40_000))
            .await
            .expect("sent")
            .status(),
        200
    );
    let session = testkit::get_json(&format!("{base}/api/sessions/{name}")).await;
    assert_eq!(session["spanCount"], 2, "{session}");
    server.shutdown().await;
}

#[test]
fn reads_do_not_wait_for_the_write_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = std::sync::Arc::new(
        Store::open(&DbLocation::File(dir.path().join("read.db"))).expect("store"),
    );
    store
        .create_session(&SessionRow {
            id: "a".to_owned(),
            key_kind: "name".to_owned(),
            key: "a".to_owned(),
            eval_set_id: None,
            metadata: json!({}),
            created_at_ns: 1,
            updated_at_ns: 1,
            completed_at_ns: None,
            span_count: 0,
            log_count: 0,
        })
        .expect("created");
    // Ingest holds the write connection (a long commit, say) while the API reads.
    let writer = store.writer();
    let (done, wait) = std::sync::mpsc::channel();
    let reading = std::sync::Arc::clone(&store);
    let reader = std::thread::spawn(move || {
        let session = reading.session("a").map(|s| s.id);
        let listed = reading
            .sessions(&SessionFilter {
                limit: 10,
                ..SessionFilter::default()
            })
            .map(|(_, total)| total);
        let _ = done.send((session, listed));
    });
    let read = wait.recv_timeout(Duration::from_secs(10));
    drop(writer);
    reader.join().expect("reader thread");
    let (session, listed) = read.expect("the reads finished while the writer was held");
    assert_eq!(session.expect("session"), "a");
    assert_eq!(listed.expect("list"), 1);
}
