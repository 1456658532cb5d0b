//! The REST API under `/api` (documented in `docs/http-api.md`).

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    error::ApiError,
    ingest::session_summary,
    otlp::ingest_error,
    otlp_json,
    store::{SessionFilter, StoredItem},
};

type ApiResult = Result<Response, ApiError>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// `GET /api/health`: status, version, the staged traces (held now, deleted since start) and the
/// ingest workers (busy and waiting now, refused as overloaded since start).
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let (staged, expired) = state.ingest.staged();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "staged": { "traces": staged, "expired": expired },
        "ingest": state.workers.status(),
        "evaluations": state.evaluator.status(),
        "connections": {
            "liveSubscribers": state.live_slots.taken(),
            "wsIngest": state.ws_slots.taken(),
        },
    }))
}

/// `GET /api/config`: addresses, storage and every limit in force (never the token).
pub async fn config(State(state): State<AppState>) -> Json<Value> {
    let c = &state.config;
    let l = &c.limits;
    let s = &c.sessions;
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "host": c.host.to_string(),
        "port": state.bound.port,
        "otlp": { "httpPort": state.bound.otlp_http_port, "grpcPort": state.bound.otlp_grpc_port },
        "db": c.db.to_string(),
        "durability": c.durability.as_str(),
        "authRequired": c.auth_token.is_some(),
        "headless": c.headless,
        "corsOrigins": c.cors_origins,
        "allowedHosts": c.allowed_hosts,
        "limits": {
            "maxBodyBytes": l.max_body_bytes,
            "maxDecompressedBytes": l.max_decompressed_bytes,
            "maxWsMessageBytes": l.max_ws_message_bytes,
            "maxItemsPerRequest": l.max_items_per_request,
            "maxStringBytes": l.max_string_bytes,
            "maxSpansPerSession": l.max_spans_per_session,
            "maxLogsPerSession": l.max_logs_per_session,
            "maxSessions": l.max_sessions,
            "retentionSeconds": l.retention.map(|d| d.as_secs()),
            "liveBuffer": l.live_buffer,
            "maxLiveSubscribers": l.max_live_subscribers,
            "maxWsConnections": l.max_ws_connections,
            "grpcConcurrency": l.grpc_concurrency,
            "ingestWorkers": state.workers.status().workers,
            "ingestQueue": l.ingest_queue,
            "maxStagedTraces": l.max_staged_traces,
            "walLimitBytes": l.wal_limit_bytes,
            "maxDbBytes": l.max_db_bytes,
            "maxEvaluationsPerSession": l.max_evaluations_per_session,
            "maxConcurrentEvaluations": l.max_concurrent_evaluations,
            "maxNoteBytes": l.max_note_bytes,
        },
        "sessions": {
            "completionGraceSeconds": s.completion_grace.as_secs_f64(),
            "idleTimeoutSeconds": s.idle_timeout.as_secs_f64(),
            "rerunWindowSeconds": s.rerun_window.as_secs_f64(),
            "stagedTtlSeconds": s.staged_ttl.as_secs_f64(),
        },
    }))
}

/// Query of `GET /api/sessions`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `true` for complete sessions, `false` for live ones.
    complete: Option<bool>,
    /// Text the session key must contain.
    q: Option<String>,
    /// Eval set id.
    eval_set_id: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<u32>,
    /// Items to skip.
    offset: Option<u32>,
    /// `true` to list staged sessions too (traces waiting for a GenAI span or a key).
    include_staged: Option<bool>,
}

/// `GET /api/sessions`: newest first, filtered and paged.
pub async fn list_sessions(State(state): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".to_owned(),
        ));
    }
    let filter = SessionFilter {
        complete: q.complete,
        key_contains: q.q,
        eval_set_id: q.eval_set_id,
        include_staged: q.include_staged.unwrap_or(false),
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let store = Arc::clone(state.ingest.store());
    let (rows, total, previews, verdicts) = blocking(move || {
        let (rows, total) = store.sessions(&filter)?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let previews = crate::search::previews(&store, &ids)?;
        let verdicts = store.latest_verdicts(&ids)?;
        Ok((rows, total, previews, verdicts))
    })
    .await?;
    let sessions: Vec<Value> = rows
        .iter()
        .map(|row| {
            let summary = with_preview(session_summary(row), previews.get(&row.id));
            with_verdict(summary, verdicts.get(&row.id))
        })
        .collect();
    Ok(Json(json!({
        "sessions": sessions,
        "total": total,
        "limit": limit,
        "offset": q.offset.unwrap_or(0),
    }))
    .into_response())
}

/// A session summary with `latestEvaluation`: the verdict of its newest evaluation (`{"id",
/// "passed", "error", "evalSetId", "createdAtNs"}`), `null` before it has one.
fn with_verdict(mut summary: Value, verdict: Option<&Value>) -> Value {
    if let Some(obj) = summary.as_object_mut() {
        obj.insert(
            "latestEvaluation".to_owned(),
            verdict.cloned().unwrap_or(Value::Null),
        );
    }
    summary
}

/// A session summary with its `preview`: the first user message (cut to
/// [`crate::search::PREVIEW_CHARS`] characters), `null` before there is one.
fn with_preview(mut summary: Value, preview: Option<&String>) -> Value {
    if let Some(obj) = summary.as_object_mut() {
        obj.insert("preview".to_owned(), json!(preview));
    }
    summary
}

/// `GET /api/sessions/{id}`: the summary (with its preview), the invocations and their
/// annotations.
pub async fn get_session(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let ingest = Arc::clone(&state.ingest);
    blocking(move || {
        let row = ingest.store().session(&id)?;
        let invocations = ingest.invocations(&id)?;
        let preview = invocations
            .iter()
            .filter_map(|inv| inv.get("user_text").and_then(Value::as_str))
            .find(|text| !text.is_empty())
            .map(|text| {
                text.chars()
                    .take(crate::search::PREVIEW_CHARS)
                    .collect::<String>()
            });
        let annotations = crate::annotations::list(ingest.store(), &id)?;
        let verdicts = ingest.store().latest_verdicts(&[id.as_str()])?;
        let summary = with_preview(session_summary(&row), preview.as_ref());
        let mut summary = with_verdict(summary, verdicts.get(&id));
        if let Some(obj) = summary.as_object_mut() {
            obj.insert("invocationCount".to_owned(), json!(invocations.len()));
            obj.insert("invocations".to_owned(), Value::Array(invocations));
            obj.insert("annotations".to_owned(), json!(annotations));
        }
        Ok(Json(summary).into_response())
    })
    .await
}

fn items_json(items: &[StoredItem]) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            let mut body: Value = serde_json::from_str(&item.body).unwrap_or(Value::Null);
            let origin: Value = serde_json::from_str(&item.origin).unwrap_or(Value::Null);
            if let Some(obj) = body.as_object_mut() {
                obj.insert(
                    "resource".to_owned(),
                    origin.get("resource").cloned().unwrap_or(Value::Null),
                );
                obj.insert(
                    "scope".to_owned(),
                    origin.get("scope").cloned().unwrap_or(Value::Null),
                );
            }
            body
        })
        .collect()
}

/// Query of `GET /api/sessions/{id}/spans`.
#[derive(Debug, Deserialize)]
pub struct SpansQuery {
    /// Spans per page, 1 to [`MAX_SPANS_PAGE`]; without it, every span in one answer.
    limit: Option<u32>,
    /// Where the page starts: the `nextCursor` of the page before (absent for the first).
    cursor: Option<String>,
}

/// The largest page of `GET /api/sessions/{id}/spans`.
pub const MAX_SPANS_PAGE: u32 = 10_000;

/// `GET /api/sessions/{id}/spans`: OTLP/JSON spans in start order, each with its resource and
/// scope. With `limit`, one page of them: `{spans, total, nextCursor}` (`nextCursor` is `null` on
/// the last page).
pub async fn session_spans(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SpansQuery>,
) -> ApiResult {
    let page = match q.limit {
        None if q.cursor.is_some() => {
            return Err(ApiError::BadRequest("a cursor needs a limit".to_owned()));
        }
        None => None,
        Some(limit) if !(1..=MAX_SPANS_PAGE).contains(&limit) => {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_SPANS_PAGE}"
            )));
        }
        Some(limit) => {
            let offset = match q.cursor.as_deref() {
                None => 0,
                Some(c) => c
                    .parse::<usize>()
                    .ok()
                    .filter(|_| c.len() <= 20)
                    .ok_or_else(|| {
                        ApiError::BadRequest(
                            "invalid cursor: pass the nextCursor of the page before".to_owned(),
                        )
                    })?,
            };
            Some((offset, limit as usize))
        }
    };
    let store = Arc::clone(state.ingest.store());
    blocking(move || {
        store.session(&id)?;
        let Some((offset, limit)) = page else {
            let spans = store.spans(&id)?;
            return Ok(Json(json!({ "spans": items_json(&spans) })).into_response());
        };
        let (spans, total) = store.spans_page(&id, offset, limit)?;
        let end = offset.saturating_add(spans.len());
        let next = (end < total).then(|| end.to_string());
        Ok(
            Json(json!({ "spans": items_json(&spans), "total": total, "nextCursor": next }))
                .into_response(),
        )
    })
    .await
}

/// `GET /api/sessions/{id}/logs`: OTLP/JSON log records in time order.
pub async fn session_logs(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let store = Arc::clone(state.ingest.store());
    blocking(move || {
        store.session(&id)?;
        let logs = store.logs(&id)?;
        Ok(Json(json!({ "logs": items_json(&logs) })).into_response())
    })
    .await
}

/// `GET /api/sessions/{id}/invocations`: in the shape of `expected.json`'s `invocations`.
pub async fn session_invocations(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    let ingest = Arc::clone(&state.ingest);
    blocking(move || {
        ingest.store().session(&id)?;
        let invocations = ingest.invocations(&id)?;
        Ok(Json(json!({ "invocations": invocations })).into_response())
    })
    .await
}

/// `GET /api/sessions/{id}/export`: the session as one OTLP/JSON document, every resource stamped
/// with `agentevals.session_name`, ready for `agentrace run` or `agentevals run`.
pub async fn export_session(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let store = Arc::clone(state.ingest.store());
    blocking(move || {
        store.session(&id)?;
        let spans = store.spans(&id)?;
        let logs = store.logs(&id)?;
        let mut doc = otlp_json::document(
            &spans,
            &logs,
            &[(crate::ingest::AGENTEVALS_SESSION_NAME, id.as_str())],
        );
        // Annotations ride along under a key OTLP readers ignore.
        let annotations = crate::annotations::list(&store, &id)?;
        if let (Some(obj), false) = (doc.as_object_mut(), annotations.is_empty()) {
            obj.insert(
                "agentrace".to_owned(),
                json!({ "sessionId": id, "annotations": annotations }),
            );
        }
        Ok(Json(doc).into_response())
    })
    .await
}

/// `DELETE /api/sessions/{id}`.
pub async fn delete_session(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let ingest = Arc::clone(&state.ingest);
    blocking(move || {
        ingest.delete_session(&id).map_err(ingest_error)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// Checks an ADK EvalSet document; returns its id, name and case count.
pub fn validate_eval_set(body: &Value) -> Result<(String, Option<String>, usize), ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("an eval set is a JSON object".to_owned()))?;
    let id = obj
        .get("eval_set_id")
        .or_else(|| obj.get("evalSetId"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("eval set without an `eval_set_id`".to_owned()))?;
    let cases = obj
        .get("eval_cases")
        .or_else(|| obj.get("evalCases"))
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::BadRequest("eval set without an `eval_cases` array".to_owned()))?;
    for (i, case) in cases.iter().enumerate() {
        let has_id = case
            .get("eval_id")
            .or_else(|| case.get("evalId"))
            .and_then(Value::as_str)
            .is_some();
        if !has_id {
            return Err(ApiError::BadRequest(format!(
                "eval_cases[{i}] has no `eval_id`"
            )));
        }
        let conversation = case.get("conversation");
        if conversation.is_some_and(|c| !c.is_array()) {
            return Err(ApiError::BadRequest(format!(
                "eval_cases[{i}].conversation is not an array"
            )));
        }
    }
    let name = obj.get("name").and_then(Value::as_str).map(str::to_owned);
    Ok((id.to_owned(), name, cases.len()))
}

/// `POST /api/eval-sets`: stores (or replaces) an ADK EvalSet JSON document.
pub async fn put_eval_set(State(state): State<AppState>, body: axum::body::Bytes) -> ApiResult {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|err| ApiError::BadRequest(format!("invalid JSON: {err}")))?;
    let (id, name, cases) = validate_eval_set(&value)?;
    // Stored only if evaluation can read it: the error names the line and field.
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("an eval set is UTF-8 JSON".to_owned()))?;
    agentrace_eval::eval_set::EvalSet::from_json(text)
        .map_err(|e| ApiError::BadRequest(format!("not a valid eval set: {e}")))?;
    let store = Arc::clone(state.ingest.store());
    let reply = json!({ "id": id, "name": name, "caseCount": cases });
    blocking(move || {
        store.put_eval_set(&id, name.as_deref(), cases, &value)?;
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

/// `GET /api/eval-sets`.
pub async fn list_eval_sets(State(state): State<AppState>) -> ApiResult {
    let store = Arc::clone(state.ingest.store());
    let rows = blocking(move || Ok(store.eval_sets()?)).await?;
    Ok(Json(json!({ "evalSets": rows })).into_response())
}

/// `GET /api/eval-sets/{id}`.
pub async fn get_eval_set(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let store = Arc::clone(state.ingest.store());
    let body = blocking(move || Ok(store.eval_set(&id)?)).await?;
    Ok(Json(body).into_response())
}

/// Any other `/api` path.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such API endpoint".to_owned())
}
