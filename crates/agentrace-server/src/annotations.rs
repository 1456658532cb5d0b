//! Annotations: a person's verdict (`good` or `bad`) and note on a turn of a session, kept in the
//! database with the session (they survive a restart, go with the session's export, and are
//! deleted with it).
//!
//! A note is at most [`crate::config::Limits::max_note_bytes`] bytes; a turn is named by its index
//! in the session's invocations, which must exist when the annotation is written.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError, now_ns};

/// The annotations table.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS annotations (
    session       INTEGER NOT NULL,
    idx           INTEGER NOT NULL,
    verdict       TEXT,
    note          TEXT NOT NULL,
    updated_at_ns INTEGER NOT NULL,
    PRIMARY KEY (session, idx)
) WITHOUT ROWID;
";

/// The verdicts a turn can get.
pub const VERDICTS: [&str; 2] = ["good", "bad"];

/// One turn's annotation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    /// The turn: its index in the session's invocations, from 0.
    pub index: i64,
    /// `good`, `bad`, or none.
    pub verdict: Option<String>,
    /// The note (may be empty).
    pub note: String,
    /// When it was last written (server clock), ns.
    pub updated_at_ns: i64,
}

/// The body of `PUT /api/sessions/{id}/annotations/{index}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationInput {
    /// `good`, `bad`, or `null`.
    #[serde(default)]
    pub verdict: Option<String>,
    /// The note.
    #[serde(default)]
    pub note: String,
}

/// Why an annotation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    /// The input is not acceptable (a verdict not in [`VERDICTS`], a note too long).
    #[error("{0}")]
    Invalid(String),
    /// No such session or turn.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AnnotationInput {
    /// Checks the verdict and the note's size.
    pub fn validate(&self, max_note_bytes: usize) -> Result<(), AnnotateError> {
        if let Some(v) = &self.verdict
            && !VERDICTS.contains(&v.as_str())
        {
            return Err(AnnotateError::Invalid(format!(
                "verdict must be one of {VERDICTS:?} or null"
            )));
        }
        if self.note.len() > max_note_bytes {
            return Err(AnnotateError::Invalid(format!(
                "a note is at most {max_note_bytes} bytes (this one has {})",
                self.note.len()
            )));
        }
        if self.note.contains('\0') {
            return Err(AnnotateError::Invalid("a note cannot hold NUL".to_owned()));
        }
        Ok(())
    }
}

fn no_session(session_id: &str) -> AnnotateError {
    AnnotateError::NotFound(format!("no session `{session_id}`"))
}

/// Writes turn `index`'s annotation (replacing the one it had); returns it.
pub fn put(
    store: &Store,
    session_id: &str,
    index: i64,
    input: &AnnotationInput,
) -> Result<Annotation, AnnotateError> {
    store.with_conn(|conn| {
        let Some(rid) = crate::store::session_rid(conn, session_id)? else {
            return Ok(Err(no_session(session_id)));
        };
        let now = now_ns();
        conn.prepare_cached(
            "INSERT INTO annotations (session, idx, verdict, note, updated_at_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(session, idx) DO UPDATE SET \
             verdict = excluded.verdict, note = excluded.note, updated_at_ns = excluded.updated_at_ns",
        )?
        .execute(params![rid, index, input.verdict, input.note, now])?;
        Ok(Ok(Annotation {
            index,
            verdict: input.verdict.clone(),
            note: input.note.clone(),
            updated_at_ns: now,
        }))
    })?
}

/// Deletes turn `index`'s annotation; whether it had one.
pub fn delete(store: &Store, session_id: &str, index: i64) -> Result<bool, AnnotateError> {
    store.with_conn(|conn| {
        let Some(rid) = crate::store::session_rid(conn, session_id)? else {
            return Ok(Err(no_session(session_id)));
        };
        let n = conn
            .prepare_cached("DELETE FROM annotations WHERE session = ?1 AND idx = ?2")?
            .execute(params![rid, index])?;
        Ok(Ok(n > 0))
    })?
}

/// A session's annotations, by turn.
pub fn list(store: &Store, session_id: &str) -> Result<Vec<Annotation>, AnnotateError> {
    store.with_conn(|conn| {
        let Some(rid) = crate::store::session_rid(conn, session_id)? else {
            return Ok(Err(no_session(session_id)));
        };
        let mut stmt = conn.prepare_cached(
            "SELECT idx, verdict, note, updated_at_ns FROM annotations WHERE session = ?1 \
             ORDER BY idx",
        )?;
        let rows = stmt.query_map([rid], |r| {
            Ok(Annotation {
                index: r.get(0)?,
                verdict: r.get(1)?,
                note: r.get(2)?,
                updated_at_ns: r.get(3)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(Ok(out))
    })?
}

/// Forgets a session's annotations (the session is deleted).
pub(crate) fn forget_session(conn: &Connection, rid: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM annotations WHERE session = ?1")?
        .execute([rid])?;
    Ok(())
}
