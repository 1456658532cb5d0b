//! Messages in the GenAI semconv shape, read loosely from every producer's format.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::hash::Map as HashMap;

/// A chat message: a role and its parts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Message {
    /// `system`, `user`, `assistant`, `tool`, ...
    pub role: String,
    /// The parts, in order.
    pub parts: Vec<Part>,
    /// The finish reason (output messages).
    pub finish_reason: Option<String>,
}

/// One part of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Text.
    Text(String),
    /// Model reasoning (not text).
    Reasoning(String),
    /// A tool call requested by the model.
    ToolCall {
        /// Call id.
        id: Option<String>,
        /// Tool name.
        name: Option<String>,
        /// Arguments (parsed from JSON strings).
        arguments: Option<Value>,
    },
    /// A tool result sent back to the model.
    ToolCallResponse {
        /// Call id.
        id: Option<String>,
        /// Tool name, when the producer gives it.
        name: Option<String>,
        /// The result.
        response: Value,
    },
    /// Anything else (blob, uri, file, server tool call, ...): only its type is kept.
    Other(String),
}

impl Message {
    /// True when some part is text.
    pub fn has_text(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Text(_)))
    }

    /// True when every part is a tool result (and there is at least one), or the role is `tool`.
    pub fn is_tool_result(&self) -> bool {
        self.role == "tool"
            || (!self.parts.is_empty()
                && self
                    .parts
                    .iter()
                    .all(|p| matches!(p, Part::ToolCallResponse { .. })))
    }
}

/// Placeholder values that count as no content.
pub(crate) fn is_placeholder(s: &str) -> bool {
    matches!(s, "" | "<REDACTED>" | "<elided>")
}

/// The text parts of messages joined with no separator (as the reference does).
pub fn text_of(msgs: &[Message]) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for m in msgs {
        for p in &m.parts {
            if let Part::Text(t) = p {
                out.push_str(t);
                any = true;
            }
        }
    }
    any.then_some(out)
}

/// Parses a JSON string if it is JSON, else keeps it as a string.
pub(crate) fn parse_jsonish(v: &Value) -> Value {
    match v {
        Value::String(s) => parse_jsonish_str(s),
        other => other.clone(),
    }
}

/// [`parse_jsonish`] of an owned value (a string is parsed, anything else is kept as it is).
pub(crate) fn parse_jsonish_owned(v: Value) -> Value {
    match v {
        Value::String(s) => parse_jsonish_str(&s),
        other => other,
    }
}

/// Parses JSON text into a value whose objects and arrays are each at their own size.
///
/// serde_json's own parser grows an object to room for three entries (and an array to four items)
/// as the first goes in. The tool arguments and results parsed here stay in memory for as long as
/// their live session, and most hold one or two entries: at its own size such an object takes
/// about 40 % of the memory. The value is the one `serde_json::from_str` gives, duplicate keys
/// and the recursion limit included.
pub(crate) fn parse_value(s: &str) -> Option<Value> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(s);
    let value = compact::Seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

mod compact {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    /// Reads any JSON value (see [`super::parse_value`]).
    pub(super) struct Seed;

    impl<'de> DeserializeSeed<'de> for Seed {
        type Value = Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(Seed)
        }
    }

    impl<'de> Visitor<'de> for Seed {
        type Value = Value;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }

        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Seed)? {
                items.push(item);
            }
            items.shrink_to_fit();
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            // The entries are gathered first, so the map is made at its final size.
            let mut entries: Vec<(String, Value)> = Vec::with_capacity(1);
            while let Some(key) = map.next_key::<String>()? {
                entries.push((key, map.next_value_seed(Seed)?));
            }
            // A key given twice keeps its first place and its last value, as in serde_json.
            Ok(Value::Object(
                entries.into_iter().collect::<Map<String, Value>>(),
            ))
        }
    }
}

/// [`parse_jsonish`] of a string.
pub(crate) fn parse_jsonish_str(s: &str) -> Value {
    let t = s.trim_start();
    if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
        parse_value(s).unwrap_or_else(|| Value::String(s.to_owned()))
    } else if let Ok(n) = serde_json::from_str::<Value>(s.trim()) {
        if n.is_number() || n.is_boolean() || n.is_null() {
            n
        } else {
            Value::String(s.to_owned())
        }
    } else {
        Value::String(s.to_owned())
    }
}

fn str_field<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| o.get(*k).and_then(Value::as_str))
}

fn id_field(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match o.get(*k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Parses a semconv message list (`[{role, parts}]`), also accepting OpenAI-style messages
/// (`{role, content, tool_calls}`) and Google `Content` (`{role, parts: [{text}|{function_call}]}`).
/// Returns `None` when the value is not a list of messages.
pub fn parse_messages(v: &Value) -> Option<Vec<Message>> {
    match v {
        Value::String(s) => parse_messages_text(s),
        other => parse_message_list(other.clone()).map(exact),
    }
}

/// [`parse_messages`] of a JSON string attribute, parsed in place (not copied into a JSON value
/// first).
pub fn parse_messages_text(s: &str) -> Option<Vec<Message>> {
    if is_placeholder(s) || s.len() > crate::extract::MAX_JSON_PARSE_BYTES {
        return None;
    }
    let messages = match fast::parse(s) {
        Some(messages) => messages,
        None => parse_message_list(serde_json::from_str::<Value>(s).ok()?)?,
    };
    Some(exact(messages))
}

/// A captured input message list whose messages are shared: a model call's input repeats the
/// conversation so far, and with a message cache each message of it is parsed and kept once
/// per conversation, however many calls repeat it.
pub type SharedMessages = Vec<Arc<Message>>;

/// Per generation, the raw JSON bytes a [`MessageCache`] keeps before it starts a new one.
pub(crate) const MESSAGE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Messages already parsed, by their exact JSON text (the bytes of one element of a message
/// list), so that a conversation's history, which every model call's captured input repeats,
/// is parsed once and shared instead of once per call.
///
/// Only messages the canonical fast path read are kept: a hit gives what parsing those same
/// bytes gives (the fast path reads each element alone, and the same bytes always read the
/// same), so the result never depends on the cache. Two generations: the messages used since
/// the conversation changed, and those of the conversation before (a trace repeated in the next
/// group still hits); older ones are dropped, and a generation past [`MESSAGE_CACHE_BYTES`] of
/// JSON starts a new one, so what the cache holds is bounded by what two conversations use.
#[derive(Debug, Default)]
pub(crate) struct MessageCache {
    current: HashMap<Box<str>, Arc<Message>>,
    previous: HashMap<Box<str>, Arc<Message>>,
    /// The conversation the current generation belongs to.
    owner: Option<String>,
    /// JSON bytes of the current generation's keys.
    bytes: usize,
}

impl MessageCache {
    /// Starts a new generation when the conversation changes to `key`.
    pub(crate) fn conversation(&mut self, key: &str) {
        if self.owner.as_deref() != Some(key) {
            self.rotate();
            self.owner = Some(key.to_owned());
        }
    }

    fn rotate(&mut self) {
        self.previous = std::mem::take(&mut self.current);
        self.bytes = 0;
    }

    fn get(&mut self, raw: &str) -> Option<Arc<Message>> {
        if let Some(m) = self.current.get(raw) {
            return Some(Arc::clone(m));
        }
        let (k, m) = self.previous.remove_entry(raw)?;
        self.insert_key(k, Arc::clone(&m));
        Some(m)
    }

    fn insert(&mut self, raw: &str, m: &Arc<Message>) {
        self.insert_key(raw.into(), Arc::clone(m));
    }

    fn insert_key(&mut self, raw: Box<str>, m: Arc<Message>) {
        if self.bytes + raw.len() > MESSAGE_CACHE_BYTES {
            self.rotate();
        }
        self.bytes += raw.len();
        self.current.insert(raw, m);
    }
}

/// [`parse_messages_text`] with each message shared: through `cache` when given (a message
/// already parsed from the same bytes is reused), else each in its own [`Arc`].
pub(crate) fn parse_shared_messages_text(
    s: &str,
    cache: Option<&mut MessageCache>,
) -> Option<SharedMessages> {
    if is_placeholder(s) || s.len() > crate::extract::MAX_JSON_PARSE_BYTES {
        return None;
    }
    if let Some(cache) = cache
        && let Some(shared) = fast::parse_cached(s, cache)
    {
        return Some(shared);
    }
    parse_messages_text(s).map(share)
}

/// Each message in its own [`Arc`].
pub(crate) fn share(messages: Vec<Message>) -> SharedMessages {
    messages.into_iter().map(Arc::new).collect()
}

/// The list with its spare capacity given back, each message's parts too. Parsed lists are kept
/// for as long as a live session is (a growing `Vec` reserves room for four elements, and most
/// lists hold one message of one part).
fn exact(mut messages: Vec<Message>) -> Vec<Message> {
    for m in &mut messages {
        if m.parts.capacity() > m.parts.len() {
            m.parts.shrink_to_fit();
        }
    }
    if messages.capacity() > messages.len() {
        messages.shrink_to_fit();
    }
    messages
}

/// The typed fast path for the canonical semconv shape, `[{role, parts, finish_reason}]` with
/// `text`, `reasoning`, `tool_call` and `tool_call_response` parts (what the semconv SDKs write):
/// decoded straight into [`Message`]s, without building a JSON object per message and part.
/// Anything outside that shape (another field, another type of a known field, a part that is
/// not an object, a duplicate key) makes it give up, and the general parser reads the text; for
/// every text it accepts, the result is the general parser's (a property test checks this).
/// It is a byte scanner for that shape alone; values it does not model (ids, arguments,
/// responses, escaped strings) are handed to serde_json by their extent.
mod fast {
    use serde_json::Value;

    use super::{Message, Part, parse_jsonish_owned, parse_jsonish_str};
    use crate::json_scan::Cursor;

    struct Scan<'a> {
        s: &'a str,
        c: Cursor<'a>,
    }

    /// A string token: the text between the quotes, and whether it has escapes.
    struct Str<'a> {
        raw: &'a str,
        quoted: &'a str,
        escaped: bool,
    }

    impl<'a> Str<'a> {
        fn text(&self) -> Option<std::borrow::Cow<'a, str>> {
            if self.escaped {
                serde_json::from_str::<String>(self.quoted)
                    .ok()
                    .map(std::borrow::Cow::Owned)
            } else {
                Some(std::borrow::Cow::Borrowed(self.raw))
            }
        }

        fn owned(&self) -> Option<String> {
            self.text().map(std::borrow::Cow::into_owned)
        }
    }

    impl<'a> Scan<'a> {
        fn ws(&mut self) {
            self.c.ws();
        }

        fn peek(&self) -> Option<u8> {
            self.c.b.get(self.c.i).copied()
        }

        fn eat(&mut self, c: u8) -> Option<()> {
            (self.peek()? == c).then(|| self.c.i += 1)
        }

        fn try_eat(&mut self, c: u8) -> bool {
            self.eat(c).is_some()
        }

        fn string(&mut self) -> Option<Str<'a>> {
            let start = self.c.i;
            let (_, escaped) = self.c.string()?;
            let end = self.c.i;
            Some(Str {
                raw: self.s.get(start + 1..end - 1)?,
                quoted: self.s.get(start..end)?,
                escaped,
            })
        }

        /// Reads a `null` if one is next.
        fn null(&mut self) -> bool {
            let next = self
                .c
                .b
                .get(self.c.i..)
                .is_some_and(|r| r.starts_with(b"null"));
            if next {
                self.c.i += 4;
            }
            next
        }

        /// `null` (then `None`) or a string.
        fn opt_string(&mut self) -> Option<Option<String>> {
            if self.null() {
                return Some(None);
            }
            self.string()?.owned().map(Some)
        }

        /// Any JSON value, read by serde_json from its extent.
        fn value(&mut self) -> Option<Value> {
            let start = self.c.i;
            self.c.skip_value()?;
            super::parse_value(self.s.get(start..self.c.i)?)
        }

        /// The members of an object: `member(scanner, key)` reads each value; a key seen twice
        /// gives `None` (serde's derive refuses it too).
        fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
            self.eat(b'{')?;
            self.ws();
            if self.try_eat(b'}') {
                return Some(());
            }
            loop {
                self.ws();
                let key = self.string()?;
                let key = key.text()?;
                self.ws();
                self.eat(b':')?;
                self.ws();
                member(self, &key)?;
                self.ws();
                if self.try_eat(b',') {
                    continue;
                }
                return self.eat(b'}');
            }
        }

        /// The items of an array.
        fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
            self.eat(b'[')?;
            self.ws();
            if self.try_eat(b']') {
                return Some(());
            }
            loop {
                self.ws();
                item(self)?;
                self.ws();
                if self.try_eat(b',') {
                    continue;
                }
                return self.eat(b']');
            }
        }
    }

    /// Sets a member once; a second time is a refusal.
    fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(value);
        Some(())
    }

    /// A part as it was written.
    #[derive(Default)]
    struct RawPart<'a> {
        ty: Option<std::borrow::Cow<'a, str>>,
        content: Option<Option<String>>,
        id: Option<Value>,
        name: Option<Option<String>>,
        arguments: Option<Value>,
        response: Option<Value>,
    }

    fn part<'a>(p: &mut Scan<'a>) -> Option<RawPart<'a>> {
        let mut out = RawPart::default();
        p.object(|p, key| match key {
            "type" => {
                let ty = p.string()?.text()?;
                once(&mut out.ty, ty)
            }
            "content" => {
                let v = p.opt_string()?;
                once(&mut out.content, v)
            }
            "id" => {
                let v = p.value()?;
                once(&mut out.id, v)
            }
            "name" => {
                let v = p.opt_string()?;
                once(&mut out.name, v)
            }
            "arguments" => {
                let v = p.value()?;
                once(&mut out.arguments, v)
            }
            "response" => {
                let v = p.value()?;
                once(&mut out.response, v)
            }
            _ => None,
        })?;
        out.ty.is_some().then_some(out)
    }

    /// The general parser's id rule for one key: a non-empty string, or a number.
    fn id(v: Option<Value>) -> Option<String> {
        match v? {
            Value::String(s) if !s.is_empty() => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn convert(p: RawPart<'_>) -> Option<Part> {
        let ty = p.ty?;
        let content = p.content.flatten();
        Some(match &*ty {
            "text" => Part::Text(content?),
            "reasoning" | "thinking" => Part::Reasoning(content.unwrap_or_default()),
            "tool_call" | "function_call" | "tool_use" => Part::ToolCall {
                id: id(p.id),
                name: p.name.flatten(),
                arguments: p.arguments.map(parse_jsonish_owned),
            },
            "tool_call_response" | "function_call_output" | "tool_result" => {
                // The general parser falls back to `content` for the response.
                let response = match (p.response, &content) {
                    (Some(r), _) => parse_jsonish_owned(r),
                    (None, Some(c)) => parse_jsonish_str(c),
                    (None, None) => Value::Null,
                };
                Part::ToolCallResponse {
                    id: id(p.id),
                    name: p.name.flatten(),
                    response,
                }
            }
            _ => Part::Other(ty.into_owned()),
        })
    }

    fn message(p: &mut Scan<'_>) -> Option<Message> {
        let mut role: Option<Option<String>> = None;
        let mut parts: Option<Option<Vec<Part>>> = None;
        let mut finish_reason: Option<Option<String>> = None;
        p.object(|p, key| match key {
            "role" => {
                let v = p.opt_string()?;
                once(&mut role, v)
            }
            "parts" => {
                let list = if p.null() {
                    None
                } else {
                    // Most messages have one part (see `exact`).
                    let mut list = Vec::with_capacity(1);
                    p.array(|p| {
                        if p.peek()? != b'{' {
                            return None;
                        }
                        // A text part without content is left out, as the general parser does.
                        list.extend(convert(part(p)?));
                        Some(())
                    })?;
                    Some(list)
                };
                once(&mut parts, list)
            }
            "finish_reason" => {
                let v = p.opt_string()?;
                once(&mut finish_reason, v)
            }
            _ => None,
        })?;
        let role = match role.flatten() {
            Some(r) if r == "model" => "assistant".to_owned(),
            Some(r) => r,
            None => String::new(),
        };
        Some(Message {
            role,
            parts: parts.flatten().unwrap_or_default(),
            finish_reason: finish_reason.flatten(),
        })
    }

    /// [`parse`], each element looked up in `cache` by its bytes first; a message parsed here
    /// goes into the cache. `None` where [`parse`] gives `None`.
    pub(super) fn parse_cached(
        s: &str,
        cache: &mut super::MessageCache,
    ) -> Option<super::SharedMessages> {
        let mut p = Scan {
            s,
            c: Cursor::new(s.as_bytes()),
        };
        p.ws();
        let mut out = Vec::new();
        p.array(|p| {
            if p.peek()? != b'{' {
                return None;
            }
            let start = p.c.i;
            let mut probe = Cursor { b: p.c.b, i: start };
            if probe.skip_container_unchecked().is_some()
                && let Some(m) = p.s.get(start..probe.i).and_then(|raw| cache.get(raw))
            {
                p.c.i = probe.i;
                out.push(m);
                return Some(());
            }
            let mut m = message(p)?;
            m.parts.shrink_to_fit();
            let m = std::sync::Arc::new(m);
            cache.insert(p.s.get(start..p.c.i)?, &m);
            out.push(m);
            Some(())
        })?;
        p.ws();
        out.shrink_to_fit();
        (p.c.i == s.len()).then_some(out)
    }

    pub(super) fn parse(s: &str) -> Option<Vec<Message>> {
        let mut p = Scan {
            s,
            c: Cursor::new(s.as_bytes()),
        };
        p.ws();
        // Most lists hold one message (see `exact`).
        let mut out = Vec::with_capacity(1);
        p.array(|p| {
            if p.peek()? != b'{' {
                return None;
            }
            out.push(message(p)?);
            Some(())
        })?;
        p.ws();
        (p.c.i == s.len()).then_some(out)
    }
}

fn parse_message_list(v: Value) -> Option<Vec<Message>> {
    let items = match v {
        Value::Array(a) => a,
        Value::Object(_) => vec![v],
        _ => return None,
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let Some(o) = item.as_object() else { continue };
        out.push(parse_message(o, None));
    }
    Some(out)
}

/// Parses one message object of any supported style; `role` overrides the object's role.
pub(crate) fn parse_message(o: &Map<String, Value>, role: Option<&str>) -> Message {
    let role = role
        .map(str::to_owned)
        .or_else(|| str_field(o, &["role"]).map(str::to_owned))
        .unwrap_or_default();
    let role = if role == "model" {
        "assistant".to_owned()
    } else {
        role
    };
    let mut parts = Vec::new();
    if let Some(ps) = o.get("parts").and_then(Value::as_array) {
        for p in ps {
            if let Some(po) = p.as_object() {
                parse_part(po, &mut parts);
            } else if let Some(s) = p.as_str() {
                parts.push(Part::Text(s.to_owned()));
            }
        }
    }
    match o.get("content") {
        Some(Value::String(s)) if !is_placeholder(s) => {
            if role == "tool" {
                parts.push(Part::ToolCallResponse {
                    id: id_field(o, &["tool_call_id", "id"]),
                    name: str_field(o, &["name"]).map(str::to_owned),
                    response: parse_jsonish_str(s),
                });
            } else {
                parts.push(Part::Text(s.clone()));
            }
        }
        Some(Value::Array(items)) => {
            for p in items {
                if let Some(po) = p.as_object() {
                    let before = parts.len();
                    parse_part(po, &mut parts);
                    if role == "tool" && parts.len() == before {
                        // An untyped tool result block: the block is the response.
                        parts.push(Part::ToolCallResponse {
                            id: id_field(o, &["tool_call_id", "id"]),
                            name: None,
                            response: p.clone(),
                        });
                    }
                } else if let Some(s) = p.as_str() {
                    parts.push(Part::Text(s.to_owned()));
                }
            }
        }
        Some(Value::Object(c)) => {
            // Google Content nested under `content`.
            let inner = parse_message(c, Some(&role));
            parts.extend(inner.parts);
        }
        _ => {}
    }
    if let Some(tcs) = o.get("tool_calls").and_then(Value::as_array) {
        for tc in tcs {
            let Some(tc) = tc.as_object() else { continue };
            let f = tc.get("function").and_then(Value::as_object).unwrap_or(tc);
            parts.push(Part::ToolCall {
                id: id_field(tc, &["id"]),
                name: str_field(f, &["name"]).map(str::to_owned),
                arguments: f.get("arguments").map(parse_jsonish),
            });
        }
    }
    Message {
        role,
        parts,
        finish_reason: str_field(o, &["finish_reason", "finishReason"]).map(str::to_owned),
    }
}

fn parse_part(po: &Map<String, Value>, parts: &mut Vec<Part>) {
    let ty = str_field(po, &["type"]);
    match ty {
        Some("text") => {
            if let Some(t) = str_field(po, &["content", "text"]) {
                parts.push(Part::Text(t.to_owned()));
            }
        }
        Some("reasoning" | "thinking") => {
            let t = str_field(po, &["content", "text", "thinking"]).unwrap_or("");
            parts.push(Part::Reasoning(t.to_owned()));
        }
        Some("tool_call" | "function_call" | "tool_use") => parts.push(Part::ToolCall {
            id: id_field(po, &["id", "call_id"]),
            name: str_field(po, &["name"]).map(str::to_owned),
            arguments: po
                .get("arguments")
                .or_else(|| po.get("input"))
                .or_else(|| po.get("args"))
                .map(parse_jsonish),
        }),
        Some("tool_call_response" | "function_call_output" | "tool_result") => {
            parts.push(Part::ToolCallResponse {
                id: id_field(po, &["id", "call_id", "tool_use_id"]),
                name: str_field(po, &["name"]).map(str::to_owned),
                response: po
                    .get("response")
                    .or_else(|| po.get("result"))
                    .or_else(|| po.get("output"))
                    .or_else(|| po.get("content"))
                    .map(parse_jsonish)
                    .unwrap_or(Value::Null),
            });
        }
        Some(other) => parts.push(Part::Other(other.to_owned())),
        None => parse_google_part(po, parts),
    }
}

/// A Google GenAI part: text / thought / function_call / function_response / inline_data / file_data.
fn parse_google_part(po: &Map<String, Value>, parts: &mut Vec<Part>) {
    if let Some(fc) = po
        .get("function_call")
        .or_else(|| po.get("functionCall"))
        .and_then(Value::as_object)
    {
        parts.push(Part::ToolCall {
            id: id_field(fc, &["id"]),
            name: str_field(fc, &["name"]).map(str::to_owned),
            arguments: fc.get("args").map(parse_jsonish),
        });
    } else if let Some(fr) = po
        .get("function_response")
        .or_else(|| po.get("functionResponse"))
        .and_then(Value::as_object)
    {
        parts.push(Part::ToolCallResponse {
            id: id_field(fr, &["id"]),
            name: str_field(fr, &["name"]).map(str::to_owned),
            response: fr.get("response").map(parse_jsonish).unwrap_or(Value::Null),
        });
    } else if let Some(tu) = po.get("toolUse").and_then(Value::as_object) {
        // Strands (Bedrock Converse) content blocks.
        parts.push(Part::ToolCall {
            id: id_field(tu, &["toolUseId"]),
            name: str_field(tu, &["name"]).map(str::to_owned),
            arguments: tu.get("input").map(parse_jsonish),
        });
    } else if let Some(tr) = po.get("toolResult").and_then(Value::as_object) {
        parts.push(Part::ToolCallResponse {
            id: id_field(tr, &["toolUseId"]),
            name: None,
            response: tr.get("content").map(parse_jsonish).unwrap_or(Value::Null),
        });
    } else if let Some(t) = po.get("text").and_then(Value::as_str) {
        if po.get("thought").and_then(Value::as_bool) == Some(true) {
            parts.push(Part::Reasoning(t.to_owned()));
        } else {
            parts.push(Part::Text(t.to_owned()));
        }
    } else if po.contains_key("inline_data") || po.contains_key("inlineData") {
        parts.push(Part::Other("blob".into()));
    } else if po.contains_key("file_data") || po.contains_key("fileData") {
        parts.push(Part::Other("uri".into()));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{
        Message, MessageCache, fast, parse_message_list, parse_messages_text,
        parse_shared_messages_text, parse_value,
    };

    /// The general parser's reading of a text.
    fn general(text: &str) -> Option<Vec<Message>> {
        parse_message_list(serde_json::from_str::<Value>(text).ok()?)
    }

    /// Any JSON value, as text.
    fn value() -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-3i64..1000).prop_map(Value::from),
            Just(json!(1.5)),
            prop::sample::select(vec!["", "x", "model", "{\"q\":1}", "[1,2]", " 7", "true"])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(vec!["q", "a"]), inner), 0..3)
                    .prop_map(|kv| Value::Object(
                        kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                    )),
            ]
        })
        .prop_map(|v| v.to_string())
        .boxed()
    }

    /// One of `choices`, as a JSON string.
    fn string(choices: Vec<&'static str>) -> BoxedStrategy<String> {
        prop::sample::select(choices)
            .prop_map(|s| Value::from(s).to_string())
            .boxed()
    }

    /// A field of the canonical shape: mostly of its type, sometimes any value.
    fn field(typed: BoxedStrategy<String>) -> BoxedStrategy<String> {
        prop_oneof![20 => typed, 1 => value()].boxed()
    }

    /// The text of an object with some of `fields` (each with its probability), rarely a key outside the canonical shape,
    /// and rarely a key given twice (kept twice in the text).
    fn object(fields: Vec<(&'static str, f64, BoxedStrategy<String>)>) -> BoxedStrategy<String> {
        let extra = prop::option::weighted(
            0.03,
            (
                prop::sample::select(vec!["text", "call_id", "content", "tool_calls"]),
                value(),
            ),
        );
        let picks: Vec<BoxedStrategy<Option<(&'static str, String)>>> = fields
            .into_iter()
            .map(|(k, p, v)| prop::option::weighted(p, v.prop_map(move |v| (k, v))).boxed())
            .collect();
        (
            picks,
            extra,
            prop::option::weighted(0.01, (0usize..4, value())),
        )
            .prop_map(|(picked, extra, dup)| {
                let mut kv: Vec<(&str, String)> = picked.into_iter().flatten().collect();
                kv.extend(extra);
                if let Some((i, v)) = dup
                    && let Some((k, _)) = kv.get(i % kv.len().max(1)).cloned()
                {
                    kv.push((k, v));
                }
                let body: Vec<String> = kv
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
                    .collect();
                format!("{{{}}}", body.join(","))
            })
            .boxed()
    }

    fn part() -> BoxedStrategy<String> {
        let ty = string(vec![
            "text",
            "reasoning",
            "thinking",
            "tool_call",
            "function_call",
            "tool_use",
            "tool_call_response",
            "function_call_output",
            "tool_result",
            "blob",
            "uri",
        ]);
        let id = prop_oneof![
            string(vec!["", "c1", "call_2"]),
            (0i64..100).prop_map(|n| n.to_string()),
            Just("null".to_owned()),
        ]
        .boxed();
        let text = string(vec![
            "",
            "x",
            "hi there",
            "{\"ok\":true}",
            "[1,2]",
            " 7",
            "null",
        ]);
        object(vec![
            ("type", 0.97, prop_oneof![30 => ty, 1 => value()].boxed()),
            ("content", 0.6, field(text.clone())),
            ("id", 0.6, field(id)),
            ("name", 0.6, field(string(vec!["search", ""]))),
            ("arguments", 0.6, prop_oneof![text, value()].boxed()),
            (
                "response",
                0.6,
                prop_oneof![string(vec!["{\"ok\":1}", "done"]), value()].boxed(),
            ),
        ])
    }

    fn message() -> BoxedStrategy<String> {
        let parts = prop::collection::vec(prop_oneof![30 => part(), 1 => value()], 0..4)
            .prop_map(|ps| format!("[{}]", ps.join(",")))
            .boxed();
        object(vec![
            (
                "role",
                0.6,
                field(string(vec!["user", "assistant", "model", "tool", ""])),
            ),
            ("parts", 0.6, prop_oneof![30 => parts, 1 => value()].boxed()),
            (
                "finish_reason",
                0.6,
                field(string(vec!["stop", "tool_call"])),
            ),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn the_fast_path_agrees_with_the_general_parser(
            list in prop::collection::vec(message(), 0..4)
        ) {
            let text = format!("[{}]", list.join(","));
            if let Some(fast) = fast::parse(&text) {
                prop_assert_eq!(Some(fast), general(&text), "text: {}", text);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// A list read through the message cache is the list read without it: the first time
        /// (messages parsed and kept), again (messages taken from the cache), and in a longer
        /// list that repeats it after another (a call's input repeats the history before it).
        #[test]
        fn the_message_cache_never_changes_a_reading(
            first in prop::collection::vec(message(), 0..4),
            second in prop::collection::vec(message(), 0..3),
        ) {
            let mut cache = MessageCache::default();
            let a = format!("[{}]", first.join(","));
            let both = format!("[{}]", first.iter().chain(&second).cloned().collect::<Vec<_>>().join(" , "));
            for text in [&a, &a, &both, &both] {
                let cached = parse_shared_messages_text(text, Some(&mut cache))
                    .map(|l| l.iter().map(|m| Message::clone(m)).collect::<Vec<_>>());
                prop_assert_eq!(cached, parse_messages_text(text), "text: {}", text);
            }
        }
    }

    #[test]
    fn the_message_cache_shares_a_repeated_history_and_forgets_old_conversations() {
        let mut cache = MessageCache::default();
        cache.conversation("a");
        let user = r#"{"role":"user","parts":[{"type":"text","content":"Plan a trip"}]}"#;
        let answer = r#"{"role":"assistant","parts":[{"type":"text","content":"Lisbon"}]}"#;
        let one = parse_shared_messages_text(&format!("[{user}]"), Some(&mut cache)).expect("one");
        let two = parse_shared_messages_text(&format!("[{user},{answer}]"), Some(&mut cache))
            .expect("two");
        assert!(
            std::sync::Arc::ptr_eq(&one[0], &two[0]),
            "the history is shared"
        );
        // The next conversation still finds it; the one after has forgotten it.
        cache.conversation("b");
        let again = parse_shared_messages_text(&format!("[{user}]"), Some(&mut cache)).expect("b");
        assert!(std::sync::Arc::ptr_eq(&one[0], &again[0]));
        cache.conversation("c");
        cache.conversation("d");
        let fresh = parse_shared_messages_text(&format!("[{user}]"), Some(&mut cache)).expect("d");
        assert!(!std::sync::Arc::ptr_eq(&one[0], &fresh[0]));
        assert_eq!(one[0], fresh[0]);
    }

    /// JSON text with objects that give a key twice, and sometimes a byte cut off or changed.
    fn json_text() -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            value(),
            Just("1e400".to_owned()),
            Just("-0".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just(r#""\u00e9\n""#.to_owned()),
        ];
        let text = leaf
            .prop_recursive(3, 16, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|items| format!("[{}]", items.join(","))),
                    prop::collection::vec((prop::sample::select(vec!["q", "a", "q"]), inner), 0..4)
                        .prop_map(|kv| {
                            let body: Vec<String> =
                                kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                            format!("{{{}}}", body.join(","))
                        }),
                ]
            })
            .boxed();
        (
            text,
            prop::option::weighted(0.2, (any::<prop::sample::Index>(), 0u8..3)),
        )
            .prop_map(|(mut text, damage)| {
                if let Some((at, how)) = damage
                    && !text.is_empty()
                {
                    let i = at.index(text.len());
                    if text.is_char_boundary(i) && text.is_char_boundary(i + 1) {
                        text.replace_range(i..=i, ["", "}", " x"][usize::from(how)]);
                    }
                }
                text
            })
            .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// The compact parser gives serde_json's value: the same entries, in the same order (a
        /// repeated key keeps its first place and its last value), and the same refusals.
        #[test]
        fn the_compact_parser_gives_serde_jsons_value(text in json_text()) {
            let ours = parse_value(&text);
            let theirs = serde_json::from_str::<Value>(&text).ok();
            prop_assert_eq!(ours.as_ref().map(Value::to_string), theirs.as_ref().map(Value::to_string));
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn the_compact_parser_keeps_serde_jsons_limits() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert_eq!(parse_value(&deep), None);
        let dup = r#"{"q":1,"a":2,"q":3}"#;
        assert_eq!(
            parse_value(dup).map(|v| v.to_string()).as_deref(),
            Some(r#"{"q":3,"a":2}"#)
        );
    }

    #[test]
    fn the_fast_path_takes_the_canonical_shape_and_leaves_the_rest() {
        let canonical = r#"[{"role":"user","parts":[{"type":"text","content":"Plan a trip"}]},
            {"role":"assistant","parts":[{"type":"reasoning","content":"hm"},
              {"type":"tool_call","id":"c1","name":"search","arguments":{"q":"Lisbon"}}],
             "finish_reason":"tool_call"},
            {"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":"{\"ok\":true}"}]}]"#;
        let fast = fast::parse(canonical).expect("canonical messages take the fast path");
        assert_eq!(fast.len(), 3);
        assert_eq!(Some(fast), general(canonical));
        for other in [
            r#"[{"role":"user","content":"hi"}]"#,
            r#"{"role":"user","parts":[]}"#,
            r#"[{"role":"user","parts":["hi"]}]"#,
            r#"[{"role":"user","parts":[{"text":"hi"}]}]"#,
            r#"[{"role":"user","role":"system","parts":[]}]"#,
            r#"[{"parts":[["text"]]}]"#,
            r#"[["user"]]"#,
        ] {
            assert!(fast::parse(other).is_none(), "{other}");
            assert!(general(other).is_some(), "{other}");
        }
        // Not JSON: a raw control character in a string, a bad escape, trailing text.
        for bad in [
            "[{\"role\":\"us\ner\"}]",
            r#"[{"role":"us\qer"}]"#,
            r#"[{"role":"user"}] x"#,
            r#"[{"role":"user"},]"#,
        ] {
            assert!(fast::parse(bad).is_none(), "{bad}");
        }
    }
}
