//! `gen_ai.evaluation.result` log records of a run, sent over OTLP/HTTP (protobuf) to the
//! endpoint the standard `OTEL_EXPORTER_OTLP_*` variables name.
//!
//! One record per metric per scored invocation, parented to the invocation's anchor span
//! (trace and span id, flagged sampled), with `gen_ai.evaluation.name`, `.score.value`,
//! `.score.label` (`pass`, `fail`, `not_evaluated`), `error.type` when the metric failed with an
//! error, and `agentevals.evaluator.type`, `agentevals.eval.case.id`, `agentevals.eval_set.id`.
//! A metric with no per-invocation score (a conversation-level custom evaluator, an error, not
//! evaluated) gives one record on the last invocation.
//!
//! Variables read: `OTEL_SDK_DISABLED=true` or `OTEL_LOGS_EXPORTER=none` turn it off;
//! `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (+
//! `/v1/logs`), default `http://localhost:4318/v1/logs`; `OTEL_EXPORTER_OTLP_LOGS_HEADERS` or
//! `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-decoded);
//! `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT` (ms, default 10000);
//! `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`: only `http/protobuf`
//! (the default); `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` for the resource.

use std::time::Duration;

use agentrace_semconv::{attr, event};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

use crate::result::{GroupResult, MetricResult, Status};

/// Records per request.
const BATCH: usize = 1000;

/// Where and how records are sent.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpLogs {
    /// The full URL (`…/v1/logs`).
    pub endpoint: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Per request.
    pub timeout: Duration,
    /// Resource attributes.
    pub resource: Vec<(String, String)>,
}

/// Why the settings cannot be used or sending failed.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// An unsupported protocol.
    #[error("OTLP protocol `{0}` is not supported by --emit-otel; use http/protobuf")]
    Protocol(String),
    /// A malformed variable.
    #[error("{0} is malformed: {1}")]
    Variable(&'static str, String),
    /// The endpoint failed.
    #[error("sending evaluation records to {endpoint} failed: {message}")]
    Send {
        /// The endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pairs(var: &'static str, v: &str) -> Result<Vec<(String, String)>, OtelError> {
    v.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, val) = p
                .split_once('=')
                .ok_or_else(|| OtelError::Variable(var, format!("`{p}` is not key=value")))?;
            Ok((pct_decode(k.trim()), pct_decode(val.trim())))
        })
        .collect()
}

impl OtlpLogs {
    /// The settings from the environment (`get` reads a variable); `None` when turned off.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, OtelError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || var("OTEL_LOGS_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))
        {
            return Ok(None);
        }
        let protocol = var("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or_else(|| "http/protobuf".to_owned());
        if protocol.trim() != "http/protobuf" {
            return Err(OtelError::Protocol(protocol));
        }
        let endpoint = match var("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") {
            Some(e) => e.trim().to_owned(),
            None => format!(
                "{}/v1/logs",
                var("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .unwrap_or_else(|| "http://localhost:4318".to_owned())
                    .trim()
                    .trim_end_matches('/')
            ),
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(OtelError::Variable(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("`{endpoint}` is not an http(s) URL"),
            ));
        }
        let headers = match (
            var("OTEL_EXPORTER_OTLP_LOGS_HEADERS"),
            var("OTEL_EXPORTER_OTLP_HEADERS"),
        ) {
            (Some(h), _) => pairs("OTEL_EXPORTER_OTLP_LOGS_HEADERS", &h)?,
            (None, Some(h)) => pairs("OTEL_EXPORTER_OTLP_HEADERS", &h)?,
            _ => Vec::new(),
        };
        let timeout_var = if var("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT").is_some() {
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"
        } else {
            "OTEL_EXPORTER_OTLP_TIMEOUT"
        };
        let timeout = match var(timeout_var) {
            Some(t) => Duration::from_millis(t.trim().parse::<u64>().map_err(|_| {
                OtelError::Variable(timeout_var, format!("`{t}` is not milliseconds"))
            })?),
            None => Duration::from_secs(10),
        };
        let mut resource = match var("OTEL_RESOURCE_ATTRIBUTES") {
            Some(r) => pairs("OTEL_RESOURCE_ATTRIBUTES", &r)?,
            None => Vec::new(),
        };
        let service = var("OTEL_SERVICE_NAME").unwrap_or_else(|| "agentrace".to_owned());
        resource.retain(|(k, _)| k != attr::SERVICE_NAME);
        resource.insert(0, (attr::SERVICE_NAME.to_owned(), service));
        Ok(Some(Self {
            endpoint,
            headers,
            timeout,
            resource,
        }))
    }

    /// Sends the records, in batches; the number sent.
    pub fn send(&self, records: Vec<LogRecord>) -> Result<usize, OtelError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let resource = Resource {
            attributes: self
                .resource
                .iter()
                .map(|(k, v)| kv(k, any_value::Value::StringValue(v.clone())))
                .collect(),
            ..Resource::default()
        };
        let mut sent = 0;
        let mut records = records;
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(BATCH));
            let n = records.len();
            let req = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(resource.clone()),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: "agentrace".to_owned(),
                            version: env!("CARGO_PKG_VERSION").to_owned(),
                            ..InstrumentationScope::default()
                        }),
                        log_records: records,
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                }],
            };
            let mut r = agent
                .post(&self.endpoint)
                .header("content-type", "application/x-protobuf");
            for (k, v) in &self.headers {
                r = r.header(k.as_str(), v.as_str());
            }
            let fail = |message: String| OtelError::Send {
                endpoint: self.endpoint.clone(),
                message,
            };
            let resp = r
                .send(&req.encode_to_vec()[..])
                .map_err(|e| fail(e.to_string()))?;
            if !resp.status().is_success() {
                return Err(fail(format!("answered {}", resp.status())));
            }
            sent += n;
            records = rest;
        }
        Ok(sent)
    }
}

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: Some(AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

fn label(s: Status) -> &'static str {
    match s {
        Status::Passed => "pass",
        Status::Failed => "fail",
        Status::NotEvaluated => "not_evaluated",
    }
}

fn record(
    g: &GroupResult,
    m: &MetricResult,
    inv: usize,
    score: Option<f64>,
    status: Status,
    eval_set_id: Option<&str>,
    now_ns: u64,
) -> Option<LogRecord> {
    let at = g.invocations.get(inv)?;
    let mut attributes = vec![
        kv(
            attr::GEN_AI_EVALUATION_NAME,
            any_value::Value::StringValue(m.metric.clone()),
        ),
        kv(
            attr::GEN_AI_EVALUATION_SCORE_LABEL,
            any_value::Value::StringValue(label(status).to_owned()),
        ),
        kv(
            "agentevals.evaluator.type",
            any_value::Value::StringValue(m.evaluator_type.as_str().to_owned()),
        ),
    ];
    if let Some(s) = score {
        attributes.push(kv(
            attr::GEN_AI_EVALUATION_SCORE_VALUE,
            any_value::Value::DoubleValue(s),
        ));
    }
    if m.error.is_some() {
        attributes.push(kv(
            attr::ERROR_TYPE,
            any_value::Value::StringValue(attr::ERROR_TYPE_OTHER.to_owned()),
        ));
    }
    if let Some(c) = &g.eval_case_id {
        attributes.push(kv(
            "agentevals.eval.case.id",
            any_value::Value::StringValue(c.clone()),
        ));
    }
    if let Some(s) = eval_set_id {
        attributes.push(kv(
            "agentevals.eval_set.id",
            any_value::Value::StringValue(s.to_owned()),
        ));
    }
    Some(LogRecord {
        time_unix_nano: now_ns,
        observed_time_unix_nano: now_ns,
        event_name: event::EVALUATION_RESULT.to_owned(),
        attributes,
        flags: 1,
        trace_id: hex::decode(&at.trace_id).unwrap_or_default(),
        span_id: hex::decode(&at.invocation_id).unwrap_or_default(),
        ..LogRecord::default()
    })
}

/// The `gen_ai.evaluation.result` records of some groups' results.
pub fn evaluation_records<'a>(
    groups: impl IntoIterator<Item = &'a GroupResult>,
    eval_set_id: Option<&str>,
    now_ns: u64,
) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for g in groups {
        let last = g.invocations.len().saturating_sub(1);
        for m in &g.metrics {
            let per_turn = !m.per_invocation_scores.is_empty() && m.error.is_none();
            if per_turn {
                for (i, s) in m.per_invocation_scores.iter().enumerate() {
                    let status = match (s, m.threshold) {
                        (Some(v), Some(t)) => Status::of(*v, t),
                        _ => m.status,
                    };
                    out.extend(record(g, m, i, *s, status, eval_set_id, now_ns));
                }
            } else {
                out.extend(record(g, m, last, m.score, m.status, eval_set_id, now_ns));
            }
        }
    }
    out
}
