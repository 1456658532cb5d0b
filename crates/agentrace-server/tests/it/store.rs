//! The SQLite store: persistence across reopen, deduplication, listing, deletion.

use agentrace_server::{
    config::DbLocation,
    store::{NewLog, NewSpan, SessionFilter, SessionRow, Store, StoreError},
};
use serde_json::json;

fn session(id: &str, created: i64) -> SessionRow {
    SessionRow {
        id: id.to_owned(),
        key_kind: "name".to_owned(),
        key: id.to_owned(),
        eval_set_id: None,
        metadata: json!({"team": "a"}),
        created_at_ns: created,
        updated_at_ns: created,
        completed_at_ns: None,
        span_count: 0,
        log_count: 0,
    }
}

/// A span; `id` is 16 hex digits, or a short name (its bytes, zero-padded to 8).
fn span(trace: &str, id: &str) -> NewSpan {
    let span_id = agentrace_loader::model::SpanId::from_hex(id).map_or_else(
        || {
            let mut bytes = [0u8; 8];
            for (slot, byte) in bytes.iter_mut().zip(id.bytes()) {
                *slot = byte;
            }
            bytes
        },
        |id| id.0,
    );
    let model = agentrace_loader::model::Span {
        span_id: agentrace_loader::model::SpanId(span_id),
        ..Default::default()
    };
    let mut stored = NewSpan::new(&model, r#"{"resource":{},"scope":{}}"#.into());
    stored.trace_id = trace.into();
    stored
}

#[test]
fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let location = DbLocation::File(dir.path().join("nested/agentrace.db"));
    {
        let store = Store::open(&location).unwrap();
        store.create_session(&session("s1", 1)).unwrap();
        let inserted = store
            .insert_spans(&[
                ("s1".to_owned(), span("t1", "a")),
                ("s1".to_owned(), span("t1", "b")),
            ])
            .unwrap();
        assert_eq!(inserted.stored, 2);
        store
            .replace_invocations(
                "s1",
                &[agentrace_server::extract::Invocation::new(
                    &json!({"invocation_id": "a"}),
                )],
            )
            .unwrap();
    }
    let store = Store::open(&location).unwrap();
    let row = store.session("s1").unwrap();
    assert_eq!(row.span_count, 2);
    assert_eq!(row.metadata, json!({"team": "a"}));
    assert_eq!(store.spans("s1").unwrap().len(), 2);
    assert_eq!(
        store.invocations("s1").unwrap(),
        vec![json!({"invocation_id": "a"})]
    );
    assert_eq!(
        store.trace_sessions().unwrap(),
        vec![("t1".to_owned(), "s1".to_owned())]
    );
}

#[test]
fn a_retried_export_is_stored_once() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    store.create_session(&session("s1", 1)).unwrap();
    let batch = vec![("s1".to_owned(), span("t1", "a"))];
    assert_eq!(store.insert_spans(&batch).unwrap().stored, 1);
    let again = store.insert_spans(&batch).unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
    let log = NewLog {
        trace_id: Some("t1".to_owned()),
        span_id: Some("a".to_owned()),
        time_ns: 5,
        origin: "{}".into(),
        fingerprint: "f1".to_owned(),
        body: "{}".to_owned(),
    };
    assert_eq!(
        store
            .insert_logs(&[("s1".to_owned(), log.clone())])
            .unwrap()
            .stored,
        1
    );
    assert_eq!(
        store
            .insert_logs(&[("s1".to_owned(), log)])
            .unwrap()
            .duplicates,
        1
    );
    let row = store.session("s1").unwrap();
    assert_eq!((row.span_count, row.log_count), (1, 1));
}

#[test]
fn sessions_list_newest_first_with_filters_and_paging() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    for (i, id) in ["alpha", "beta", "gamma"].iter().enumerate() {
        store.create_session(&session(id, i as i64)).unwrap();
    }
    store.set_completed("beta", Some(100)).unwrap();
    let all = SessionFilter {
        limit: 10,
        ..SessionFilter::default()
    };
    let (rows, total) = store.sessions(&all).unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["gamma", "beta", "alpha"]
    );
    let live = SessionFilter {
        complete: Some(false),
        limit: 10,
        ..SessionFilter::default()
    };
    assert_eq!(store.sessions(&live).unwrap().1, 2);
    let page = SessionFilter {
        limit: 1,
        offset: 1,
        ..SessionFilter::default()
    };
    assert_eq!(store.sessions(&page).unwrap().0[0].id, "beta");
    let key = SessionFilter {
        key_contains: Some("amm".to_owned()),
        limit: 10,
        ..SessionFilter::default()
    };
    assert_eq!(store.sessions(&key).unwrap().0[0].id, "gamma");
    assert_eq!(
        store.completed_before(101).unwrap(),
        vec!["beta".to_owned()]
    );
}

#[test]
fn deleting_removes_everything_and_unknown_ids_are_errors() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    store.create_session(&session("s1", 1)).unwrap();
    store
        .insert_spans(&[("s1".to_owned(), span("t1", "a"))])
        .unwrap();
    store.delete_session("s1").unwrap();
    assert!(matches!(store.session("s1"), Err(StoreError::NotFound(_))));
    assert!(store.spans("s1").unwrap().is_empty());
    assert!(matches!(
        store.delete_session("s1"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_completed("nope", None),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn eval_sets_are_stored_and_replaced() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    store
        .put_eval_set("e1", Some("first"), 2, &json!({"eval_set_id": "e1"}))
        .unwrap();
    store
        .put_eval_set(
            "e1",
            Some("second"),
            3,
            &json!({"eval_set_id": "e1", "v": 2}),
        )
        .unwrap();
    let rows = store.eval_sets().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].name.as_deref(), rows[0].case_count),
        (Some("second"), 3)
    );
    assert_eq!(store.eval_set("e1").unwrap()["v"], 2);
    assert!(matches!(store.eval_set("e2"), Err(StoreError::NotFound(_))));
}

/// The `sessions` table of the layouts before sessions had row numbers (keyed by id).
const SESSIONS_BY_ID: &str = "CREATE TABLE sessions (id TEXT PRIMARY KEY, key_kind TEXT NOT NULL, \
    key TEXT NOT NULL, eval_set_id TEXT, metadata TEXT NOT NULL DEFAULT '{}', \
    created_at_ns INTEGER NOT NULL, updated_at_ns INTEGER NOT NULL, completed_at_ns INTEGER, \
    span_count INTEGER NOT NULL DEFAULT 0, log_count INTEGER NOT NULL DEFAULT 0);";

#[test]
fn a_database_with_one_row_per_span_is_migrated_to_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // The layout of databases written before spans were stored in chunks.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SESSIONS_BY_ID).unwrap();
        conn.execute_batch(
            r#"
            CREATE TABLE origins (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
            CREATE TABLE spans (trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
                session_id TEXT NOT NULL, parent_span_id TEXT, name TEXT NOT NULL,
                start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, origin_id INTEGER NOT NULL,
                body TEXT NOT NULL, PRIMARY KEY (trace_id, span_id)) WITHOUT ROWID;
            INSERT INTO sessions (id, key_kind, key, created_at_ns, updated_at_ns, span_count)
                VALUES ('s1', 'name', 's1', 1, 1, 2);
            INSERT INTO origins (id, json) VALUES (1, '{"resource":{},"scope":{}}');
            INSERT INTO spans VALUES ('t1', 'b7ad6b7169203331', 's1', NULL, 'second', 20, 30, 1,
                '{"traceId":"t1","spanId":"b7ad6b7169203331","startTimeUnixNano":"20"}');
            INSERT INTO spans VALUES ('t1', '00f067aa0ba902b7', 's1', NULL, 'first', 10, 30, 1,
                '{"traceId":"t1","spanId":"00f067aa0ba902b7","startTimeUnixNano":"10"}');
            "#,
        )
        .unwrap();
    }
    let store = Store::open(&DbLocation::File(path.clone())).unwrap();
    let spans = store.spans("s1").unwrap();
    let ids: Vec<String> = spans
        .iter()
        .map(|s| serde_json::from_str::<serde_json::Value>(&s.body).unwrap()["spanId"].to_string())
        .collect();
    assert_eq!(
        ids,
        [r#""00f067aa0ba902b7""#, r#""b7ad6b7169203331""#],
        "in start order"
    );
    // The migrated ids still deduplicate a retried export.
    let again = store
        .insert_spans(&[("s1".to_owned(), span("t1", "00f067aa0ba902b7"))])
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
    drop(store);
    // Opening again does not migrate twice.
    let store = Store::open(&DbLocation::File(path)).unwrap();
    assert_eq!(store.spans("s1").unwrap().len(), 2);
}

/// A store with session `s1` holding one chunk of trace `t0` whose body is the SQL literal `body`,
/// written behind the store's back.
fn store_with_raw_chunk(body: &str) -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("raw.db");
    let store = Store::open(&DbLocation::File(path.clone())).expect("store opens");
    store.create_session(&session("s1", 1)).expect("session");
    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    conn.execute_batch(&format!(
        r#"
        INSERT OR IGNORE INTO origins (id, json) VALUES (1, '{{"resource":{{}},"scope":{{}}}}');
        INSERT INTO span_chunks (session, trace_id, origin_id, span_count, body)
            VALUES ((SELECT rid FROM sessions WHERE id = 's1'), 't0', 1, 1, {body});
        "#
    ))
    .expect("raw chunk written");
    (dir, path, store)
}

#[test]
fn chunks_are_stored_binary_and_compressed_and_older_text_chunks_still_read() {
    // A chunk as databases before compression hold it: a JSON array as text.
    let (_dir, path, store) = store_with_raw_chunk(
        "'[{\"traceId\":\"t0\",\"spanId\":\"old\",\"startTimeUnixNano\":\"1\"}]'",
    );
    let message = "a long repeated message ".repeat(40);
    let models: Vec<agentrace_loader::model::Span> = (0..20u8)
        .map(|i| agentrace_loader::model::Span {
            span_id: agentrace_loader::model::SpanId([1, i, 0, 0, 0, 0, 0, 0]),
            start_ns: 10 + u64::from(i),
            name: message.clone(),
            ..Default::default()
        })
        .collect();
    let spans: Vec<(String, NewSpan)> = models
        .iter()
        .map(|m| {
            let mut s = NewSpan::new(m, r#"{"resource":{},"scope":{}}"#.into());
            s.trace_id = "t1".into();
            ("s1".to_owned(), s)
        })
        .collect();
    let json_bytes: usize = models
        .iter()
        .map(|m| agentrace_loader::write::to_json_string(m).len())
        .sum();
    let inserted = store.insert_spans(&spans).unwrap();
    assert_eq!(inserted.stored, 20);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (kind, stored_bytes): (String, i64) = conn
        .query_row(
            "SELECT typeof(body), length(body) FROM span_chunks WHERE trace_id = 't1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "blob", "new chunks are compressed");
    assert!(
        (stored_bytes as usize) * 4 < json_bytes,
        "{stored_bytes} bytes stored for {json_bytes} bytes of JSON"
    );
    let read = store.spans("s1").unwrap();
    assert_eq!(read.len(), 21, "the text chunk and the compressed one");
    let first: serde_json::Value = serde_json::from_str(&read[0].body).unwrap();
    assert_eq!(first["spanId"], "old");
    for (item, model) in read[1..].iter().zip(&models) {
        assert_eq!(
            item.body,
            agentrace_loader::write::to_json_string(model),
            "read back as the JSON of the span written"
        );
    }
    let last: serde_json::Value = serde_json::from_str(&read[20].body).unwrap();
    assert_eq!(last["spanId"], "0113000000000000");
    assert_eq!(last["name"], message.as_str(), "decompressed exactly");
}

#[test]
fn compressed_json_chunks_of_earlier_versions_still_read() {
    // Versions before the binary form wrote each chunk as a JSON array, compressed with LZ4.
    let json = r#"[{"traceId":"t0","spanId":"b","startTimeUnixNano":"2"},{"traceId":"t0","spanId":"a","startTimeUnixNano":"1"}]"#;
    let packed = lz4_flex::compress_prepend_size(json.as_bytes());
    let (_dir, _path, store) = store_with_raw_chunk(&format!("x'{}'", hex::encode(packed)));
    let ids: Vec<String> = store
        .spans("s1")
        .unwrap()
        .iter()
        .map(|s| serde_json::from_str::<serde_json::Value>(&s.body).unwrap()["spanId"].to_string())
        .collect();
    assert_eq!(ids, [r#""a""#, r#""b""#], "in start order");
}

/// Reads session `s1` holding one chunk whose decompressed body is `body` (its row says one span);
/// the read must fail as corrupt, and the reason is returned.
fn corrupt_reading(body: &[u8]) -> String {
    let packed = lz4_flex::compress_prepend_size(body);
    let (_dir, _path, store) = store_with_raw_chunk(&format!("x'{}'", hex::encode(packed)));
    match store.spans("s1") {
        Err(StoreError::Corrupt(reason)) => reason,
        other => panic!("expected a corrupt chunk, got {other:?}"),
    }
}

#[test]
fn a_damaged_binary_chunk_is_an_error_not_a_panic() {
    // The binary tag, then a span cut short after its ids.
    let reason = corrupt_reading(&[agentrace_server::codec::CHUNK_TAG, 1, 2, 3]);
    assert!(reason.contains("ends early"), "{reason}");
}

#[test]
fn a_binary_chunk_with_more_or_fewer_spans_than_its_row_says_is_an_error() {
    // Two whole spans where the row says one: a chunk cut or joined between spans still decodes,
    // so the count is what tells.
    let mut body = vec![agentrace_server::codec::CHUNK_TAG];
    for id in [1u8, 2] {
        let span = agentrace_loader::model::Span {
            span_id: agentrace_loader::model::SpanId([id; 8]),
            ..Default::default()
        };
        agentrace_server::codec::encode_span(&span, &mut body);
    }
    let reason = corrupt_reading(&body);
    assert!(reason.contains("holds 2 spans, its row says 1"), "{reason}");
}

#[test]
fn a_chunk_that_does_not_decompress_is_an_error_not_a_panic() {
    // A header that claims 2 GiB, then garbage.
    let (_dir, _path, store) = store_with_raw_chunk("x'ffffff7f0102'");
    let err = store.spans("s1").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

#[test]
fn span_ids_of_the_server_are_deduplicated_across_batches_reopens_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::File(dir.path().join("ids.db"));
    let t = "0af7651916cd43dd8448eb211c80319c";
    let (a, b, c) = ("b7ad6b7169203331", "00f067aa0ba902b7", "53995c3f42cd8ad8");
    let batch = |ids: &[&str]| -> Vec<(String, NewSpan)> {
        ids.iter()
            .map(|id| ("s1".to_owned(), span(t, id)))
            .collect()
    };
    {
        let store = Store::open(&db).unwrap();
        store.create_session(&session("s1", 1)).unwrap();
        let first = store.insert_spans(&batch(&[a, b])).unwrap();
        assert_eq!((first.stored, first.duplicates), (2, 0));
        // A duplicate of an earlier batch and one inside the batch.
        let second = store.insert_spans(&batch(&[b, c, c])).unwrap();
        assert_eq!((second.stored, second.duplicates), (1, 2));
    }
    let store = Store::open(&db).unwrap();
    let again = store.insert_spans(&batch(&[a, c])).unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 2), "after reopening");
    assert_eq!(store.session("s1").unwrap().span_count, 3);
    assert_eq!(store.spans("s1").unwrap().len(), 3);
    // Deleting the session forgets its ids: the same spans can be stored again.
    store.delete_session("s1").unwrap();
    store.create_session(&session("s1", 2)).unwrap();
    assert_eq!(store.insert_spans(&batch(&[a])).unwrap().stored, 1);
    drop(store);

    // A database of an earlier version kept one `span_ids` row per span: still a duplicate.
    let conn = rusqlite::Connection::open(dir.path().join("ids.db")).unwrap();
    conn.execute(
        "INSERT INTO span_ids (trace_id, span_id) VALUES (?1, ?2)",
        [t, b],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&db).unwrap();
    let legacy = store.insert_spans(&batch(&[b, c])).unwrap();
    assert_eq!((legacy.stored, legacy.duplicates), (1, 1));
}

#[test]
fn a_write_that_fails_leaves_no_stale_origin_behind() {
    // A write refused after it stored a new origin (resource and scope) rolls the origin back
    // too; the next write with the same origin must store it again, or its spans would point at
    // an origin row that is not there and never be read back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agentrace.db");
    let store = Store::open(&DbLocation::File(path.clone())).unwrap();
    store.create_session(&session("s1", 1)).unwrap();
    let side = rusqlite::Connection::open(&path).unwrap();
    // Refuses span chunks (as a full disk would), after the origin is written.
    side.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON span_chunks \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    let refused = store.insert_spans(&[("s1".to_owned(), span("t1", "a"))]);
    assert!(refused.is_err(), "{refused:?}");
    side.execute_batch("DROP TRIGGER refuse;").unwrap();
    let inserted = store
        .insert_spans(&[("s1".to_owned(), span("t1", "b"))])
        .unwrap();
    assert_eq!(inserted.stored, 1);
    assert_eq!(store.spans("s1").unwrap().len(), 1);
    let logs = [("s1".to_owned(), log_with_origin())];
    side.execute_batch(
        "CREATE TRIGGER refuse_logs BEFORE INSERT ON logs \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    assert!(store.insert_logs(&logs).is_err());
    side.execute_batch("DROP TRIGGER refuse_logs;").unwrap();
    assert_eq!(store.insert_logs(&logs).unwrap().stored, 1);
    assert_eq!(store.logs("s1").unwrap().len(), 1);
}

/// A log record with an origin no span of the test has.
fn log_with_origin() -> NewLog {
    NewLog {
        trace_id: Some("t1".to_owned()),
        span_id: None,
        time_ns: 5,
        origin: r#"{"resource":{"attributes":[]},"scope":{"name":"logs"}}"#.into(),
        fingerprint: "f-origin".to_owned(),
        body: "{}".to_owned(),
    }
}

#[test]
fn a_database_that_names_sessions_by_id_is_migrated_to_row_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        // The layout before sessions had row numbers: spans, logs and invocations named their
        // session by id. Session `ghost` has chunks but no row.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SESSIONS_BY_ID).unwrap();
        conn.execute_batch(
            r#"
            CREATE INDEX sessions_by_key ON sessions(key_kind, key);
            CREATE TABLE origins (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
            CREATE TABLE span_chunks (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL,
                trace_id TEXT NOT NULL, origin_id INTEGER NOT NULL, span_count INTEGER NOT NULL,
                body BLOB NOT NULL);
            CREATE INDEX span_chunks_by_session ON span_chunks(session_id);
            CREATE INDEX span_chunks_by_trace ON span_chunks(trace_id);
            CREATE TABLE chunk_span_ids (chunk_id INTEGER PRIMARY KEY, ids BLOB NOT NULL);
            CREATE TABLE span_ids (trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
                PRIMARY KEY (trace_id, span_id)) WITHOUT ROWID;
            CREATE TABLE logs (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, trace_id TEXT,
                span_id TEXT, time_ns INTEGER NOT NULL, origin_id INTEGER NOT NULL,
                fingerprint TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
            CREATE INDEX logs_by_session ON logs(session_id, time_ns);
            CREATE INDEX logs_by_trace ON logs(trace_id);
            CREATE TABLE invocations (session_id TEXT NOT NULL, idx INTEGER NOT NULL,
                body TEXT NOT NULL, PRIMARY KEY (session_id, idx)) WITHOUT ROWID;
            CREATE TABLE eval_sets (id TEXT PRIMARY KEY, name TEXT, case_count INTEGER NOT NULL,
                body TEXT NOT NULL, created_at_ns INTEGER NOT NULL);
            INSERT INTO sessions (id, key_kind, key, created_at_ns, updated_at_ns, span_count,
                log_count) VALUES ('s2', 'name', 's2', 2, 2, 1, 0),
                ('s1', 'conversation', 'c1', 1, 1, 2, 1);
            INSERT INTO origins (id, json) VALUES (1, '{"resource":{},"scope":{}}');
            INSERT INTO span_chunks VALUES (1, 's1', 't1', 1, 2,
                '[{"traceId":"t1","spanId":"00f067aa0ba902b7","startTimeUnixNano":"10"},{"traceId":"t1","spanId":"b7ad6b7169203331","startTimeUnixNano":"20"}]');
            INSERT INTO chunk_span_ids VALUES (1, X'00f067aa0ba902b7b7ad6b7169203331');
            INSERT INTO span_chunks VALUES (2, 's2', 't2', 1, 1,
                '[{"traceId":"t2","spanId":"0000000000000001","startTimeUnixNano":"5"}]');
            INSERT INTO span_chunks VALUES (3, 'ghost', 't3', 1, 1,
                '[{"traceId":"t3","spanId":"0000000000000002","startTimeUnixNano":"5"}]');
            INSERT INTO logs VALUES (1, 's1', 't1', NULL, 7, 1, 'f1', '{"timeUnixNano":"7"}');
            INSERT INTO invocations VALUES ('s1', 0, '{"invocation_id":"i0"}'),
                ('s1', 1, '{"invocation_id":"i1"}');
            "#,
        )
        .unwrap();
    }
    let store = Store::open(&DbLocation::File(path.clone())).unwrap();
    assert_eq!(store.spans("s1").unwrap().len(), 2);
    assert_eq!(store.spans("s2").unwrap().len(), 1);
    assert_eq!(store.spans("ghost").unwrap().len(), 1, "no row is lost");
    assert_eq!(store.session("ghost").unwrap().key, "ghost");
    assert_eq!(store.logs("s1").unwrap().len(), 1);
    assert_eq!(
        store.invocations("s1").unwrap(),
        [
            json!({"invocation_id": "i0"}),
            json!({"invocation_id": "i1"})
        ]
    );
    let s1 = store.session("s1").unwrap();
    assert_eq!(
        (
            s1.key_kind.as_str(),
            s1.key.as_str(),
            s1.span_count,
            s1.log_count
        ),
        ("conversation", "c1", 2, 1)
    );
    let mut pairs = store.trace_sessions().unwrap();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("t1".to_owned(), "s1".to_owned()),
            ("t2".to_owned(), "s2".to_owned()),
            ("t3".to_owned(), "ghost".to_owned())
        ]
    );
    // The migrated span ids still deduplicate a retried export; new spans are stored.
    let again = store
        .insert_spans(&[
            ("s1".to_owned(), span("t1", "00f067aa0ba902b7")),
            ("s1".to_owned(), span("t1", "c")),
        ])
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (1, 1));
    assert_eq!(store.spans("s1").unwrap().len(), 3);
    store.move_trace("t2", "s2", "s1").unwrap();
    assert_eq!(store.spans("s1").unwrap().len(), 4);
    assert_eq!(store.spans("s2").unwrap().len(), 0);
    store.delete_session("s1").unwrap();
    assert!(store.spans("s1").unwrap().is_empty());
    assert!(store.invocations("s1").unwrap().is_empty());
    assert!(matches!(store.session("s1"), Err(StoreError::NotFound(_))));
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !tables.iter().any(|t| t.ends_with("_v1")),
        "old tables dropped: {tables:?}"
    );
    let has_rid: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('sessions') WHERE name = 'rid')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(has_rid);
    drop(conn);
    // Opening again does not migrate twice.
    let store = Store::open(&DbLocation::File(path)).unwrap();
    assert_eq!(store.spans("s2").unwrap().len(), 0);
    assert_eq!(store.spans("ghost").unwrap().len(), 1);
}

#[test]
fn completion_indexes_the_values_of_every_span_the_session_holds_when_it_commits() {
    // A file database: spans are read on the write connection, inside the completing
    // transaction, not on the separate reading connection before it.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&DbLocation::File(dir.path().join("a.db"))).unwrap();
    store.create_session(&session("s1", 1)).unwrap();
    let trace = agentrace_loader::model::TraceId([7; 16]);
    let stored = |id: u8, name: &str| {
        let model = agentrace_loader::model::Span {
            trace_id: trace,
            span_id: agentrace_loader::model::SpanId([id; 8]),
            name: name.to_owned(),
            ..Default::default()
        };
        (
            "s1".to_owned(),
            NewSpan::new(&model, r#"{"resource":{},"scope":{}}"#.into()),
        )
    };
    store.insert_spans(&[stored(1, "zebrafirst")]).unwrap();
    let turn = agentrace_server::extract::Invocation::new(
        &json!({"invocation_id": "a", "trace_id": trace.to_string(), "user_text": "hello"}),
    );
    store.insert_spans(&[stored(2, "zebralate")]).unwrap();
    store
        .complete_sessions(&[("s1".to_owned(), vec![turn])], 5)
        .unwrap();
    for word in ["zebrafirst", "zebralate"] {
        let hits = agentrace_server::search::search(&store, word, 10).unwrap();
        assert_eq!(hits.len(), 1, "{word}");
        assert_eq!(
            (hits[0].session_id.as_str(), hits[0].field.as_str()),
            ("s1", "attrs")
        );
    }
    assert_eq!(store.session("s1").unwrap().completed_at_ns, Some(5));
}

#[test]
fn a_completed_session_is_indexed_for_search_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let location = DbLocation::File(dir.path().join("a.db"));
    let trace = agentrace_loader::model::TraceId([9; 16]);
    {
        let store = Store::open(&location).unwrap();
        store.create_session(&session("s1", 1)).unwrap();
        let model = agentrace_loader::model::Span {
            trace_id: trace,
            span_id: agentrace_loader::model::SpanId([1; 8]),
            name: "okapiwalk".to_owned(),
            ..Default::default()
        };
        store
            .insert_spans(&[(
                "s1".to_owned(),
                NewSpan::new(&model, r#"{"resource":{},"scope":{}}"#.into()),
            )])
            .unwrap();
        let turn = agentrace_server::extract::Invocation::new(
            &json!({"trace_id": trace.to_string(), "user_text": "where is the giraffe"}),
        );
        store
            .complete_sessions(&[("s1".to_owned(), vec![turn])], 5)
            .unwrap();
        // Completion stores the invocations and a ticket; the documents come after.
        assert_eq!(store.search_pending().unwrap(), 1);
        assert_eq!(store.invocations("s1").unwrap().len(), 1);
    }
    let store = Store::open(&location).unwrap();
    assert_eq!(store.search_pending().unwrap(), 1);
    assert_eq!(store.index_pending(8).unwrap(), 1);
    assert_eq!(store.search_pending().unwrap(), 0);
    assert_eq!(store.index_pending(8).unwrap(), 0);
    for word in ["okapiwalk", "giraffe"] {
        let hits = agentrace_server::search::search(&store, word, 10).unwrap();
        assert_eq!(hits.len(), 1, "{word}");
        assert_eq!(hits[0].session_id, "s1");
    }
}

#[test]
fn a_search_finds_a_session_whose_indexing_is_still_queued() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    store.create_session(&session("s1", 1)).unwrap();
    let turn = agentrace_server::extract::Invocation::new(&json!({"user_text": "marmot"}));
    store
        .complete_sessions(&[("s1".to_owned(), vec![turn])], 5)
        .unwrap();
    assert_eq!(store.search_pending().unwrap(), 1);
    let hits = agentrace_server::search::search(&store, "marmot", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(store.search_pending().unwrap(), 0);
}

#[test]
fn a_ticket_of_a_session_deleted_or_reopened_before_indexing_is_dropped() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    for id in ["gone", "again"] {
        store.create_session(&session(id, 1)).unwrap();
        let turn = agentrace_server::extract::Invocation::new(&json!({"user_text": "lemming"}));
        store
            .complete_sessions(&[(id.to_owned(), vec![turn])], 5)
            .unwrap();
    }
    assert_eq!(store.search_pending().unwrap(), 2);
    store.delete_session("gone").unwrap();
    assert_eq!(store.search_pending().unwrap(), 1);
    // New spans reopened it: its next completion issues another ticket.
    store.set_completed("again", None).unwrap();
    assert_eq!(store.index_pending(8).unwrap(), 1);
    assert_eq!(store.search_pending().unwrap(), 0);
    let hits = agentrace_server::search::search(&store, "lemming", 10).unwrap();
    assert!(hits.is_empty(), "{hits:?}");
}
