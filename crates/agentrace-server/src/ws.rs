//! The WebSocket ingest protocol at `/ws/traces` (agentevals' legacy streaming protocol, kept so
//! its processors work unchanged; `docs/server.md` has the messages).
//!
//! Client → server, JSON text frames: `session_start`, `span` (one OTLP/JSON span), `spans` (an
//! array, our batching extension), `log`, `session_end`. Server → client: `session_started`,
//! `session_complete` with the invocations, and `error` with a message. Unlike the reference, a
//! span for an unknown session is answered with an error instead of being dropped silently, and a
//! limit is reported per message.

use std::sync::Arc;

use agentrace_loader::{
    model::{AnyValue, Attributes, KeyValue, LogRecord, Span, Telemetry},
    read::{Format, LoadOptions, load_bytes},
};
use axum::{
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::{
    AppState,
    ingest::{Ingest, IngestError},
    workers::Workers,
};

/// `GET /ws/traces`: upgrades to the ingest protocol.
///
/// At most [`crate::config::Limits::max_ws_connections`] connections at once; one more gets 503
/// with `Retry-After`.
pub async fn traces(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let Some(slot) = state.ws_slots.take() else {
        return crate::live::too_many(
            "WebSocket ingest connections",
            state.ws_slots.max(),
            "--max-ws-connections",
        );
    };
    let ingest = Arc::clone(&state.ingest);
    let workers = Arc::clone(&state.workers);
    upgrade
        .max_message_size(state.config.limits.max_ws_message_bytes)
        .on_upgrade(move |socket| async move {
            session_loop(socket, ingest, workers).await;
            drop(slot);
        })
}

async fn session_loop(socket: WebSocket, ingest: Arc<Ingest>, workers: Arc<Workers>) {
    let (mut sink, mut stream) = socket.split();
    // One message is applied while the next is parsed: parsing needs no server state, applying
    // must follow the connection's order. The channel holds one parsed message, so a connection
    // has at most three messages in the server (one applying, one parsed, one parsing). Each
    // waits for a worker however long it takes instead of being refused; the client's further
    // messages wait in the connection.
    let (parsed_tx, mut parsed) = tokio::sync::mpsc::channel::<Prepared>(1);
    // The connection's names: applied one message at a time, so never contended.
    let connection = Arc::new(parking_lot::Mutex::new(Connection::default()));
    let read = async {
        while let Some(Ok(message)) = stream.next().await {
            let text = match message {
                Message::Text(text) => text.to_string(),
                Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            let prepared = workers
                .run_waiting(move || prepare(&text))
                .await
                .unwrap_or_else(|e| Prepared::Reply(error(&format!("internal error: {e}"))));
            if parsed_tx.send(prepared).await.is_err() {
                break;
            }
        }
        // Dropping the sender lets the applier finish what was read, then stop.
        drop(parsed_tx);
    };
    let apply_all = async {
        while let Some(prepared) = parsed.recv().await {
            let ingest = Arc::clone(&ingest);
            let connection = Arc::clone(&connection);
            let reply = workers
                .run_waiting(move || apply(&ingest, &mut connection.lock(), prepared))
                .await
                .unwrap_or_else(|e| Some(error(&format!("internal error: {e}"))));
            if let Some(reply) = reply
                && sink
                    .send(Message::Text(reply.to_string().into()))
                    .await
                    .is_err()
            {
                break;
            }
        }
        // Stops the reader too: its next parsed message has nowhere to go.
        drop(parsed);
    };
    tokio::join!(read, apply_all);
}

fn error(message: &str) -> Value {
    json!({ "type": "error", "message": message })
}

/// The reply to a failed write: an `error`, with `retry_after` (seconds) when the failure is
/// passing (a full or busy database, a capacity reached) and nothing of the message was stored,
/// so the client may send the same message again later.
fn ingest_error(err: &IngestError) -> Value {
    let mut reply = error(&err.to_string());
    let transient = match err {
        IngestError::Unavailable(_) => true,
        IngestError::Store(store) => store.is_transient(),
    };
    if transient && let Some(obj) = reply.as_object_mut() {
        obj.insert(
            "retry_after".to_owned(),
            json!(crate::error::ApiError::RETRY_AFTER_SECS),
        );
    }
    reply
}

/// A client message: the envelope is decoded, the span payload is kept as raw JSON and handed to
/// the loader's reader as it is (not parsed into a JSON tree and written out again).
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", default)]
    kind: Option<Value>,
    #[serde(default)]
    session_id: Option<Value>,
    #[serde(borrow, default)]
    span: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    spans: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    log: Option<Value>,
    #[serde(default)]
    eval_set_id: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
}

/// Handles one client message of `connection`; returns the reply, if any ([`prepare`], then
/// [`apply`]).
pub fn handle(ingest: &Ingest, connection: &mut Connection, text: &str) -> Option<Value> {
    apply(ingest, connection, prepare(text))
}

/// What a connection remembers: the sessions it started that are stored under another id (a
/// `session_start` naming a session another producer made opens a new generation instead of
/// replacing it; the client's later messages with that name go to the new one).
#[derive(Debug, Default)]
pub struct Connection {
    renamed: agentrace_loader::hash::Map<String, String>,
}

impl Connection {
    /// The stored id of the client's session `name`.
    fn id<'a>(&'a self, name: &'a str) -> &'a str {
        self.renamed.get(name).map_or(name, String::as_str)
    }
}

/// A client message, read and parsed: everything about it that does not depend on the server's
/// state, so the next message is parsed while this one is applied.
#[derive(Debug)]
pub enum Prepared {
    /// Answered without the server's state: unreadable JSON, no `session_id`, an unknown type.
    Reply(Value),
    /// `session_start`.
    Start {
        /// The session.
        session_id: String,
        /// `eval_set_id`, if a string.
        eval_set_id: Option<String>,
        /// `metadata`, if an object.
        metadata: Value,
    },
    /// `span` or `spans`: the spans read and a reason per span that was not, or why the payload
    /// is missing.
    Spans {
        /// The session.
        session_id: String,
        /// The spans and the reasons, or the payload problem.
        spans: Result<(Vec<Span>, Vec<String>), String>,
    },
    /// `log`: the record, or why it could not be read.
    Log {
        /// The session.
        session_id: String,
        /// The record, or the problem.
        record: Result<LogRecord, String>,
    },
    /// `session_end`.
    End {
        /// The session.
        session_id: String,
    },
}

/// Reads one client message (pure: no server state).
pub fn prepare(text: &str) -> Prepared {
    let message: Envelope<'_> = match serde_json::from_str::<Envelope<'_>>(text) {
        Ok(v) => v,
        Err(err) => {
            // Valid JSON that is not an object gets the same answers as an object without the
            // fields; anything else is invalid JSON.
            return Prepared::Reply(match serde_json::from_str::<Value>(text) {
                Ok(_) => error("`` message without a `session_id`"),
                Err(_) => error(&format!("invalid JSON message: {err}")),
            });
        }
    };
    let kind = message
        .kind
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(session_id) = message.session_id.as_ref().and_then(Value::as_str) else {
        return Prepared::Reply(error(&format!("`{kind}` message without a `session_id`")));
    };
    if session_id.chars().count() > crate::sessions::MAX_KEY_CHARS {
        return Prepared::Reply(error(&format!(
            "`session_id` longer than {} characters",
            crate::sessions::MAX_KEY_CHARS
        )));
    }
    let session_id = session_id.to_owned();
    match kind {
        "session_start" => Prepared::Start {
            session_id,
            eval_set_id: message
                .eval_set_id
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_owned),
            metadata: message
                .metadata
                .filter(Value::is_object)
                .unwrap_or(json!({})),
        },
        "span" | "spans" => {
            let list = match (kind, message.span, message.spans) {
                ("span", Some(span), _) if span.get().starts_with('{') => {
                    Ok(format!("[{}]", span.get()))
                }
                ("spans", _, Some(spans)) if spans.get().starts_with('[') => {
                    Ok(spans.get().to_owned())
                }
                _ => Err(format!("`{kind}` message without its payload")),
            };
            Prepared::Spans {
                session_id,
                spans: list.map(|list| parse_spans(&list)),
            }
        }
        "log" => Prepared::Log {
            session_id,
            record: message
                .log
                .as_ref()
                .ok_or_else(|| "`log` message without a `log`".to_owned())
                .and_then(parse_log),
        },
        "session_end" => Prepared::End { session_id },
        other => Prepared::Reply(error(&format!("unknown message type `{other}`"))),
    }
}

/// Applies a read message to the server's state; returns the reply, if any. Spans and logs for
/// a session that was never started are refused, before any problem of their payload.
pub fn apply(ingest: &Ingest, connection: &mut Connection, prepared: Prepared) -> Option<Value> {
    let unknown = |session_id: &str| {
        Some(error(&format!(
            "unknown session `{session_id}`: send session_start first"
        )))
    };
    match prepared {
        Prepared::Reply(reply) => Some(reply),
        Prepared::Start {
            session_id,
            eval_set_id,
            metadata,
        } => match ingest.open_session(&session_id, eval_set_id, metadata) {
            Ok(id) if id == session_id => {
                connection.renamed.remove(&session_id);
                Some(json!({ "type": "session_started", "session_id": session_id }))
            }
            Ok(id) => {
                let reply = json!({
                    "type": "session_started",
                    "session_id": session_id,
                    "stored_as": id,
                });
                connection.renamed.insert(session_id, id);
                Some(reply)
            }
            Err(err) => Some(ingest_error(&err)),
        },
        Prepared::Spans { session_id, spans } => {
            let session_id = connection.id(&session_id).to_owned();
            if !ingest.has_session(&session_id) {
                return unknown(&session_id);
            }
            let (spans, mut problems) = match spans {
                Ok(read) => read,
                Err(problem) => return Some(error(&problem)),
            };
            if let Err(problem) = ingest.check_items((spans.len() + problems.len()) as u64) {
                return Some(error(&problem));
            }
            // Problems are summarized (a few named, the rest counted): a frame of many bad
            // spans gets a short answer.
            let unread = (!problems.is_empty()).then(|| crate::ingest::summarize(&problems));
            problems.clear();
            match ingest.spans_for_session(&session_id, spans) {
                Ok(outcome) if outcome.rejected > 0 => {
                    problems.extend(unread);
                    problems.push(outcome.error_message());
                    Some(error(&problems.join("; ")))
                }
                Ok(_) if unread.is_some() => unread.map(|u| error(&u)),
                Ok(_) => None,
                Err(err) => Some(ingest_error(&err)),
            }
        }
        Prepared::Log { session_id, record } => {
            let session_id = connection.id(&session_id).to_owned();
            if !ingest.has_session(&session_id) {
                return unknown(&session_id);
            }
            let record = match record {
                Ok(record) => record,
                Err(problem) => return Some(error(&problem)),
            };
            match ingest.logs_for_session(&session_id, vec![record]) {
                Ok(outcome) if outcome.rejected > 0 => Some(error(&outcome.error_message())),
                Ok(_) => None,
                Err(err) => Some(ingest_error(&err)),
            }
        }
        Prepared::End { session_id } => match ingest.end_session(connection.id(&session_id)) {
            Ok(invocations) => Some(json!({
                "type": "session_complete",
                "session_id": session_id,
                "invocations": invocations
                    .iter()
                    .map(|i| camel_invocation(&i.to_value()))
                    .collect::<Vec<_>>(),
            })),
            Err(err) => Some(ingest_error(&err)),
        },
    }
}

/// Reads OTLP/JSON with the loader's reader (the one trace files and `/v1/*` JSON use), as the
/// given format; returns the telemetry and a reason per item that could not be read.
fn read_json(bytes: &[u8], format: Format) -> Result<(Telemetry, Vec<String>), String> {
    let loaded = load_bytes(
        bytes,
        LoadOptions {
            format: Some(format),
        },
    )
    .map_err(|err| err.to_string())?;
    let issues = loaded.issues.iter().map(ToString::to_string).collect();
    Ok((loaded.telemetry, issues))
}

/// Parses a JSON array of OTLP/JSON span objects; returns the spans and a reason per span that
/// failed. The array is read as the spans of a document with an empty resource and scope (what
/// bare spans are), so canonical spans take the loader's typed fast path.
fn parse_spans(list: &str) -> (Vec<Span>, Vec<String>) {
    let document = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":{list}}}]}}]}}"#);
    match read_json(document.as_bytes(), Format::OtlpJson) {
        Ok((telemetry, problems)) => (telemetry.spans, problems),
        Err(problem) => (Vec::new(), vec![format!("spans rejected: {problem}")]),
    }
}

/// Parses a log: an OTLP/JSON log record, or the legacy processor's plain shape
/// `{"event_name", "timestamp", "body": {...}, "attributes": {...}}`.
fn parse_log(value: &Value) -> Result<LogRecord, String> {
    let is_otlp = value.get("timeUnixNano").is_some()
        || value.get("traceId").is_some()
        || value.get("eventName").is_some()
        || value.get("attributes").is_some_and(Value::is_array);
    if is_otlp {
        let document = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [value]}]}]});
        let (mut telemetry, problems) =
            read_json(document.to_string().as_bytes(), Format::OtlpJson)
                .map_err(|err| format!("log rejected: {err}"))?;
        if let Some(problem) = problems.first() {
            return Err(format!("log rejected: {problem}"));
        }
        return telemetry
            .logs
            .pop()
            .ok_or_else(|| "log rejected: empty record".to_owned());
    }
    let mut record = LogRecord {
        event_name: value
            .get("event_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        time_ns: value
            .get("timestamp")
            .and_then(|t| {
                t.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| t.as_u64())
            })
            .unwrap_or_default(),
        body: value
            .get("body")
            .map(AnyValue::from_json)
            .unwrap_or_default(),
        ..LogRecord::default()
    };
    if let Some(Value::Object(attrs)) = value.get("attributes") {
        record.attributes = Attributes(
            attrs
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), AnyValue::from_json(v)))
                .collect(),
        );
    }
    Ok(record)
}

/// An invocation in the reference's WebSocket shape (camelCase, `modelInfo`).
fn camel_invocation(invocation: &Value) -> Value {
    let get = |k: &str| invocation.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "invocationId": get("invocation_id"),
        "userText": get("user_text"),
        "agentText": get("agent_text"),
        "toolCalls": get("tool_calls"),
        "toolResponses": get("tool_responses"),
        "modelInfo": { "models": get("models") },
    })
}
