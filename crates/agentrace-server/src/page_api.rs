//! The API the page judges runs with (documented in `docs/server.md`): search across sessions,
//! annotations of turns, and two sessions compared.
//!
//! - `GET /api/search?q=WORDS&limit=N`: turns of every session matching all the words
//!   ([`crate::search`]).
//! - `GET /api/sessions/{id}/annotations`, `PUT` and `DELETE
//!   /api/sessions/{id}/annotations/{index}`: a verdict and a note on a turn
//!   ([`crate::annotations`]).
//! - `GET /api/compare?a=ID&b=ID`: two sessions turn by turn ([`crate::compare`]).

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
    annotations::{self, AnnotateError, AnnotationInput},
    compare,
    error::ApiError,
    search::{self, SearchError},
};

type ApiResult = Result<Response, ApiError>;

/// The longest session id accepted in a query or a path (ids are producers' keys; the store
/// holds none longer than a string attribute, but a lookup needs no more than this).
pub const MAX_ID_BYTES: usize = 4096;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(ApiError::BadRequest(format!(
            "a session id is 1 to {MAX_ID_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A turn index from a path: a decimal number below [`MAX_TURN_INDEX`].
fn turn_index(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|i| (0..MAX_TURN_INDEX).contains(i))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "a turn index is a number from 0 to {}",
                MAX_TURN_INDEX - 1
            ))
        })
}

/// Turn indexes accepted (well above any session's turn count).
pub const MAX_TURN_INDEX: i64 = 1 << 31;

impl From<SearchError> for ApiError {
    fn from(err: SearchError) -> Self {
        match err {
            SearchError::BadQuery(message) => Self::BadRequest(message),
            SearchError::Store(err) => err.into(),
        }
    }
}

impl From<AnnotateError> for ApiError {
    fn from(err: AnnotateError) -> Self {
        match err {
            AnnotateError::Invalid(message) => Self::BadRequest(message),
            AnnotateError::NotFound(message) => Self::NotFound(message),
            AnnotateError::Store(err) => err.into(),
        }
    }
}

/// Query of `GET /api/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// The words.
    q: Option<String>,
    /// Results at most, 1 to [`search::MAX_RESULTS`] (default 20).
    limit: Option<u32>,
}

/// `GET /api/search?q=WORDS&limit=N`: `{results: [{sessionId, index, traceId, field, snippet,
/// preview}], limit}`, best first.
pub async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(20);
    if !(1..=search::MAX_RESULTS).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {}",
            search::MAX_RESULTS
        )));
    }
    let text = q.q.unwrap_or_default();
    let store = Arc::clone(state.ingest.store());
    let hits = blocking(move || Ok(search::search(&store, &text, limit)?)).await?;
    Ok(Json(json!({ "results": hits, "limit": limit })).into_response())
}

/// `GET /api/sessions/{id}/annotations`.
pub async fn list_annotations(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    check_id(&id)?;
    let store = Arc::clone(state.ingest.store());
    let list = blocking(move || Ok(annotations::list(&store, &id)?)).await?;
    Ok(Json(json!({ "annotations": list })).into_response())
}

/// `PUT /api/sessions/{id}/annotations/{index}` with `{verdict, note}`: the turn must exist.
pub async fn put_annotation(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult {
    check_id(&id)?;
    let index = turn_index(&index)?;
    let max = state.config.limits.max_note_bytes;
    // The body holds a note and a verdict: anything far larger is refused before parsing.
    if body.len() > max.saturating_mul(8).saturating_add(1024) {
        return Err(ApiError::TooLarge(format!(
            "an annotation is at most {max} bytes of note"
        )));
    }
    let input: AnnotationInput = serde_json::from_slice(&body)
        .map_err(|err| ApiError::BadRequest(format!("invalid annotation: {err}")))?;
    input.validate(max)?;
    let ingest = Arc::clone(&state.ingest);
    let saved = blocking(move || {
        ingest.store().session(&id)?;
        let turns = ingest.invocations(&id)?.len();
        if usize::try_from(index).map_or(true, |i| i >= turns) {
            return Err(ApiError::NotFound(format!(
                "session `{id}` has no turn {index} (it has {turns})"
            )));
        }
        Ok(annotations::put(ingest.store(), &id, index, &input)?)
    })
    .await?;
    Ok(Json(saved).into_response())
}

/// `DELETE /api/sessions/{id}/annotations/{index}`: 204, or 404 when the turn had none.
pub async fn delete_annotation(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult {
    check_id(&id)?;
    let index = turn_index(&index)?;
    let store = Arc::clone(state.ingest.store());
    let deleted = blocking(move || Ok(annotations::delete(&store, &id, index)?)).await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound("that turn has no annotation".to_owned()))
    }
}

/// Query of `GET /api/compare`.
#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    /// The first session.
    a: Option<String>,
    /// The second session.
    b: Option<String>,
}

/// A session's turn count, and its first [`compare::MAX_TURNS`] turns (invocations) with their
/// facts.
type Turns = (usize, Vec<(Value, compare::TurnFacts)>);

fn turns_with_facts(ingest: &crate::ingest::Ingest, id: &str) -> Result<Turns, ApiError> {
    ingest.store().session(id)?;
    let invocations = ingest.invocations(id)?;
    let total = invocations.len();
    let mut out = Vec::with_capacity(invocations.len().min(compare::MAX_TURNS));
    let mut traces: agentrace_loader::hash::Map<String, Vec<crate::store::StoredItem>> =
        agentrace_loader::hash::Map::default();
    for invocation in invocations.into_iter().take(compare::MAX_TURNS) {
        let trace_id = invocation
            .get("trace_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !traces.contains_key(&trace_id) {
            let (spans, _) = ingest.store().trace(id, &trace_id)?;
            traces.insert(trace_id.clone(), spans);
        }
        let anchor = invocation
            .get("invocation_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let calls = invocation
            .get("llm_call_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let spans = traces.get(&trace_id).map(Vec::as_slice).unwrap_or_default();
        let facts = compare::turn_facts(spans, anchor, calls);
        out.push((invocation, facts));
    }
    Ok((total, out))
}

/// `GET /api/compare?a=ID&b=ID`: `{a, b, turns: [{index, a, b, trajectory, answer}],
/// truncated}`.
pub async fn compare(State(state): State<AppState>, Query(q): Query<CompareQuery>) -> ApiResult {
    let (Some(a), Some(b)) = (q.a, q.b) else {
        return Err(ApiError::BadRequest(
            "compare needs two sessions: ?a=ID&b=ID".to_owned(),
        ));
    };
    check_id(&a)?;
    check_id(&b)?;
    let ingest = Arc::clone(&state.ingest);
    let body = blocking(move || {
        let (count_a, left) = turns_with_facts(&ingest, &a)?;
        let (count_b, right) = turns_with_facts(&ingest, &b)?;
        let n = left.len().max(right.len());
        let mut turns = Vec::with_capacity(n);
        let mut changes = (0usize, 0usize);
        for i in 0..n {
            let l = left.get(i);
            let r = right.get(i);
            let no_calls = Vec::new;
            let l_calls = l.map_or_else(no_calls, |(inv, _)| compare::calls(inv));
            let r_calls = r.map_or_else(no_calls, |(inv, _)| compare::calls(inv));
            let trajectory = compare::trajectory(&l_calls, &r_calls);
            let text = |side: Option<&(Value, compare::TurnFacts)>| {
                side.and_then(|(inv, _)| inv.get("agent_text").and_then(Value::as_str))
                    .unwrap_or("")
                    .to_owned()
            };
            let answer = compare::word_diff(&text(l), &text(r));
            if trajectory.iter().any(|op| op["op"] != "same") {
                changes.0 += 1;
            }
            if answer.iter().any(|part| part["op"] != "same") {
                changes.1 += 1;
            }
            turns.push(json!({
                "index": i,
                "a": l.map(|(inv, facts)| compare::side(inv, facts)),
                "b": r.map(|(inv, facts)| compare::side(inv, facts)),
                "trajectory": trajectory,
                "answer": answer,
            }));
        }
        Ok(json!({
            "a": { "id": a, "turnCount": count_a },
            "b": { "id": b, "turnCount": count_b },
            "turns": turns,
            "turnsWithTrajectoryChanges": changes.0,
            "turnsWithAnswerChanges": changes.1,
            "truncated": count_a.max(count_b) > compare::MAX_TURNS,
        }))
    })
    .await?;
    Ok(Json(body).into_response())
}
