//! Evaluation in the server: a session (or uploaded trace files) scored against an eval set
//! with `agentrace-eval`, the same scoring as `agentrace run`.
//!
//! - `POST /api/sessions/{id}/evaluate` evaluates one session now; the result is stored with the
//!   session, listed by `GET /api/sessions/{id}/evaluations` and announced live
//!   (`evaluation_complete` on SSE and `/ws/live`).
//! - A session that names an eval set (WebSocket `session_start`'s `eval_set_id`, or the resource
//!   attribute `agentevals.eval_set_id`) is evaluated when it completes, with the operator's
//!   evaluators (`--eval-config`) or the default trajectory metric.
//! - `POST /api/evaluate` evaluates uploaded trace files (multipart, as agentevals' endpoint of
//!   the same path), without storing them.
//!
//! A session is one evaluation unit, whatever keys its traces carry: its turns in start order,
//! paired with the eval set's case as a file's only group is.
//!
//! Nothing a client sends names a file to read or a program to run: a request's evaluators are
//! builtin metrics, or names of evaluators the operator's config defines (custom programs and
//! judge endpoints and keys come only from there).

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use agentrace_eval::{
    config::{EvalConfig, EvaluatorDef, Overrides},
    eval_set::EvalSet,
    evaluate::MetricSpec,
    invocation::Group,
    metrics::trajectory::MatchType,
    output::{FileResult, RunError, RunReport},
    run::evaluate_groups,
};
use agentrace_loader::{
    extract::{ExtractOptions, GroupBy, extract, extract_one_group},
    read::{Format, LoadOptions, load_bytes},
    trace::TraceSet,
};
use axum::{
    Json,
    extract::{Multipart, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{sync::watch, task::JoinHandle};

use crate::{AppState, StartError, error::ApiError, live::LiveEvent, store::now_ns};

/// Metrics an `evaluation_complete` event lists at most (the whole evaluation is in the API).
pub const MAX_EVENT_METRICS: usize = 64;
/// Evaluators one request may name.
pub const MAX_REQUEST_EVALUATORS: usize = 32;
/// Trace files one upload may carry.
pub const MAX_UPLOAD_FILES: usize = 64;
/// Bytes of an eval set sent inline or uploaded.
pub const MAX_EVAL_SET_BYTES: usize = 8 << 20;

/// Sessions completed and waiting for their evaluation at completion: each id once, so the
/// queue holds at most as many as the store holds sessions (`--max-sessions`).
#[derive(Debug, Clone, Default)]
pub struct Completions {
    inner: Arc<CompletionsInner>,
}

#[derive(Debug, Default)]
struct CompletionsInner {
    queue: Mutex<(VecDeque<String>, agentrace_loader::hash::Set<String>)>,
    ready: tokio::sync::Notify,
}

impl Completions {
    /// Queues a completed session (once: a session already waiting is not queued again).
    pub fn push(&self, session_id: &str) {
        let mut q = self.inner.queue.lock();
        let (order, waiting) = &mut *q;
        if waiting.insert(session_id.to_owned()) {
            order.push_back(session_id.to_owned());
        }
        drop(q);
        self.inner.ready.notify_one();
    }

    fn pop(&self) -> Option<String> {
        let mut q = self.inner.queue.lock();
        let (order, waiting) = &mut *q;
        let id = order.pop_front()?;
        waiting.remove(&id);
        Some(id)
    }

    /// Sessions waiting.
    pub fn len(&self) -> usize {
        self.inner.queue.lock().0.len()
    }

    /// No session waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The server's evaluation state: the operator's evaluators, the bound on evaluations at once,
/// the completion queue and counters.
#[derive(Debug)]
pub struct Evaluator {
    /// The operator's eval config (`--eval-config`), if any.
    operator: Option<EvalConfig>,
    /// Evaluations running now, bounded.
    slots: crate::live::Slots,
    /// Completed sessions waiting for their evaluation.
    pub completions: Completions,
    /// Evaluations at completion done (since start).
    auto_done: AtomicU64,
    /// Evaluations at completion that could not be stored (since start), e.g. past
    /// `max_evaluations_per_session`.
    auto_refused: AtomicU64,
}

impl Evaluator {
    /// Reads the operator's config, if any, and checks that its evaluators build.
    pub fn new(config: &crate::ServerConfig) -> Result<Self, StartError> {
        let operator = match &config.eval_config {
            Some(path) => {
                let cfg = EvalConfig::from_path(path).map_err(|e| StartError::EvalConfig {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                agentrace_eval::config::specs(Some(&cfg), &Overrides::default()).map_err(|e| {
                    StartError::EvalConfig {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    }
                })?;
                Some(cfg)
            }
            None => None,
        };
        Ok(Self {
            operator,
            slots: crate::live::Slots::new(config.limits.max_concurrent_evaluations.max(1)),
            completions: Completions::default(),
            auto_done: AtomicU64::new(0),
            auto_refused: AtomicU64::new(0),
        })
    }

    /// `/api/health`'s view: running, waiting at completion, done and refused since start.
    pub fn status(&self) -> Value {
        json!({
            "running": self.slots.taken(),
            "max": self.slots.max(),
            "waiting": self.completions.len(),
            "atCompletion": self.auto_done.load(Ordering::Relaxed),
            "refused": self.auto_refused.load(Ordering::Relaxed),
            "operatorEvaluators": self
                .operator
                .as_ref()
                .map(|c| c.evaluators.iter().map(|e| e.name.clone()).collect::<Vec<_>>()),
        })
    }

    /// The metrics of a request: builtin metrics by name (`metrics`, or `evaluators` entries of
    /// type `builtin`), and the operator's evaluators by name. A request that names a program, a
    /// judge endpoint, a key variable or a credential is refused: those come only from the
    /// operator's config. Without any, the operator's evaluators, else the default trajectory
    /// metric.
    pub fn specs(&self, req: &MetricsRequest) -> Result<Vec<MetricSpec>, ApiError> {
        let bad = |m: String| ApiError::BadRequest(m);
        let given = req.evaluators.as_deref().unwrap_or_default();
        if given.len() + req.metrics.len() > MAX_REQUEST_EVALUATORS {
            return Err(bad(format!(
                "at most {MAX_REQUEST_EVALUATORS} evaluators and metrics per request"
            )));
        }
        let match_type = req
            .trajectory_match_type
            .as_deref()
            .map(str::parse::<MatchType>)
            .transpose()
            .map_err(|e| bad(format!("trajectoryMatchType: {e}")))?;
        if let Some(t) = req.threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(bad(format!("threshold must be between 0 and 1, not {t}")));
        }
        let operator = self.operator.clone().unwrap_or_default();
        let mut evaluators = Vec::with_capacity(given.len());
        for ev in given {
            let operator_only = [
                ("path", ev.path.is_some()),
                ("executor", ev.executor.is_some()),
                ("timeout", ev.timeout.is_some()),
                ("judge_base_url", ev.judge_base_url.is_some()),
                ("api_key_env", ev.api_key_env.is_some()),
                ("credential_ref", ev.credential_ref.is_some()),
            ];
            if let Some((field, _)) = operator_only.iter().find(|(_, set)| *set) {
                return Err(bad(format!(
                    "evaluator `{}`: `{field}` is set by the operator in --eval-config, \
                     never by a request",
                    ev.name
                )));
            }
            if let Some(op) = operator.evaluators.iter().find(|o| o.name == ev.name) {
                let mut op = op.clone();
                if ev.threshold.is_some() {
                    op.threshold = ev.threshold;
                }
                evaluators.push(op);
                continue;
            }
            if ev.kind != "builtin" {
                return Err(bad(format!(
                    "evaluator `{}`: type `{}` is not accepted in a request; custom evaluators \
                     come only from the server's --eval-config",
                    ev.name, ev.kind
                )));
            }
            evaluators.push(ev.clone());
        }
        let explicit = !evaluators.is_empty() || !req.metrics.is_empty();
        let cfg = EvalConfig {
            evaluators: if explicit {
                evaluators
            } else {
                operator.evaluators.clone()
            },
            judge: operator.judge.clone(),
            base_dir: operator.base_dir.clone(),
            ..EvalConfig::default()
        };
        let overrides = Overrides {
            metrics: req.metrics.clone(),
            threshold: req.threshold,
            match_type,
        };
        agentrace_eval::config::specs(Some(&cfg), &overrides).map_err(|e| bad(e.to_string()))
    }

    /// Takes a slot for an evaluation asked through the API; 503 when all are taken.
    fn slot(&self) -> Result<crate::live::Slot, ApiError> {
        self.slots.take().ok_or_else(|| {
            ApiError::Unavailable(format!(
                "{} evaluations are running, the most --max-concurrent-evaluations allows; \
                 retry later",
                self.slots.max()
            ))
        })
    }
}

/// The metric part of a request (`POST /api/sessions/{id}/evaluate`, the `config` of
/// `POST /api/evaluate`). Keys in camelCase or snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsRequest {
    /// Evaluators, in the reference's shape (`{name, type, threshold, ...}`).
    #[serde(default)]
    pub evaluators: Option<Vec<EvaluatorDef>>,
    /// Builtin metric names (as `agentrace run -m`).
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Threshold for every builtin metric without one.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// `exact`, `in_order` or `any_order`.
    #[serde(default, alias = "trajectory_match_type")]
    pub trajectory_match_type: Option<String>,
    /// `auto`, `trace` or `conversation` (uploaded files; a session is always one group).
    #[serde(default, alias = "group_by")]
    pub group_by: Option<String>,
    /// Trace format of uploaded files (detected when absent).
    #[serde(default, alias = "trace_format")]
    pub trace_format: Option<String>,
}

/// `POST /api/sessions/{id}/evaluate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EvaluateRequest {
    /// An eval set stored on the server.
    #[serde(default, alias = "eval_set_id")]
    pub eval_set_id: Option<String>,
    /// An eval set sent inline (ADK EvalSet JSON).
    #[serde(default, alias = "eval_set")]
    pub eval_set: Option<Value>,
    /// The metrics.
    #[serde(flatten)]
    pub metrics: MetricsRequest,
}

/// An eval set read for an evaluation: its id and model.
type NamedSet = (String, EvalSet);

fn parse_eval_set(text: &str, origin: &str) -> Result<NamedSet, ApiError> {
    if text.len() > MAX_EVAL_SET_BYTES {
        return Err(ApiError::TooLarge(format!(
            "{origin} is {} bytes; an eval set may have at most {MAX_EVAL_SET_BYTES}",
            text.len()
        )));
    }
    let set = EvalSet::from_json(text)
        .map_err(|e| ApiError::BadRequest(format!("{origin} is not a valid eval set: {e}")))?;
    Ok((set.eval_set_id.clone(), set))
}

/// The eval set a session evaluation uses: inline, else stored by id, else the session's own.
fn resolve_eval_set(
    state: &AppState,
    req: &EvaluateRequest,
    session_eval_set: Option<&str>,
) -> Result<Option<NamedSet>, ApiError> {
    if let Some(inline) = &req.eval_set {
        return parse_eval_set(&inline.to_string(), "the inline eval set").map(Some);
    }
    let Some(id) = req.eval_set_id.as_deref().or(session_eval_set) else {
        return Ok(None);
    };
    stored_eval_set(state, id).map(Some)
}

fn stored_eval_set(state: &AppState, id: &str) -> Result<NamedSet, ApiError> {
    let body = state.ingest.store().eval_set(id).map_err(|e| match e {
        crate::store::StoreError::NotFound(_) => ApiError::NotFound(format!(
            "no eval set `{id}` on the server (POST /api/eval-sets, or --eval-sets)"
        )),
        other => other.into(),
    })?;
    parse_eval_set(&body.to_string(), &format!("stored eval set `{id}`"))
}

/// Scores one session against an eval set (blocking): its stored spans and logs as one group.
pub fn score_session(
    state: &AppState,
    session_id: &str,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
) -> Result<RunReport, ApiError> {
    let telemetry = state.ingest.session_telemetry(session_id)?;
    let set = TraceSet::build(telemetry);
    if set.traces.is_empty() {
        return Ok(RunReport {
            files: Vec::new(),
            errors: vec![RunError {
                file: session_id.to_owned(),
                error: "the session holds no traces".to_owned(),
            }],
        });
    }
    let group = extract_one_group(&set, session_id, eval_set.map(EvalSet::expected_cases));
    let groups = evaluate_groups(&[Group::from_extracted(&group)], eval_set, specs);
    Ok(RunReport {
        files: vec![FileResult {
            file: session_id.to_owned(),
            groups,
            warnings: Vec::new(),
        }],
        errors: Vec::new(),
    })
}

/// The document of an evaluation: who asked, the eval set, timing, the verdict, and the report
/// in the shape of `agentrace run --format json` (`scores`, `groups`, `warnings`, `errors`,
/// `summary`, `exit_code`).
fn document(
    report: Option<&RunReport>,
    error: Option<String>,
    eval_set_id: Option<&str>,
    trigger: &str,
    created_at_ns: i64,
    duration: Duration,
) -> Value {
    let mut doc = report.map_or_else(|| json!({}), RunReport::to_json);
    let passed = error.is_none() && report.is_some_and(|r| r.exit_code() == 0);
    if let Some(o) = doc.as_object_mut() {
        o.insert("evalSetId".into(), eval_set_id.into());
        o.insert("trigger".into(), trigger.into());
        o.insert("createdAt".into(), created_at_ns.into());
        o.insert(
            "durationMs".into(),
            (duration.as_secs_f64() * 1000.0).into(),
        );
        o.insert("passed".into(), passed.into());
        o.insert("error".into(), error.into());
    }
    doc
}

/// The summary an `evaluation_complete` event carries.
fn event_summary(doc: &Value) -> Value {
    let metrics: Vec<Value> = doc
        .get("scores")
        .and_then(Value::as_array)
        .map(|scores| {
            scores
                .iter()
                .take(MAX_EVENT_METRICS)
                .map(|s| {
                    json!({
                        "metric": s.get("metric"),
                        "score": s.get("score"),
                        "status": s.get("status"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": doc.get("id"),
        "evalSetId": doc.get("evalSetId"),
        "trigger": doc.get("trigger"),
        "passed": doc.get("passed"),
        "error": doc.get("error"),
        "summary": doc.get("summary"),
        "metrics": metrics,
    })
}

/// Evaluates a session, stores the result with it and announces it (blocking).
fn evaluate_and_store(
    state: &AppState,
    session_id: &str,
    eval_set: Result<Option<NamedSet>, (String, ApiError)>,
    specs: &[MetricSpec],
    trigger: &str,
    on_stored: impl FnOnce(),
) -> Result<Value, ApiError> {
    let started = Instant::now();
    let created = now_ns();
    let (eval_set_id, report, error) = match eval_set {
        Ok(set) => {
            let id = set.as_ref().map(|(id, _)| id.clone());
            let report = score_session(state, session_id, set.as_ref().map(|(_, s)| s), specs)?;
            (id, Some(report), None)
        }
        // At completion a missing or invalid eval set is an evaluation that failed, stored and
        // announced like any other, so it is seen.
        Err((id, e)) => (Some(id), None, Some(e.to_string())),
    };
    let mut doc = document(
        report.as_ref(),
        error,
        eval_set_id.as_deref(),
        trigger,
        created,
        started.elapsed(),
    );
    state.ingest.store().put_evaluation(
        session_id,
        eval_set_id.as_deref(),
        created,
        &mut doc,
        state.config.limits.max_evaluations_per_session,
    )?;
    on_stored();
    state.hub.publish(LiveEvent::EvaluationComplete {
        session_id: session_id.to_owned(),
        evaluation: event_summary(&doc),
    });
    Ok(doc)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

fn json_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid request: {e}")))
}

/// `POST /api/sessions/{id}/evaluate`: evaluates the session now (`EvaluateRequest`; an empty
/// body uses the session's eval set and the default metrics); 200 with the stored evaluation.
pub async fn evaluate_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: EvaluateRequest = json_body(&body)?;
    let specs = state.evaluator.specs(&req.metrics)?;
    let slot = state.evaluator.slot()?;
    let doc = blocking(move || {
        let _slot = slot;
        let session = state.ingest.store().session(&id)?;
        let set = resolve_eval_set(&state, &req, session.eval_set_id.as_deref())?;
        evaluate_and_store(&state, &id, Ok(set), &specs, "api", || {})
    })
    .await?;
    Ok(Json(doc).into_response())
}

/// `GET /api/sessions/{id}/evaluations`: the session's evaluations, newest first.
pub async fn session_evaluations(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = Arc::clone(state.ingest.store());
    let list = blocking(move || {
        store.session(&id)?;
        Ok(store.evaluations(&id)?)
    })
    .await?;
    Ok(Json(json!({ "evaluations": list })).into_response())
}

fn evaluation_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no evaluation `{id}`")))
}

/// `GET /api/evaluations/{id}`.
pub async fn get_evaluation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = evaluation_id(&id)?;
    let store = Arc::clone(state.ingest.store());
    let doc = blocking(move || Ok(store.evaluation(id)?)).await?;
    Ok(Json(doc).into_response())
}

/// `DELETE /api/evaluations/{id}`.
pub async fn delete_evaluation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = evaluation_id(&id)?;
    let store = Arc::clone(state.ingest.store());
    blocking(move || Ok(store.delete_evaluation(id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An uploaded file: its name (for display only: nothing is read from or written to it) and
/// bytes.
struct Upload {
    name: String,
    bytes: axum::body::Bytes,
}

/// Keeps a client's file name printable and short; it is only shown back.
fn display_name(name: Option<&str>, index: usize) -> String {
    let name = name.unwrap_or_default();
    let clean: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.is_empty() {
        format!("upload-{index}")
    } else {
        clean
    }
}

/// `POST /api/evaluate`: multipart, as agentevals' endpoint: `trace_files` (repeated; any format
/// the loader reads, detected by content), `eval_set_file` (optional ADK EvalSet JSON) and
/// `config` (optional JSON: the [`MetricsRequest`] fields). Nothing is stored; 200 with the
/// report in the shape of `agentrace run --format json`. The request is bounded by
/// `--max-body-bytes` and [`MAX_UPLOAD_FILES`].
pub async fn evaluate_upload(
    State(state): State<AppState>,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let mut files: Vec<Upload> = Vec::new();
    let mut eval_set_text: Option<String> = None;
    let mut config: Option<MetricsRequest> = None;
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
        match name.as_str() {
            "trace_files" | "trace_files[]" | "traceFiles" => {
                if files.len() == MAX_UPLOAD_FILES {
                    return Err(bad(format!(
                        "at most {MAX_UPLOAD_FILES} trace files per request"
                    )));
                }
                files.push(Upload {
                    name: display_name(file_name.as_deref(), files.len()),
                    bytes,
                });
            }
            "eval_set_file" | "evalSetFile" | "eval_set" => {
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| bad("eval_set_file is not UTF-8 text".to_owned()))?;
                eval_set_text = Some(text);
            }
            "config" => config = Some(json_body(&bytes)?),
            other => {
                return Err(bad(format!(
                    "unknown form field `{other}`: expected trace_files, eval_set_file or config"
                )));
            }
        }
    }
    if files.is_empty() {
        return Err(bad("no trace_files in the form".to_owned()));
    }
    let config = config.unwrap_or_default();
    let specs = state.evaluator.specs(&config)?;
    let group_by = config
        .group_by
        .as_deref()
        .map(str::parse::<GroupBy>)
        .transpose()
        .map_err(|e| bad(format!("groupBy: {e}")))?
        .unwrap_or_default();
    let format = config
        .trace_format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()
        .map_err(|e| bad(format!("traceFormat: {e}")))?;
    let eval_set = eval_set_text
        .as_deref()
        .map(|t| parse_eval_set(t, "eval_set_file"))
        .transpose()?;
    let slot = state.evaluator.slot()?;
    let report = blocking(move || {
        let _slot = slot;
        let started = Instant::now();
        let set = eval_set.as_ref().map(|(_, s)| s);
        let mut report = RunReport::default();
        for upload in files {
            match score_bytes(&upload.bytes, format, group_by, set, &specs) {
                Ok((groups, warnings)) => report.files.push(FileResult {
                    file: upload.name,
                    groups,
                    warnings,
                }),
                Err(error) => report.errors.push(RunError {
                    file: upload.name,
                    error,
                }),
            }
        }
        Ok(document(
            Some(&report),
            None,
            eval_set.as_ref().map(|(id, _)| id.as_str()),
            "upload",
            now_ns(),
            started.elapsed(),
        ))
    })
    .await?;
    Ok(Json(report).into_response())
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!(
            "the upload is larger than --max-body-bytes allows: {}",
            e.body_text()
        ))
    } else {
        ApiError::BadRequest(format!("invalid multipart form: {}", e.body_text()))
    }
}

/// Loads, extracts and scores one uploaded file.
fn score_bytes(
    bytes: &[u8],
    format: Option<Format>,
    group_by: GroupBy,
    eval_set: Option<&EvalSet>,
    specs: &[MetricSpec],
) -> Result<(Vec<agentrace_eval::result::GroupResult>, Vec<String>), String> {
    let loaded = load_bytes(bytes, LoadOptions { format }).map_err(|e| e.to_string())?;
    let warnings = loaded.issues.iter().map(ToString::to_string).collect();
    let set = TraceSet::build(loaded.telemetry);
    if set.traces.is_empty() {
        return Err("no traces in the file".to_owned());
    }
    let ex = extract(
        &set,
        &ExtractOptions {
            group_by,
            cases: eval_set.map(EvalSet::expected_cases),
        },
    );
    Ok((
        evaluate_groups(&Group::from_extraction(&ex), eval_set, specs),
        warnings,
    ))
}

/// Evaluates sessions as they complete, one at a time: those that name an eval set, with the
/// operator's evaluators (or the default metric). Runs until `stopped`.
pub fn spawn_at_completion(state: AppState, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Some(id) = state.evaluator.completions.pop() else {
                tokio::select! {
                    () = state.evaluator.completions.inner.ready.notified() => continue,
                    _ = stopped.wait_for(|s| *s) => break,
                }
            };
            // Waits for a free evaluation slot rather than dropping the session.
            let slot = loop {
                if let Some(slot) = state.evaluator.slots.take() {
                    break Some(slot);
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = stopped.wait_for(|s| *s) => break None,
                }
            };
            let Some(slot) = slot else { break };
            let st = state.clone();
            let done = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                evaluate_at_completion(&st, &id)
            })
            .await;
            match done {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    state.evaluator.auto_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%err, "evaluation at completion not stored");
                }
                Err(err) => {
                    state.evaluator.auto_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%err, "evaluation at completion failed");
                }
            }
        }
    })
}

/// Evaluates a completed session if it names an eval set; `Ok(false)` when it names none (or
/// was deleted meanwhile).
fn evaluate_at_completion(state: &AppState, session_id: &str) -> Result<bool, ApiError> {
    let session = match state.ingest.store().session(session_id) {
        Ok(s) => s,
        Err(crate::store::StoreError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let Some(set_id) = session.eval_set_id.filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let specs = state.evaluator.specs(&MetricsRequest::default())?;
    let set = stored_eval_set(state, &set_id)
        .map(Some)
        .map_err(|e| (set_id.clone(), e));
    evaluate_and_store(state, session_id, set, &specs, "completion", || {
        state.evaluator.auto_done.fetch_add(1, Ordering::Relaxed);
    })?;
    Ok(true)
}

/// `POST /api/sessions/{id}/eval-set`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GoldenRequest {
    /// The new eval set's id (default: `golden-<session id>`).
    #[serde(default, alias = "eval_set_id")]
    pub eval_set_id: Option<String>,
}

/// Longest eval set id accepted.
const MAX_EVAL_SET_ID: usize = 256;

fn golden_set(state: &AppState, session_id: &str, set_id: &str) -> Result<EvalSet, ApiError> {
    if set_id.trim().is_empty()
        || set_id.len() > MAX_EVAL_SET_ID
        || set_id.chars().any(char::is_control)
    {
        return Err(ApiError::BadRequest(format!(
            "an eval set id is 1 to {MAX_EVAL_SET_ID} bytes of printable text"
        )));
    }
    state.ingest.store().session(session_id)?;
    let telemetry = state.ingest.session_telemetry(session_id)?;
    let group = Group::from_extracted(&extract_one_group(
        &TraceSet::build(telemetry),
        session_id,
        None,
    ));
    if group.invocations.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "session `{session_id}` has no invocations to make an eval set of"
        )));
    }
    #[allow(clippy::cast_precision_loss)]
    let created_s = now_ns() as f64 / 1e9;
    let set = EvalSet::from_invocations(set_id, &group.invocations, created_s)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = serde_json::to_value(&set).map_err(|e| ApiError::Internal(e.to_string()))?;
    state
        .ingest
        .store()
        .put_eval_set(set_id, set.name.as_deref(), set.eval_cases.len(), &body)?;
    Ok(set)
}

/// `POST /api/sessions/{id}/eval-set`: makes the session golden: an eval set of one case with
/// one invocation per turn (as agentevals' `create-eval-set`), stored under `evalSetId`
/// (replacing one of that id); 201 with the ADK EvalSet JSON.
pub async fn create_eval_set(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: GoldenRequest = json_body(&body)?;
    let set_id = req.eval_set_id.unwrap_or_else(|| format!("golden-{id}"));
    let set = blocking(move || golden_set(&state, &id, &set_id)).await?;
    Ok((StatusCode::CREATED, Json(set)).into_response())
}

/// agentevals' `POST /api/streaming/create-eval-set` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceGoldenRequest {
    /// The session.
    #[serde(alias = "sessionId")]
    pub session_id: String,
    /// The eval set's id.
    #[serde(alias = "evalSetId")]
    pub eval_set_id: String,
}

/// `POST /api/streaming/create-eval-set` (agentevals' path and shape): `{evalSet,
/// numInvocations}`.
pub async fn create_eval_set_reference(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: ReferenceGoldenRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid request: {e}")))?;
    let set = blocking(move || golden_set(&state, &req.session_id, &req.eval_set_id)).await?;
    let n = set.eval_cases.first().map_or(0, |c| c.conversation.len());
    Ok(Json(json!({ "evalSet": set, "numInvocations": n })).into_response())
}

/// `POST /api/evaluate-sessions` (also at agentevals' `/api/streaming/evaluate-sessions`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionsRequest {
    /// The golden session (reported back; its eval set is `evalSetId`).
    #[serde(default, alias = "golden_session_id")]
    pub golden_session_id: Option<String>,
    /// The eval set every session is scored against.
    #[serde(alias = "eval_set_id")]
    pub eval_set_id: String,
    /// The metrics.
    #[serde(flatten)]
    pub metrics: MetricsRequest,
}

/// `POST /api/evaluate-sessions`: evaluates every complete session against one eval set (as
/// agentevals' `evaluate-sessions`, the golden session included); each evaluation is stored
/// with its session and announced. 200 with `{goldenSessionId, evalSetId, results: [{sessionId,
/// evaluationId, passed, error, scores}]}`.
pub async fn evaluate_sessions(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: SessionsRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid request: {e}")))?;
    let specs = state.evaluator.specs(&req.metrics)?;
    let slot = state.evaluator.slot()?;
    let reply = blocking(move || {
        let _slot = slot;
        let set = stored_eval_set(&state, &req.eval_set_id)?;
        let sessions = state.ingest.store().all_sessions()?;
        let mut results = Vec::new();
        for s in sessions.iter().filter(|s| s.completed_at_ns.is_some()) {
            let doc =
                evaluate_and_store(&state, &s.id, Ok(Some(set.clone())), &specs, "api", || {});
            results.push(match doc {
                Ok(doc) => json!({
                    "sessionId": s.id,
                    "evaluationId": doc.get("id"),
                    "passed": doc.get("passed"),
                    "error": doc.get("error"),
                    "scores": doc.get("scores"),
                }),
                Err(e) => json!({
                    "sessionId": s.id,
                    "evaluationId": null,
                    "passed": false,
                    "error": e.to_string(),
                    "scores": [],
                }),
            });
        }
        Ok(json!({
            "goldenSessionId": req.golden_session_id,
            "evalSetId": req.eval_set_id,
            "results": results,
        }))
    })
    .await?;
    Ok(Json(reply).into_response())
}

/// `GET /api/metrics`: what a request may ask for: every builtin metric (whether it needs an eval
/// set, whether it is an LLM judge, and whether it can run on this server: judges need the
/// operator's judge endpoint) and the operator's evaluators.
pub async fn list_metrics(State(state): State<AppState>) -> Json<Value> {
    let evaluator = &state.evaluator;
    let mut metrics: Vec<Value> = agentrace_eval::evaluate::builtin_names()
        .into_iter()
        .map(|name| {
            let req = MetricsRequest {
                metrics: vec![name.to_owned()],
                ..MetricsRequest::default()
            };
            let built = evaluator.specs(&req);
            json!({
                "name": name,
                "kind": "builtin",
                "requiresEvalSet": built
                    .as_ref()
                    .ok()
                    .and_then(|s| s.first())
                    .is_some_and(MetricSpec::needs_expected),
                "usesLlm": agentrace_eval::judge::JudgeKind::of(name).is_some(),
                "available": built.is_ok(),
                "reason": built.err().map(|e| e.to_string()),
            })
        })
        .collect();
    if let Some(cfg) = &evaluator.operator {
        for ev in &cfg.evaluators {
            if metrics.iter().any(|m| m["name"] == ev.name.as_str()) {
                continue;
            }
            metrics.push(json!({
                "name": ev.name,
                "kind": ev.kind,
                "requiresEvalSet": false,
                "usesLlm": false,
                "available": true,
                "reason": null,
            }));
        }
    }
    Json(json!({ "metrics": metrics }))
}

/// `DELETE /api/eval-sets/{id}`: 204; evaluations made with it keep their results.
pub async fn delete_eval_set(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = Arc::clone(state.ingest.store());
    blocking(move || Ok(store.delete_eval_set(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
