//! The eval config YAML, in the reference's current shape: an `evaluators:` list (name, type,
//! threshold, config, rubrics, ...), plus optional `eval_set`, `trace_format`, `output_format`
//! and a default `judge` endpoint. The reference's legacy keys are refused with a message that
//! says what to write instead.
//!
//! ```yaml
//! eval_set: golden.json
//! judge:
//!   base_url: https://api.openai.com/v1
//!   model: gpt-4o-mini
//!   api_key_env: OPENAI_API_KEY
//! evaluators:
//!   - name: tool_trajectory_avg_score
//!     type: builtin
//!     threshold: 0.8
//!     trajectory_match_type: in_order
//!   - name: final_response_match_v2
//!     type: builtin
//!   - name: tone
//!     type: code
//!     path: ./evaluators/tone.py
//!     timeout: 10
//!     config: {min_words: 5}
//! ```
//!
//! Custom evaluators come only from this file, the operator's: never from trace data.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// An evaluator entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorDef {
    /// Metric name (builtin) or the name results are reported under.
    pub name: String,
    /// `builtin` (default), `code`; `remote` is refused.
    #[serde(default = "builtin", rename = "type")]
    pub kind: String,
    /// Pass threshold.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Metric configuration, handed to the metric or evaluator as it is.
    #[serde(default)]
    pub config: Option<Value>,
    /// Rubrics for rubric-based judges: strings or `{id, text}`.
    #[serde(default)]
    pub rubrics: Option<Vec<Value>>,
    /// Trajectory match type (builtin trajectory metric).
    #[serde(default, alias = "trajectoryMatchType")]
    pub trajectory_match_type: Option<String>,
    /// Judge model (LLM metrics).
    #[serde(default, alias = "judgeModel")]
    pub judge_model: Option<String>,
    /// Judge endpoint: an OpenAI-compatible base URL (LLM metrics).
    #[serde(default, alias = "judgeBaseUrl")]
    pub judge_base_url: Option<String>,
    /// Environment variable holding the judge's API key (LLM metrics).
    #[serde(default, alias = "apiKeyEnv")]
    pub api_key_env: Option<String>,
    /// Program of a `code` evaluator.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Seconds before a `code` evaluator is killed (default 30).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Where a `code` evaluator runs: only `local`.
    #[serde(default)]
    pub executor: Option<String>,
    /// The reference's credential reference (server mode); refused here: name the variable
    /// with `api_key_env`.
    #[serde(default, alias = "credentialRef")]
    pub credential_ref: Option<Value>,
}

fn builtin() -> String {
    "builtin".to_owned()
}

/// The default judge endpoint.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JudgeDefaults {
    /// OpenAI-compatible base URL (`…/v1`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Model name.
    #[serde(default)]
    pub model: Option<String>,
    /// Environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Seconds per request (default 60).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// An eval config file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// The evaluators.
    #[serde(default)]
    pub evaluators: Vec<EvaluatorDef>,
    /// Eval set file (relative to the config file).
    #[serde(default)]
    pub eval_set: Option<PathBuf>,
    /// Trace format override.
    #[serde(default)]
    pub trace_format: Option<String>,
    /// Output format (`table`, `json`, `junit`).
    #[serde(default, alias = "output")]
    pub output_format: Option<String>,
    /// Default judge endpoint.
    #[serde(default)]
    pub judge: Option<JudgeDefaults>,
    /// Grouping (`auto`, `trace`, `conversation`).
    #[serde(default)]
    pub group_by: Option<String>,
    /// The directory of the file, for relative paths.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Why a config file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read eval config {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid YAML or not an eval config.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong, with the field.
        message: String,
    },
    /// A legacy key of the reference.
    #[error("{}: `{key}` is no longer supported: {instead}", path.display())]
    Legacy {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What to write instead.
        instead: &'static str,
    },
    /// An entry that is valid YAML but not usable.
    #[error("{}: evaluator `{name}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The evaluator.
        name: String,
        /// Why.
        message: String,
    },
}

const LEGACY: &[(&str, &str)] = &[
    (
        "metrics",
        "list each metric under `evaluators:` as `- name: METRIC` (type: builtin)",
    ),
    (
        "custom_evaluators",
        "list each one under `evaluators:` as `- name: NAME`, `type: code`, `path: FILE`",
    ),
    (
        "judge_model",
        "set `judge_model:` on each LLM evaluator under `evaluators:`, or `judge: {model: ...}`",
    ),
    (
        "threshold",
        "set `threshold:` on each entry under `evaluators:` (or pass --threshold)",
    ),
    (
        "trajectory_match_type",
        "set `trajectory_match_type:` on the tool_trajectory_avg_score entry under `evaluators:` (or pass --trajectory-match)",
    ),
];

impl EvalConfig {
    /// Reads a config file.
    pub fn from_path(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg = Self::from_yaml(&text, path)?;
        cfg.base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        Ok(cfg)
    }

    /// Reads a config from YAML text; `path` names it in errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let parse_err = |e: &serde_yaml_ng::Error, field: Option<String>| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let msg = e.to_string();
            let msg = match msg.rfind(" at line ") {
                Some(i) => msg.get(..i).unwrap_or(&msg).to_owned(),
                None => msg,
            };
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: match field {
                    Some(f) if f != "." => format!("at `{f}`: {msg}"),
                    _ => msg,
                },
            }
        };
        let raw: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| parse_err(&e, None))?;
        if let serde_yaml_ng::Value::Mapping(m) = &raw {
            for (key, instead) in LEGACY {
                if m.contains_key(*key) {
                    return Err(ConfigError::Legacy {
                        path: path.to_owned(),
                        key: (*key).to_owned(),
                        instead,
                    });
                }
            }
        }
        if raw.is_null() {
            return Ok(Self::default());
        }
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let cfg: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            parse_err(e.inner(), Some(field))
        })?;
        let mut seen = std::collections::HashSet::new();
        for ev in &cfg.evaluators {
            let invalid = |message: String| ConfigError::Invalid {
                path: path.to_owned(),
                name: ev.name.clone(),
                message,
            };
            if !seen.insert(ev.name.as_str()) {
                return Err(invalid("evaluator names must be unique".into()));
            }
            match ev.kind.as_str() {
                "builtin" => {}
                "code" => {
                    if ev.path.is_none() {
                        return Err(invalid("`type: code` needs `path: FILE`".into()));
                    }
                    if ev.executor.as_deref().is_some_and(|x| x != "local") {
                        return Err(invalid("the only executor is `local`".into()));
                    }
                }
                "remote" => {
                    return Err(invalid(
                        "`type: remote` is not supported: agentrace downloads no code; save the evaluator file and use `type: code` with `path:`".into(),
                    ));
                }
                "openai_eval" => {
                    return Err(invalid(
                        "`type: openai_eval` was removed (as in the reference); use an LLM judge metric with `judge_base_url:`".into(),
                    ));
                }
                other => {
                    return Err(invalid(format!("unknown type `{other}` (builtin, code)")));
                }
            }
            if ev.credential_ref.is_some() {
                return Err(invalid(
                    "`credential_ref` is not supported; name the environment variable that holds the key with `api_key_env:`".into(),
                ));
            }
            if let Some(t) = ev.threshold
                && !(t.is_finite() && (0.0..=1.0).contains(&t))
            {
                return Err(invalid(format!(
                    "threshold must be between 0 and 1, not {t}"
                )));
            }
            if let Some(t) = ev.timeout
                && !(t.is_finite() && t > 0.0)
            {
                return Err(invalid(format!(
                    "timeout must be a positive number of seconds, not {t}"
                )));
            }
        }
        Ok(cfg)
    }

    /// A path of the config, relative to its file.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// What the command line adds to a config: `-m` metrics, `--threshold`, `--trajectory-match`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Builtin metric names from `-m`.
    pub metrics: Vec<String>,
    /// `--threshold`.
    pub threshold: Option<f64>,
    /// `--trajectory-match`.
    pub match_type: Option<crate::metrics::trajectory::MatchType>,
}

/// The metric specs of a run, as the reference combines them: with a config, `-m` entries
/// replace config entries of the same name or are appended, and without `-m` the threshold and
/// match type apply to every builtin entry; without a config, `-m` or the default
/// (`tool_trajectory_avg_score`).
pub fn specs(
    cfg: Option<&EvalConfig>,
    o: &Overrides,
) -> Result<Vec<crate::evaluate::MetricSpec>, crate::evaluate::SpecError> {
    use crate::evaluate::{MetricSpec, TOOL_TRAJECTORY};
    let from_cli = |name: &str| MetricSpec::builtin(name, o.threshold, o.match_type, &Value::Null);
    let Some(cfg) = cfg else {
        let names = if o.metrics.is_empty() {
            vec![TOOL_TRAJECTORY.to_owned()]
        } else {
            o.metrics.clone()
        };
        return names.iter().map(|n| from_cli(n)).collect();
    };
    let none = Overrides::default();
    let mut out: Vec<MetricSpec> = Vec::new();
    for ev in &cfg.evaluators {
        let spec = if o.metrics.contains(&ev.name) && ev.kind == "builtin" {
            from_cli(&ev.name)?
        } else {
            spec_of(cfg, ev, if o.metrics.is_empty() { o } else { &none })?
        };
        out.push(spec);
    }
    for m in &o.metrics {
        if !out.iter().any(|s| s.name == *m) {
            out.push(from_cli(m)?);
        }
    }
    if out.is_empty() {
        out.push(from_cli(TOOL_TRAJECTORY)?);
    }
    Ok(out)
}

fn spec_of(
    cfg: &EvalConfig,
    ev: &EvaluatorDef,
    o: &Overrides,
) -> Result<crate::evaluate::MetricSpec, crate::evaluate::SpecError> {
    use crate::evaluate::{MetricKind, MetricSpec, SpecError};
    let cfg_err = |message: String| SpecError::Config {
        metric: ev.name.clone(),
        message,
    };
    let config = ev.config.clone().unwrap_or(Value::Null);
    match ev.kind.as_str() {
        "code" => {
            let path = ev
                .path
                .as_deref()
                .ok_or_else(|| cfg_err("`type: code` needs `path:`".into()))?;
            let timeout = ev.timeout.map_or(crate::custom::DEFAULT_TIMEOUT, |t| {
                std::time::Duration::from_secs_f64(t.min(86_400.0))
            });
            Ok(MetricSpec {
                name: ev.name.clone(),
                kind: MetricKind::Custom(crate::custom::CustomEvaluator {
                    path: cfg.resolve(path),
                    timeout,
                    config: if config.is_null() {
                        Value::Object(serde_json::Map::new())
                    } else {
                        config
                    },
                }),
                threshold: ev
                    .threshold
                    .or(o.threshold)
                    .unwrap_or(crate::evaluate::DEFAULT_THRESHOLD),
            })
        }
        _ if crate::judge::JudgeKind::of(&ev.name).is_some() => {
            let d = cfg.judge.clone().unwrap_or_default();
            let api_key_env = ev
                .api_key_env
                .as_deref()
                .or_else(|| config.get("api_key_env").and_then(Value::as_str))
                .or(d.api_key_env.as_deref());
            let timeout = config
                .get("timeout")
                .and_then(Value::as_f64)
                .or(d.timeout)
                .filter(|t| t.is_finite() && *t > 0.0)
                .map(|t| std::time::Duration::from_secs_f64(t.min(3600.0)));
            let client = crate::judge::JudgeClient::new(
                ev.judge_base_url.as_deref().or(d.base_url.as_deref()),
                ev.judge_model.as_deref().or(d.model.as_deref()),
                api_key_env,
                timeout,
            )
            .map_err(|e| cfg_err(e.to_string()))?;
            let rubrics =
                crate::judge::rubrics_from_config(ev.rubrics.as_deref().unwrap_or_default())
                    .map_err(cfg_err)?;
            Ok(MetricSpec {
                name: ev.name.clone(),
                kind: MetricKind::Judge(crate::judge::JudgeMetric {
                    kind: crate::judge::JudgeKind::of(&ev.name)
                        .unwrap_or(crate::judge::JudgeKind::FinalResponseMatch),
                    client,
                    rubrics,
                }),
                threshold: o
                    .threshold
                    .or(ev.threshold)
                    .unwrap_or(crate::evaluate::DEFAULT_THRESHOLD),
            })
        }
        _ => {
            let mt = match &ev.trajectory_match_type {
                Some(s) => Some(s.parse().map_err(cfg_err)?),
                None => None,
            };
            MetricSpec::builtin(
                &ev.name,
                o.threshold.or(ev.threshold),
                o.match_type.or(mt),
                &config,
            )
        }
    }
}
