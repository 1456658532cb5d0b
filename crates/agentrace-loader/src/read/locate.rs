//! Finds the line of a field in a JSON document, for error messages: the lenient reader works on
//! a parsed tree, which has no positions, so a skipped record's field path is looked up again in
//! the text.

/// Names a field may have in the file for each name used in field paths.
fn aliases(key: &str) -> &'static [&'static str] {
    match key {
        "resourceSpans" => &["resourceSpans", "resource_spans", "batches"],
        "scopeSpans" => &[
            "scopeSpans",
            "scope_spans",
            "instrumentationLibrarySpans",
            "instrumentation_library_spans",
        ],
        "resourceLogs" => &["resourceLogs", "resource_logs"],
        "scopeLogs" => &[
            "scopeLogs",
            "scope_logs",
            "instrumentationLibraryLogs",
            "instrumentation_library_logs",
        ],
        "logRecords" => &["logRecords", "log_records"],
        "traceId" => &["traceId", "trace_id"],
        "spanId" => &["spanId", "span_id"],
        "parentSpanId" => &["parentSpanId", "parent_span_id"],
        _ => &[],
    }
}

use crate::json_scan::Cursor;

/// Moves through objects and arrays by name and index.
impl Cursor<'_> {
    /// At an object: moves to the value of the first member named one of `names`.
    fn member(&mut self, names: &[&str]) -> Option<()> {
        if self.ws()? != b'{' {
            return None;
        }
        self.i += 1;
        loop {
            match self.ws()? {
                b',' => {
                    self.i += 1;
                    continue;
                }
                b'"' => {}
                _ => return None,
            }
            let (key, _) = self.string()?;
            let hit = names.iter().any(|n| n.as_bytes() == key);
            if self.ws()? != b':' {
                return None;
            }
            self.i += 1;
            if hit {
                self.ws()?;
                return Some(());
            }
            self.skip_value()?;
        }
    }

    /// At an array: moves to element `n`.
    fn element(&mut self, n: usize) -> Option<()> {
        if self.ws()? != b'[' {
            return None;
        }
        self.i += 1;
        for _ in 0..n {
            self.skip_value()?;
            if self.ws()? != b',' {
                return None;
            }
            self.i += 1;
        }
        self.ws().map(|_| ())
    }
}

/// The 1-based line where the field at `path` (`resourceSpans[0].scopeSpans[1].spans[2].spanId`)
/// starts in `text`, or where the deepest part of the path that exists starts.
pub(crate) fn line_of(text: &[u8], path: &str) -> Option<usize> {
    let mut c = Cursor::new(text);
    for segment in path.split('.') {
        let (key, rest) = segment.split_once('[').unwrap_or((segment, ""));
        let save = c.i;
        if !key.is_empty() && key != "span" {
            let names = aliases(key);
            let found = if names.is_empty() {
                c.member(&[key])
            } else {
                c.member(names)
            };
            if found.is_none() {
                c.i = save;
                break;
            }
        }
        for idx in rest.split('[') {
            let Ok(n) = idx.trim_end_matches(']').parse::<usize>() else {
                continue;
            };
            let save = c.i;
            if c.element(n).is_none() {
                c.i = save;
                break;
            }
        }
    }
    let upto = text.get(..c.i)?;
    Some(1 + upto.iter().filter(|&&b| b == b'\n').count())
}
