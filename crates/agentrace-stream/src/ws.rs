//! The WebSocket transport: the live-session protocol of `/ws/traces` (seed 004, as
//! `agentrace serve` speaks it; `docs/server.md`).
//!
//! On connect it sends `session_start` and waits for `session_started`; spans go as `spans`
//! messages (one per run of spans in a batch), log records as `log` messages with their trace and
//! span ids; at the end `session_end`, answered by `session_complete` with the invocations.
//!
//! The protocol has no acknowledgement per message, so every message sent is kept (up to
//! [`WebSocketConfig::max_replay_bytes`]). When the connection breaks (the server restarted),
//! the transport connects again with backoff, sends `session_start` again (the server replaces
//! the session of that id) and then every kept message, so the session holds everything it held
//! before, then goes on where it was.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use futures::{FutureExt, SinkExt, StreamExt, future::BoxFuture};
use opentelemetry_proto::tonic::{logs::v1::LogRecord as ProtoLog, trace::v1::Span as ProtoSpan};
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

use crate::{
    Invocation,
    transport::{Finish, Record, Transport, TransportError},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The session a WebSocket transport opens.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSocketConfig {
    /// `ws://host:port/ws/traces`.
    pub url: String,
    /// The session id.
    pub session_id: String,
    /// The eval set the session is meant for.
    pub eval_set_id: Option<String>,
    /// Free-form metadata sent with `session_start`.
    pub metadata: Map<String, Value>,
    /// A bearer token for servers started with `--auth-token`.
    pub auth_token: Option<String>,
    /// How long connecting (and the `session_started` answer) may take.
    pub connect_timeout: Duration,
    /// Bytes of sent messages kept for a replay after a reconnect; older messages past this
    /// are forgotten (and counted) and would be missing after a reconnect.
    pub max_replay_bytes: usize,
}

impl WebSocketConfig {
    /// A session `session_id` at `url`, with the defaults.
    pub fn new(url: impl Into<String>, session_id: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            session_id: session_id.into(),
            eval_set_id: None,
            metadata: Map::new(),
            auth_token: None,
            connect_timeout: Duration::from_secs(2),
            max_replay_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A batch encoded as protocol messages.
#[derive(Debug)]
pub struct WsBatch {
    frames: Vec<String>,
    records: usize,
}

impl WsBatch {
    /// The protocol messages (JSON text), in order.
    pub fn frames(&self) -> &[String] {
        &self.frames
    }
}

/// The WebSocket transport ([`Transport`]).
#[derive(Debug)]
pub struct WebSocketTransport {
    config: WebSocketConfig,
    socket: Option<Socket>,
    replay: VecDeque<String>,
    replay_bytes: usize,
    /// Messages forgotten because the replay budget was full.
    forgotten: u64,
    connects: u64,
    server_errors: u64,
    last_server_error: Option<String>,
}

impl WebSocketTransport {
    /// A transport for the session of `config`; it connects on first use.
    pub fn new(config: WebSocketConfig) -> Self {
        Self {
            config,
            socket: None,
            replay: VecDeque::new(),
            replay_bytes: 0,
            forgotten: 0,
            connects: 0,
            server_errors: 0,
            last_server_error: None,
        }
    }

    /// Messages dropped from the replay budget so far.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    fn start_message(&self) -> String {
        json!({
            "type": "session_start",
            "session_id": self.config.session_id,
            "eval_set_id": self.config.eval_set_id,
            "metadata": self.config.metadata,
        })
        .to_string()
    }

    fn note_server_error(&mut self, message: &Value) {
        self.server_errors += 1;
        self.last_server_error = Some(
            message
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_owned(),
        );
    }

    /// Connects, opens the session and sends every kept message again.
    async fn connect(&mut self) -> Result<(), TransportError> {
        let timeout = self.config.connect_timeout;
        let unreachable = |e: String| TransportError::Unreachable(e);
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                self.config.url.as_str(),
            )
            .map_err(|e| TransportError::Rejected(format!("bad WebSocket URL: {e}")))?;
        if let Some(token) = &self.config.auth_token
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            request.headers_mut().insert("authorization", value);
        }
        let (mut socket, _) = tokio::time::timeout(timeout, connect_async(request))
            .await
            .map_err(|_| unreachable("connect timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        socket
            .send(Message::text(self.start_message()))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let started = async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        match value.get("type").and_then(Value::as_str) {
                            Some("session_started") => return Ok(()),
                            Some("error") => {
                                return Err(TransportError::Unreachable(format!(
                                    "session_start refused: {}",
                                    value.get("message").and_then(Value::as_str).unwrap_or("")
                                )));
                            }
                            _ => {}
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(unreachable(e.to_string())),
                    None => return Err(unreachable("connection closed".into())),
                }
            }
        };
        tokio::time::timeout(timeout, started)
            .await
            .map_err(|_| unreachable("no answer to session_start".into()))??;
        for frame in &self.replay {
            socket
                .feed(Message::text(frame.clone()))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
        }
        socket
            .flush()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        self.connects += 1;
        self.socket = Some(socket);
        Ok(())
    }

    async fn ensure_connected(&mut self) -> Result<&mut Socket, TransportError> {
        if self.socket.is_none() {
            self.connect().await?;
        }
        self.socket
            .as_mut()
            .ok_or_else(|| TransportError::Unreachable("not connected".into()))
    }

    /// Reads what the server sent without waiting: error messages are counted; a closed
    /// connection is noticed (the next send connects again).
    fn read_ready(&mut self) {
        let mut errors = Vec::new();
        let mut closed = false;
        if let Some(socket) = self.socket.as_mut() {
            while let Some(next) = socket.next().now_or_never() {
                match next {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(value) = serde_json::from_str::<Value>(&text)
                            && value.get("type").and_then(Value::as_str) == Some("error")
                        {
                            errors.push(value);
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        closed = true;
                        break;
                    }
                    Some(Ok(_)) => {}
                }
            }
        }
        for e in &errors {
            self.note_server_error(e);
        }
        if closed {
            self.socket = None;
        }
    }

    fn keep(&mut self, frames: &[String]) {
        for frame in frames {
            self.replay_bytes += frame.len();
            self.replay.push_back(frame.clone());
        }
        while self.replay_bytes > self.config.max_replay_bytes {
            match self.replay.pop_front() {
                Some(old) => {
                    self.replay_bytes -= old.len();
                    self.forgotten += 1;
                }
                None => break,
            }
        }
    }

    async fn send_frames(&mut self, frames: &[String]) -> Result<(), TransportError> {
        let socket = self.ensure_connected().await?;
        let mut result = Ok(());
        for frame in frames {
            if let Err(e) = socket.feed(Message::text(frame.clone())).await {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            result = socket.flush().await;
        }
        if let Err(e) = result {
            self.socket = None;
            return Err(TransportError::Unreachable(e.to_string()));
        }
        self.keep(frames);
        self.read_ready();
        Ok(())
    }

    /// Sends `session_end` and waits for `session_complete`.
    async fn end_once(&mut self) -> Result<Vec<Invocation>, TransportError> {
        let end = json!({"type": "session_end", "session_id": self.config.session_id}).to_string();
        let socket = self.ensure_connected().await?;
        if let Err(e) = socket.send(Message::text(end)).await {
            self.socket = None;
            return Err(TransportError::Unreachable(e.to_string()));
        }
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return Err(TransportError::Unreachable("connection closed".into()));
            };
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    match value.get("type").and_then(Value::as_str) {
                        Some("session_complete") => {
                            let invocations = value
                                .get("invocations")
                                .and_then(Value::as_array)
                                .map(|list| list.iter().map(Invocation::from_json).collect())
                                .unwrap_or_default();
                            let _ = socket.close(None).await;
                            self.socket = None;
                            return Ok(invocations);
                        }
                        Some("error") => self.note_server_error(&value),
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    self.socket = None;
                    return Err(TransportError::Unreachable(
                        "connection closed before session_complete".into(),
                    ));
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

/// One log record as OTLP/JSON, with its trace and span ids.
pub(crate) fn log_json(record: &opentelemetry_sdk::logs::SdkLogRecord) -> Value {
    serde_json::to_value(ProtoLog::from(record)).unwrap_or(Value::Null)
}

impl Transport for WebSocketTransport {
    type Batch = WsBatch;

    fn encode(&mut self, records: Vec<Record>) -> WsBatch {
        let count = records.len();
        // `"session_id":"…"`, written once per batch.
        let session = serde_json::to_string(&self.config.session_id).unwrap_or_default();
        let mut frames = Vec::new();
        // The open `spans` message, written straight as bytes (no JSON tree per span).
        let mut open: Option<Vec<u8>> = None;
        let close = |mut frame: Vec<u8>, frames: &mut Vec<String>| {
            frame.extend_from_slice(b"]}");
            // serde_json writes UTF-8 only, so this never fails; if it did, the message would
            // be replaced by an empty `spans` message rather than sent broken.
            frames.push(String::from_utf8(frame).unwrap_or_default());
        };
        for record in records {
            match record {
                Record::Span(span) => {
                    let frame = match open.as_mut() {
                        Some(frame) => {
                            frame.push(b',');
                            frame
                        }
                        None => open.insert(
                            format!(r#"{{"type":"spans","session_id":{session},"spans":["#)
                                .into_bytes(),
                        ),
                    };
                    if serde_json::to_writer(&mut *frame, &ProtoSpan::from(span)).is_err() {
                        frame.extend_from_slice(b"null");
                    }
                }
                Record::Log(log) => {
                    if let Some(frame) = open.take() {
                        close(frame, &mut frames);
                    }
                    frames.push(
                        json!({"type": "log", "session_id": self.config.session_id, "log": log_json(&log.0)})
                            .to_string(),
                    );
                }
            }
        }
        if let Some(frame) = open.take() {
            close(frame, &mut frames);
        }
        WsBatch {
            frames,
            records: count,
        }
    }

    fn len(batch: &WsBatch) -> usize {
        batch.records
    }

    fn send<'a>(&'a mut self, batch: &'a WsBatch) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(self.send_frames(&batch.frames))
    }

    fn warm_up(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {
            let _ = self.ensure_connected().await;
        })
    }

    fn finish(&mut self, deadline: Instant) -> BoxFuture<'_, Result<Finish, TransportError>> {
        Box::pin(async move {
            let mut backoff = Duration::from_millis(50);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let attempt = tokio::time::timeout(left, self.end_once()).await;
                match attempt {
                    Ok(Ok(invocations)) => {
                        return Ok(Finish {
                            invocations: Some(invocations),
                        });
                    }
                    Ok(Err(TransportError::Rejected(e))) => {
                        return Err(TransportError::Rejected(e));
                    }
                    Ok(Err(e)) if Instant::now() + backoff >= deadline => return Err(e),
                    Ok(Err(_)) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                    Err(_) => {
                        return Err(TransportError::Unreachable(
                            "no session_complete before the shutdown deadline".into(),
                        ));
                    }
                }
            }
        })
    }

    fn reconnects(&self) -> u64 {
        self.connects.saturating_sub(1)
    }

    fn replay_forgotten(&self) -> u64 {
        self.forgotten
    }

    fn server_errors(&self) -> (u64, Option<String>) {
        (self.server_errors, self.last_server_error.clone())
    }
}
