//! Full-text search over every session's turns (SQLite FTS5, compiled into the bundled SQLite),
//! and the session list's preview of each session's first user message.
//!
//! Each turn (invocation) is one document of `search_fts`: its user text, its agent text, its tool
//! names, and its attribute values (the string and number values of its tool calls' arguments and
//! results, its agent name and models, then the `span_values` of its trace: span names and
//! short, non-JSON string and integer values). A document is written when the turn changes while
//! its session is live ([`index_changed`], called as the live invocations are published, which
//! reads each changed turn's trace back for its span values), and checked once the session
//! completes (`index_all`, run from the queue the completing transaction adds the session to:
//! [`crate::store::Store::index_pending`], after the completion is answered, and before any search
//! or preview): only a document whose text changed, or that was not written yet, is written there (FTS5 tokenizes a document's old text to delete
//! it and its new text to insert it, so an unchanged document is not touched). `search_docs` maps
//! a document to its session and turn and keeps the turn's user text, cut to [`PREVIEW_CHARS`],
//! as the session's preview.
//!
//! A query is a list of words, every one required, each matched as a prefix; the words are
//! quoted before they reach FTS5, so its syntax characters (`"`, `*`, `(`, `:`, `NEAR`, `OR`...)
//! are plain text. Answers are bounded ([`MAX_RESULTS`]).

use agentrace_loader::hash::Map;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{extract::Invocation, store::StoreError};

/// The search tables: `search_docs` (one row per turn) and `search_fts` (its text, FTS5).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS search_docs (
    id       INTEGER PRIMARY KEY,
    session  INTEGER NOT NULL,
    idx      INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    preview  TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS search_docs_by_session ON search_docs(session, idx);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    user_text, agent_text, tools, attrs, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS search_pending (
    ticket  INTEGER PRIMARY KEY,
    session INTEGER NOT NULL UNIQUE
);
";

/// Characters of a turn's user text kept as its preview.
pub const PREVIEW_CHARS: usize = 200;
/// Bytes of each text field indexed per turn (a longer text is indexed up to a character
/// boundary below this).
pub const MAX_FIELD_BYTES: usize = 64 << 10;
/// Results one search returns at most.
pub const MAX_RESULTS: u32 = 100;
/// Bytes of the longest query accepted.
pub const MAX_QUERY_BYTES: usize = 512;
/// Words of a query used at most (the rest are ignored, and the answer says so).
pub const MAX_QUERY_WORDS: usize = 16;

/// The parts of an invocation's JSON that are indexed.
#[derive(Debug, Default, Deserialize)]
struct Turn {
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    agent_name: Option<String>,
    #[serde(default)]
    user_text: Option<String>,
    #[serde(default)]
    agent_text: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolPart>,
    #[serde(default)]
    tool_responses: Vec<ToolResponsePart>,
    #[serde(default)]
    models: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ToolPart {
    #[serde(default)]
    name: String,
    #[serde(default)]
    args: Value,
}

#[derive(Debug, Default, Deserialize)]
struct ToolResponsePart {
    #[serde(default)]
    name: String,
    #[serde(default)]
    response: Value,
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// The string and number values in `value`, space separated, onto `out` (bounded).
fn values_into(value: &Value, out: &mut String) {
    if out.len() >= MAX_FIELD_BYTES {
        return;
    }
    match value {
        Value::String(s) => {
            out.push_str(cut(s, MAX_FIELD_BYTES - out.len()));
            out.push(' ');
        }
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push(' ');
        }
        Value::Bool(_) | Value::Null => {}
        Value::Array(items) => items.iter().for_each(|v| values_into(v, out)),
        Value::Object(map) => map.values().for_each(|v| values_into(v, out)),
    }
}

/// The indexed fields of one turn: (trace id, preview, user, agent, tools, attrs).
fn fields(json: &str) -> [String; 6] {
    let turn: Turn = serde_json::from_str(json).unwrap_or_default();
    let user = turn.user_text.unwrap_or_default();
    let preview: String = user.chars().take(PREVIEW_CHARS).collect();
    let mut tools = String::new();
    for name in turn
        .tool_calls
        .iter()
        .map(|c| &c.name)
        .chain(turn.tool_responses.iter().map(|r| &r.name))
    {
        if tools.len() < MAX_FIELD_BYTES && !tools.split(' ').any(|t| t == name) {
            tools.push_str(cut(name, 1024));
            tools.push(' ');
        }
    }
    let mut attrs = String::new();
    if let Some(agent) = &turn.agent_name {
        attrs.push_str(cut(agent, 1024));
        attrs.push(' ');
    }
    for model in &turn.models {
        attrs.push_str(cut(model, 1024));
        attrs.push(' ');
    }
    for call in &turn.tool_calls {
        values_into(&call.args, &mut attrs);
    }
    for response in &turn.tool_responses {
        values_into(&response.response, &mut attrs);
    }
    [
        turn.trace_id.unwrap_or_default(),
        preview,
        cut(&user, MAX_FIELD_BYTES).to_owned(),
        cut(
            turn.agent_text.as_deref().unwrap_or_default(),
            MAX_FIELD_BYTES,
        )
        .to_owned(),
        tools,
        cut(&attrs, MAX_FIELD_BYTES).to_owned(),
    ]
}

/// Writes (or rewrites) the document of turn `idx` of session row `rid`.
fn put(conn: &Connection, rid: i64, idx: i64, json: &str) -> Result<(), StoreError> {
    put_with(conn, rid, idx, json, &Map::default())
}

/// [`put`], with the span values of the turn's trace (if `span_values` has them) after its
/// attribute values.
fn put_with(
    conn: &Connection,
    rid: i64,
    idx: i64,
    json: &str,
    span_values: &Map<String, String>,
) -> Result<(), StoreError> {
    let fields = fields(json);
    let values = span_values.get(&fields[0]).map(String::as_str);
    put_fields(conn, rid, idx, fields, values)
}

/// Writes the document of turn `idx` of session row `rid` from its [`fields`] and its trace's
/// span values, unless the document is already exactly that (a turn indexed while its session
/// was live and unchanged since is not written again: FTS5 tokenizes a document's old text to
/// delete it and its new text to insert it).
fn put_fields(
    conn: &Connection,
    rid: i64,
    idx: i64,
    [trace_id, preview, user, agent, tools, mut attrs]: [String; 6],
    span_values: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(values) = span_values {
        attrs = format!("{attrs} {values}");
    }
    let old: Option<i64> = conn
        .prepare_cached("SELECT id FROM search_docs WHERE session = ?1 AND idx = ?2")?
        .query_row(params![rid, idx], |r| r.get(0))
        .optional()?;
    if let Some(id) = old {
        let same = conn
            .prepare_cached(
                "SELECT d.trace_id = ?2 AND d.preview = ?3 AND f.user_text = ?4 \
                 AND f.agent_text = ?5 AND f.tools = ?6 AND f.attrs = ?7 \
                 FROM search_docs d JOIN search_fts f ON f.rowid = d.id WHERE d.id = ?1",
            )?
            .query_row(
                params![id, trace_id, preview, user, agent, tools, attrs],
                |r| r.get::<_, Option<bool>>(0),
            )
            .optional()?
            .flatten()
            .unwrap_or(false);
        if same {
            return Ok(());
        }
        conn.prepare_cached("DELETE FROM search_fts WHERE rowid = ?1")?
            .execute([id])?;
        conn.prepare_cached("DELETE FROM search_docs WHERE id = ?1")?
            .execute([id])?;
    }
    conn.prepare_cached(
        "INSERT INTO search_docs (session, idx, trace_id, preview) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![rid, idx, trace_id, preview])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO search_fts (rowid, user_text, agent_text, tools, attrs) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, user, agent, tools, attrs])?;
    Ok(())
}

/// Forgets every document of session row `rid` (the session is deleted).
pub(crate) fn forget_session(conn: &Connection, rid: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE session = ?1)",
    )?
    .execute([rid])?;
    conn.prepare_cached("DELETE FROM search_docs WHERE session = ?1")?
        .execute([rid])?;
    conn.prepare_cached("DELETE FROM search_pending WHERE session = ?1")?
        .execute([rid])?;
    Ok(())
}

/// Indexes a session's final invocations (all of them; documents of turns past the last are
/// forgotten), each with the [`span_values`] of its trace, inside the caller's transaction.
/// Each document is written once here.
pub(crate) fn index_all(
    conn: &Connection,
    session_id: &str,
    invocations: &[Invocation],
    span_values: &Map<String, String>,
) -> Result<(), StoreError> {
    let Some(rid) = crate::store::session_rid(conn, session_id)? else {
        return Ok(());
    };
    // Documents of turns past the last are forgotten; the others are written if they changed.
    let turns = invocations.len() as i64;
    conn.prepare_cached(
        "DELETE FROM search_fts WHERE rowid IN \
         (SELECT id FROM search_docs WHERE session = ?1 AND idx >= ?2)",
    )?
    .execute(params![rid, turns])?;
    conn.prepare_cached("DELETE FROM search_docs WHERE session = ?1 AND idx >= ?2")?
        .execute(params![rid, turns])?;
    for (idx, invocation) in invocations.iter().enumerate() {
        put_with(conn, rid, idx as i64, invocation.json(), span_values)?;
    }
    Ok(())
}

/// A turn to index: its index, its [`fields`] and its trace's span values.
type TurnDoc = (usize, [String; 6], Option<String>);

/// Indexes the turns of live sessions that changed: `(session id, [(index, invocation)])`.
/// A session that is gone is skipped.
pub fn index_changed<'a>(
    store: &crate::store::Store,
    changed: impl IntoIterator<Item = (&'a str, Vec<(usize, &'a str)>)>,
) -> Result<(), StoreError> {
    // Each turn's document carries its trace's span values, read back before the write
    // connection is taken, so that the completion finds it unchanged and does not write it
    // again. A trace that cannot be read is indexed without them (the completion adds them).
    // Several turns may share a trace: each trace is read once.
    let mut traces: Map<String, Option<String>> = Map::default();
    let changed: Vec<(&str, Vec<TurnDoc>)> = changed
        .into_iter()
        .map(|(session_id, turns)| {
            traces.clear();
            let turns = turns
                .into_iter()
                .map(|(idx, json)| {
                    let fields = fields(json);
                    let values = traces
                        .entry(fields[0].clone())
                        .or_insert_with(|| {
                            store
                                .trace(session_id, &fields[0])
                                .ok()
                                .and_then(|(spans, _)| span_values(&spans).remove(&fields[0]))
                        })
                        .clone();
                    (idx, fields, values)
                })
                .collect();
            (session_id, turns)
        })
        .collect();
    store.with_conn(|conn| {
        let tx = conn.transaction()?;
        for (session_id, turns) in changed {
            let Some(rid) = crate::store::session_rid(&tx, session_id)? else {
                continue;
            };
            for (idx, fields, values) in turns {
                put_fields(&tx, rid, idx as i64, fields, values.as_deref())?;
            }
        }
        tx.commit()?;
        Ok(())
    })
}

/// The parts of a stored span that [`span_values`] reads (a borrowed view: no JSON tree).
#[derive(Debug, Deserialize)]
struct SpanPart<'a> {
    #[serde(rename = "traceId", borrow, default)]
    trace_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    attributes: Vec<AttributePart<'a>>,
}

#[derive(Debug, Deserialize)]
struct AttributePart<'a> {
    #[serde(borrow, default)]
    value: Option<ValuePart<'a>>,
}

#[derive(Debug, Deserialize)]
struct ValuePart<'a> {
    #[serde(rename = "stringValue", borrow, default)]
    string_value: Option<std::borrow::Cow<'a, str>>,
    /// A string (canonical OTLP/JSON) or a number.
    #[serde(rename = "intValue", borrow, default)]
    int_value: Option<&'a serde_json::value::RawValue>,
}

/// The attribute values of a session's spans that join its turns' documents, by trace id: the
/// span names, and the string and integer values of their attributes that are short (at most
/// [`MAX_SPAN_VALUE_BYTES`]) and not JSON (message contents and tool arguments are indexed as
/// texts already), each distinct value once, at most [`MAX_FIELD_BYTES`] per trace.
pub(crate) fn span_values(spans: &[crate::store::StoredItem]) -> Map<String, String> {
    let mut by_trace: Map<String, (agentrace_loader::hash::Set<String>, String)> = Map::default();
    for item in spans {
        let Ok(span) = serde_json::from_str::<SpanPart<'_>>(&item.body) else {
            continue;
        };
        let trace = span.trace_id.as_deref().unwrap_or_default();
        let (seen, text) = match by_trace.get_mut(trace) {
            Some(entry) => entry,
            None => by_trace.entry(trace.to_owned()).or_default(),
        };
        let mut add = |value: &str| {
            let value = value.trim();
            if value.is_empty()
                || value.len() > MAX_SPAN_VALUE_BYTES
                || value.starts_with(['{', '['])
                || text.len() + value.len() >= MAX_FIELD_BYTES
                || seen.contains(value)
            {
                return;
            }
            seen.insert(value.to_owned());
            text.push_str(value);
            text.push(' ');
        };
        if let Some(name) = &span.name {
            add(name);
        }
        for value in span.attributes.iter().filter_map(|a| a.value.as_ref()) {
            if let Some(s) = &value.string_value {
                add(s);
            } else if let Some(raw) = value.int_value {
                let raw = raw.get();
                if raw.starts_with('"') {
                    if let Ok(text) = serde_json::from_str::<String>(raw) {
                        add(&text);
                    }
                } else if let Ok(number) = serde_json::from_str::<serde_json::Number>(raw) {
                    add(&number.to_string());
                }
            }
        }
    }
    by_trace
        .into_iter()
        .map(|(trace, (_, text))| (trace, text))
        .collect()
}

/// The longest span attribute value indexed (longer ones are contents, indexed otherwise, or
/// blobs).
pub const MAX_SPAN_VALUE_BYTES: usize = 1024;

/// Indexes the stored invocations of sessions that have none indexed (a database written before
/// search existed), once, when the store opens.
pub(crate) fn backfill(conn: &Connection) -> Result<(), StoreError> {
    let rids: Vec<i64> = conn
        .prepare(
            "SELECT DISTINCT session FROM invocations \
             WHERE session NOT IN (SELECT session FROM search_docs)",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for rid in rids {
        let bodies: Vec<(i64, String)> = conn
            .prepare_cached("SELECT idx, body FROM invocations WHERE session = ?1 ORDER BY idx")?
            .query_map([rid], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (idx, body) in bodies {
            put(conn, rid, idx, &body)?;
        }
    }
    Ok(())
}

/// The first non-empty user text of each of `session_ids` (cut to [`PREVIEW_CHARS`]), by id.
pub fn previews(
    store: &crate::store::Store,
    session_ids: &[&str],
) -> Result<Map<String, String>, StoreError> {
    store.with_conn(|conn| {
        // As for a search: the sessions whose completion was answered show their preview.
        crate::store::index_pending_on(conn, i64::MAX)?;
        let mut out = Map::default();
        let mut stmt = conn.prepare_cached(
            "SELECT d.preview FROM search_docs d \
             WHERE d.session = (SELECT rid FROM sessions WHERE id = ?1) AND d.preview <> '' \
             ORDER BY d.idx LIMIT 1",
        )?;
        for id in session_ids {
            if let Some(preview) = stmt.query_row([id], |r| r.get::<_, String>(0)).optional()? {
                out.insert((*id).to_owned(), preview);
            }
        }
        Ok(out)
    })
}

/// Why a query was refused.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query is empty, too long, or has no word to look for.
    #[error("{0}")]
    BadQuery(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A query made safe for FTS5: each word quoted (a `"` in it doubled) and matched as a prefix;
/// words without a letter or digit are dropped (FTS5's tokenizer would make them nothing).
/// Returns the match expression and the words used.
pub fn fts_query(text: &str) -> Result<(String, Vec<String>), SearchError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(SearchError::BadQuery(format!(
            "a search is at most {MAX_QUERY_BYTES} bytes"
        )));
    }
    let words: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(MAX_QUERY_WORDS)
        .map(str::to_owned)
        .collect();
    if words.is_empty() {
        return Err(SearchError::BadQuery(
            "a search needs a word (letters or digits)".to_owned(),
        ));
    }
    let expr = words
        .iter()
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ");
    Ok((expr, words))
}

/// One search result: a turn of a session.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    /// The session.
    pub session_id: String,
    /// The turn (its index in the session's invocations, from 0).
    pub index: i64,
    /// The turn's trace.
    pub trace_id: String,
    /// Which part matched best: `user`, `agent`, `tools` or `attrs`.
    pub field: String,
    /// Text around the match, the matched words between `\u{2}` and `\u{3}`.
    pub snippet: String,
}

/// Markers around the matched words of a snippet.
pub const MARK_START: char = '\u{2}';
/// See [`MARK_START`].
pub const MARK_END: char = '\u{3}';

/// The turns that match `text`, best first, at most `limit` ([`MAX_RESULTS`] at most).
pub fn search(
    store: &crate::store::Store,
    text: &str,
    limit: u32,
) -> Result<Vec<Hit>, SearchError> {
    let (expr, _) = fts_query(text)?;
    let limit = i64::from(limit.clamp(1, MAX_RESULTS));
    Ok(store.with_conn(|conn| {
        // Sessions completed but not indexed yet are indexed first: a session is found as
        // soon as its completion was answered.
        crate::store::index_pending_on(conn, i64::MAX)?;
        let mut stmt = conn.prepare_cached(
            "SELECT s.id, d.idx, d.trace_id, \
                 snippet(search_fts, 0, char(2), char(3), '…', 12), \
                 snippet(search_fts, 1, char(2), char(3), '…', 12), \
                 snippet(search_fts, 2, char(2), char(3), '…', 12), \
                 snippet(search_fts, 3, char(2), char(3), '…', 12) \
             FROM search_fts f JOIN search_docs d ON d.id = f.rowid \
             JOIN sessions s ON s.rid = d.session \
             WHERE search_fts MATCH ?1 AND s.key_kind <> 'staged' \
             ORDER BY f.rank LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![expr, limit], |r| {
            let snippets: [String; 4] = [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?];
            // The first part with a marked word is the one shown (user, agent, tools, attrs).
            let (field, snippet) = ["user", "agent", "tools", "attrs"]
                .into_iter()
                .zip(snippets)
                .find(|(_, s)| s.contains(MARK_START))
                .unwrap_or(("user", String::new()));
            Ok(Hit {
                session_id: r.get(0)?,
                index: r.get(1)?,
                trace_id: r.get(2)?,
                field: field.to_owned(),
                snippet,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(out)
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_quoted_words() {
        let (expr, words) = fts_query(r#"say "hi" NEAR(a b) * : -x"#).unwrap();
        assert_eq!(words, ["say", "\"hi\"", "NEAR(a", "b)", "-x"]);
        assert_eq!(expr, r#""say"* """hi"""* "NEAR(a"* "b)"* "-x"*"#);
        assert!(fts_query("  * ( \" ").is_err());
        assert!(fts_query(&"a".repeat(MAX_QUERY_BYTES + 1)).is_err());
    }

    #[test]
    fn fields_bound_and_flatten_a_turn() {
        let json = r#"{"trace_id":"t","user_text":"héllo","agent_text":"bye",
            "tool_calls":[{"name":"get_weather","args":{"city":"Oslo","days":3}},{"name":"get_weather","args":{}}],
            "tool_responses":[{"name":"get_weather","response":{"out":["sunny",true]}}],
            "agent_name":"helper","models":["m1"]}"#;
        let [trace, preview, user, agent, tools, attrs] = fields(json);
        assert_eq!(
            (
                trace.as_str(),
                preview.as_str(),
                user.as_str(),
                agent.as_str()
            ),
            ("t", "héllo", "héllo", "bye")
        );
        assert_eq!(tools, "get_weather ");
        assert_eq!(attrs, "helper m1 Oslo 3 sunny ");
        assert_eq!(cut("héllo", 2), "h");
        // Not an invocation: nothing indexed, no panic.
        assert_eq!(fields("[1,2]")[2], "");
    }

    #[test]
    fn span_values_keep_short_plain_values_once_per_trace() {
        let item = |body: &str| crate::store::StoredItem {
            origin: String::new(),
            body: body.to_owned(),
        };
        let spans = [
            item(
                r#"{"traceId":"aa","name":"GET","attributes":[
                    {"key":"a","value":{"stringValue":"agt_7"}},
                    {"key":"b","value":{"intValue":"404"}},
                    {"key":"c","value":{"intValue":443}},
                    {"key":"d","value":{"stringValue":"{\"json\": 1}"}},
                    {"key":"e","value":{"boolValue":true}}]}"#,
            ),
            item(
                r#"{"traceId":"aa","name":"GET","attributes":[{"key":"a","value":{"stringValue":" agt_7 "}}]}"#,
            ),
            item(r#"{"traceId":"bb","name":"chat","attributes":[]}"#),
            item("not json"),
            item(r#"{"traceId":"cc","name":"x","attributes":{"not":"a list"}}"#),
        ];
        let values = span_values(&spans);
        assert_eq!(
            values.get("aa").map(String::as_str),
            Some("GET agt_7 404 443 ")
        );
        assert_eq!(values.get("bb").map(String::as_str), Some("chat "));
        assert_eq!(values.len(), 2, "{values:?}");
    }

    #[test]
    fn an_unchanged_document_is_not_written_again() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let turn = r#"{"trace_id":"aa","user_text":"book a flight","agent_text":"done"}"#;
        let doc = |conn: &Connection| -> (i64, String) {
            conn.query_row(
                "SELECT d.id, f.attrs FROM search_docs d JOIN search_fts f ON f.rowid = d.id \
                 WHERE d.session = 1 AND d.idx = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        put_fields(&conn, 1, 0, fields(turn), Some("GET agt_7 ")).unwrap();
        let (first, attrs) = doc(&conn);
        assert_eq!(attrs, " GET agt_7 ");
        // The same turn with the same span values: nothing is written.
        let changes = conn.total_changes();
        put_fields(&conn, 1, 0, fields(turn), Some("GET agt_7 ")).unwrap();
        assert_eq!(conn.total_changes(), changes);
        assert_eq!(doc(&conn), (first, attrs));
        // New span values: written again, and found by them.
        put_fields(&conn, 1, 0, fields(turn), Some("GET agt_8 ")).unwrap();
        assert!(conn.total_changes() > changes);
        assert_eq!(doc(&conn).1, " GET agt_8 ");
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM search_fts WHERE search_fts MATCH '\"agt_8\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 1);
        let stale: i64 = conn
            .query_row(
                "SELECT count(*) FROM search_fts WHERE search_fts MATCH '\"agt_7\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stale, 0);
    }
}
