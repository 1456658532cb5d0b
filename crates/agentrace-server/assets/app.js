// The agentrace web page. Plain JavaScript, no build step, no network beyond the server itself.
//
// Data comes from the REST API (`/api/...`) and the live feed (`/stream/ui-updates`, SSE), both
// described in docs/server.md. Trace data is only ever put into the page as text
// (`textContent`), never as HTML.
"use strict";

(() => {
  // ---- Configuration from the address -------------------------------------------------------

  const TOKEN = new URLSearchParams(location.search).get("token");
  const HEADERS = TOKEN ? { Authorization: "Bearer " + TOKEN } : {};
  const LIST_LIMIT = 200;
  const META_CONCURRENCY = 3;
  const GEN_AI = "gen_ai.";
  /** Span rows drawn at most without virtualization (never reached: larger sessions are drawn
   * virtualized, see VIRTUAL_FROM). */
  const MAX_SPAN_ROWS = 3000;
  /** From this many spans on, the waterfall draws only the rows in view. */
  const VIRTUAL_FROM = 1000;
  /** Height of one virtualized waterfall row, in pixels (the CSS's `.vrow`). */
  const VROW_PX = 26;
  /** Spans fetched by the first request: enough to fill the view, small enough to arrive fast;
   * it is drawn while the rest arrive, SPAN_PAGE at a time. */
  const FIRST_SPAN_PAGE = 500;
  const SPAN_PAGE = 2500;
  /** Results one search asks for. */
  const SEARCH_LIMIT = 50;
  /** The tabs of an open session (`&tab=` names them). */
  const TABS = ["conversation", "spans", "logs", "evaluations"];

  /** Adds `?token=` to the event stream's address (the server takes it only there: an
   * `EventSource` cannot send a header). */
  function withToken(path) {
    if (!TOKEN) return path;
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
  }

  /** Follows a link into the API. With a token, the data is fetched with the header and opened
   * from memory, so the token never goes into an address (where history and logs keep it). */
  function apiLink(event, path, download) {
    if (!TOKEN) return;
    event.preventDefault();
    fetch(path, { headers: HEADERS, cache: "no-store" })
      .then((response) => {
        if (!response.ok) throw new HttpError(path, response.status);
        return response.blob();
      })
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        const link = document.createElement("a");
        link.href = url;
        if (download) link.download = download;
        else {
          link.target = "_blank";
          link.rel = "noopener";
        }
        link.click();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      })
      .catch((err) => notice(String(err.message || err), true));
  }

  // ---- State --------------------------------------------------------------------------------

  const state = {
    /** id -> session summary, as the API returns it. */
    sessions: new Map(),
    /** id -> { invocations: Map(key -> invocation) | null, count: number | null, loading } */
    meta: new Map(),
    total: 0,
    selected: selectedFromHash(),
    /** The open session: { id, summary, invocations: Map, spans: [], spansLoaded, missing } */
    detail: null,
    tab: TABS.includes(hashParams().get("tab")) ? hashParams().get("tab") : "conversation",
    /** Keys of expanded elements (tool calls, spans), kept across re-renders. */
    open: new Set(),
    filter: "",
    stateFilter: "",
    /** What the main pane shows besides a session: { kind: "search", q } or { kind: "compare", a, b }. */
    view: viewFromHash(),
    /** The turn to scroll to once the open session is drawn (from `&turn=N`). */
    targetTurn: turnFromHash(),
    /** Unsaved notes being edited, by turn key. */
    drafts: new Map(),
    /** The last evaluation asked for from the page (eval set, metrics, threshold, match type). */
    evalChoice: null,
  };

  // ---- Small helpers ------------------------------------------------------------------------

  /** Creates an element; text is always set as text, never parsed as HTML. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
        else if (k === "dataset") Object.assign(node.dataset, v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function $(id) {
    return document.getElementById(id);
  }

  /** The address's fragment as parameters: `#session=ID&turn=N&tab=spans`, `#search=WORDS`,
   * `#compare=A&with=B` (every value URI-encoded). */
  function hashParams() {
    const out = new Map();
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      const eq = part.indexOf("=");
      if (eq <= 0) continue;
      try {
        out.set(part.slice(0, eq), decodeURIComponent(part.slice(eq + 1)));
      } catch {
        // A malformed part is ignored.
      }
    }
    return out;
  }

  function selectedFromHash() {
    return hashParams().get("session") || null;
  }

  function turnFromHash() {
    const turn = Number(hashParams().get("turn"));
    return Number.isInteger(turn) && turn >= 0 ? turn : null;
  }

  function viewFromHash() {
    const p = hashParams();
    if (p.has("search")) return { kind: "search", q: p.get("search") };
    if (p.has("compare") && p.has("with")) return { kind: "compare", a: p.get("compare"), b: p.get("with") };
    if (p.has("eval-set")) return { kind: "eval-set", id: p.get("eval-set") };
    if (location.hash === "#eval-sets") return { kind: "eval-sets" };
    if (location.hash === "#evaluate-files") return { kind: "evaluate-files" };
    return null;
  }

  function sessionHref(id, turn) {
    return "#session=" + encodeURIComponent(id) + (turn === undefined || turn === null ? "" : "&turn=" + turn);
  }

  function compareHref(a, b) {
    return "#compare=" + encodeURIComponent(a) + "&with=" + encodeURIComponent(b);
  }

  class HttpError extends Error {
    constructor(path, status, message) {
      super(message || path + ": HTTP " + status);
      this.status = status;
    }
  }

  async function api(path, method, body) {
    const init = { method: method || "GET", headers: HEADERS, cache: "no-store" };
    if (body !== undefined) {
      init.headers = Object.assign({ "Content-Type": "application/json" }, HEADERS);
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (!response.ok) {
      let message = null;
      try {
        const body = await response.json();
        message = body && body.error && body.error.message;
      } catch {
        // The body was not the API's error shape; the status says enough.
      }
      throw new HttpError(path, response.status, message);
    }
    return response.status === 204 ? null : response.json();
  }

  function sessionPath(id, rest) {
    return "/api/sessions/" + encodeURIComponent(id) + (rest || "");
  }

  /** Nanoseconds (number or decimal string) to BigInt; null when absent. */
  function ns(value) {
    if (value === undefined || value === null || value === "") return null;
    try {
      return BigInt(typeof value === "number" ? Math.round(value) : value);
    } catch {
      return null;
    }
  }

  /** A BigInt nanosecond difference to milliseconds as a number. */
  function msBetween(start, end) {
    if (start === null || end === null) return null;
    return Number(end - start) / 1e6;
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || !isFinite(ms) || ms < 0) return "";
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
    const minutes = Math.floor(ms / 60000);
    const seconds = Math.round((ms % 60000) / 1000);
    return minutes + "m " + seconds + "s";
  }

  function nsToDate(value) {
    const n = ns(value);
    return n === null ? null : new Date(Number(n / 1000000n));
  }

  function fmtTime(value) {
    const d = nsToDate(value);
    if (!d) return "";
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    return sameDay
      ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
      : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function fmtCount(n, one, many) {
    return n + " " + (n === 1 ? one : many || one + "s");
  }

  function fmtTokens(n) {
    if (n >= 10000) return (n / 1000).toFixed(1) + "k";
    return String(n);
  }

  // ---- OTLP values ----------------------------------------------------------------------------

  /** An OTLP AnyValue as plain JavaScript. */
  function anyValue(v) {
    if (v === null || typeof v !== "object") return v;
    if ("stringValue" in v) return v.stringValue;
    if ("intValue" in v) return Number(v.intValue);
    if ("doubleValue" in v) return v.doubleValue;
    if ("boolValue" in v) return v.boolValue;
    if ("bytesValue" in v) return v.bytesValue;
    if ("arrayValue" in v) return ((v.arrayValue && v.arrayValue.values) || []).map(anyValue);
    if ("kvlistValue" in v) return attrsObject((v.kvlistValue && v.kvlistValue.values) || []);
    return null;
  }

  function attrsObject(list) {
    const out = {};
    if (Array.isArray(list)) {
      for (const kv of list) if (kv && typeof kv.key === "string") out[kv.key] = anyValue(kv.value);
    } else if (list && typeof list === "object") {
      Object.assign(out, list);
    }
    return out;
  }

  function isErrorStatus(status) {
    if (!status) return false;
    return status.code === 2 || status.code === "STATUS_CODE_ERROR";
  }

  /** Parses a string that holds JSON; anything else is returned as it is. */
  function maybeJson(value) {
    if (typeof value !== "string") return value;
    const t = value.trim();
    if (!(t.startsWith("{") || t.startsWith("["))) return value;
    try {
      return JSON.parse(t);
    } catch {
      return value;
    }
  }

  // ---- Spans: model ---------------------------------------------------------------------------

  /** Prepares the spans of a session: attributes as objects, times as BigInt, tree links. */
  function indexSpans(raw) {
    const byId = new Map();
    const spans = raw.map((s) => {
      const span = {
        raw: s,
        id: s.spanId,
        traceId: s.traceId,
        parentId: s.parentSpanId || null,
        name: s.name || "(unnamed)",
        start: ns(s.startTimeUnixNano),
        end: ns(s.endTimeUnixNano),
        attrs: attrsObject(s.attributes),
        error: isErrorStatus(s.status),
        children: [],
      };
      byId.set(span.traceId + "/" + span.id, span);
      return span;
    });
    for (const span of spans) {
      const parent = span.parentId ? byId.get(span.traceId + "/" + span.parentId) : null;
      span.parent = parent || null;
      if (parent) parent.children.push(span);
    }
    const byStart = (a, b) => (a.start === null || b.start === null ? 0 : a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
    for (const span of spans) span.children.sort(byStart);
    // Traces in order of their first span.
    const traces = new Map();
    for (const span of spans) {
      if (!traces.has(span.traceId)) traces.set(span.traceId, { id: span.traceId, spans: [], roots: [] });
      const trace = traces.get(span.traceId);
      trace.spans.push(span);
      if (!span.parent) trace.roots.push(span);
    }
    for (const trace of traces.values()) {
      trace.roots.sort(byStart);
      let start = null;
      let end = null;
      for (const span of trace.spans) {
        if (span.start !== null && (start === null || span.start < start)) start = span.start;
        if (span.end !== null && (end === null || span.end > end)) end = span.end;
      }
      trace.start = start;
      trace.end = end;
      trace.usage = usageOf(trace.spans);
      trace.errors = trace.spans.filter((s) => s.error);
    }
    return { spans, byId, traces };
  }

  function tokenAttr(attrs, names) {
    for (const name of names) {
      const v = attrs[GEN_AI + name];
      if (v !== undefined && v !== null && isFinite(Number(v))) return Number(v);
    }
    return null;
  }

  /**
   * Token usage of a set of spans. A span's usage counts only when no span below it reports
   * usage too, so an agent span that repeats its model calls' totals is not counted twice.
   */
  function usageOf(spans) {
    const withUsage = new Set();
    const values = new Map();
    for (const span of spans) {
      const input = tokenAttr(span.attrs, ["usage.input_tokens", "usage.prompt_tokens"]);
      const output = tokenAttr(span.attrs, ["usage.output_tokens", "usage.completion_tokens"]);
      if (input !== null || output !== null) {
        withUsage.add(span);
        values.set(span, { input: input || 0, output: output || 0 });
      }
    }
    const covered = new Set();
    for (const span of withUsage) {
      for (let p = span.parent; p; p = p.parent) covered.add(p);
    }
    let input = 0;
    let output = 0;
    let any = false;
    for (const span of withUsage) {
      if (covered.has(span)) continue;
      any = true;
      input += values.get(span).input;
      output += values.get(span).output;
    }
    return any ? { input, output } : null;
  }

  function operationOf(span) {
    const op = span.attrs[GEN_AI + "operation.name"];
    if (typeof op === "string") return op;
    if (span.attrs["gcp.vertex.agent.tool_call_args"] !== undefined) return "execute_tool";
    return "";
  }

  function opClass(span) {
    const op = operationOf(span);
    if (op === "chat" || op === "text_completion" || op === "generate_content") return "op-model";
    if (op === "execute_tool") return "op-tool";
    if (op === "invoke_agent" || op === "create_agent") return "op-agent";
    return "op-other";
  }

  // ---- Rendering: JSON ------------------------------------------------------------------------

  /** Pretty JSON with token colouring, built from text nodes only. */
  function jsonView(value) {
    const pre = h("pre", { class: "json" });
    const write = (v, indent) => {
      const pad = "  ".repeat(indent);
      if (v === null || typeof v !== "object") {
        const cls = v === null ? "j-null" : typeof v === "string" ? "j-str" : typeof v === "number" ? "j-num" : "j-bool";
        pre.append(h("span", { class: cls, text: JSON.stringify(v) }));
        return;
      }
      const isArray = Array.isArray(v);
      const entries = isArray ? v.map((x, i) => [i, x]) : Object.entries(v);
      if (entries.length === 0) {
        pre.append(isArray ? "[]" : "{}");
        return;
      }
      pre.append(isArray ? "[\n" : "{\n");
      entries.forEach(([k, x], i) => {
        pre.append(pad + "  ");
        if (!isArray) pre.append(h("span", { class: "j-key", text: JSON.stringify(k) }), ": ");
        write(x, indent + 1);
        pre.append(i < entries.length - 1 ? ",\n" : "\n");
      });
      pre.append(pad + (isArray ? "]" : "}"));
    };
    write(maybeJson(value), 0);
    return pre;
  }

  function shortJson(value) {
    const v = maybeJson(value);
    let text;
    try {
      text = typeof v === "string" ? v : JSON.stringify(v);
    } catch {
      text = String(v);
    }
    if (text === undefined) return "";
    return text.length > 90 ? text.slice(0, 87) + "…" : text;
  }

  // ---- Rendering: session list ----------------------------------------------------------------

  function serviceOf(summary) {
    return (summary.metadata && summary.metadata["service.name"]) || "";
  }

  function modelsOf(id) {
    const meta = state.meta.get(id);
    if (!meta || !meta.invocations) return [];
    const models = new Set();
    for (const inv of meta.invocations.values()) for (const m of inv.models || []) models.add(m);
    return [...models];
  }

  function invocationCountOf(id) {
    const meta = state.meta.get(id);
    if (!meta) return null;
    if (meta.invocations) return meta.invocations.size;
    return meta.count;
  }

  function matchesFilter(summary) {
    if (state.stateFilter === "live" && summary.complete) return false;
    if (state.stateFilter === "complete" && !summary.complete) return false;
    const q = state.filter.trim().toLowerCase();
    if (!q) return true;
    const hay = [summary.id, summary.key, serviceOf(summary), summary.evalSetId || "", summary.preview || "", ...modelsOf(summary.id)]
      .join("\n")
      .toLowerCase();
    return hay.includes(q);
  }

  function statusPill(complete) {
    return h("span", { class: "pill " + (complete ? "pill-done" : "pill-live"), text: complete ? "complete" : "live" });
  }

  function sessionRow(summary) {
    const id = summary.id;
    const count = invocationCountOf(id);
    const models = modelsOf(id);
    const service = serviceOf(summary);
    return h(
      "li",
      { class: "srow" + (id === state.selected ? " active" : ""), dataset: { id } },
      h(
        "a",
        { href: sessionHref(id), class: "srow-link", "aria-current": id === state.selected ? "page" : null },
        h("div", { class: "srow-top" }, h("span", { class: "sid", text: id, title: id }), verdictBadge(summary.latestEvaluation), statusPill(summary.complete)),
        summary.preview ? h("div", { class: "preview", text: summary.preview, title: summary.preview }) : null,
        h(
          "div",
          { class: "srow-sub" },
          service ? h("span", { class: "service", text: service }) : null,
          h("span", { text: fmtCount(summary.spanCount, "span") }),
          h("span", { class: "inv-count", text: count === null ? "… turns" : fmtCount(count, "turn") }),
          h("span", { class: "time", text: fmtTime(summary.createdAtNs), title: nsToDate(summary.createdAtNs)?.toString() }),
        ),
        models.length ? h("div", { class: "chips" }, models.map((m) => h("span", { class: "chip", text: m }))) : null,
      ),
    );
  }

  let listFrame = 0;
  function renderListSoon() {
    if (listFrame) return;
    listFrame = requestAnimationFrame(() => {
      listFrame = 0;
      renderList();
    });
  }

  function renderList() {
    const list = $("sessions");
    const all = [...state.sessions.values()].sort((a, b) => (b.createdAtNs || 0) - (a.createdAtNs || 0));
    const shown = all.filter(matchesFilter);
    const rows = shown.map(sessionRow);
    if (all.length === 0) {
      rows.push(
        h(
          "li",
          { class: "empty" },
          h("strong", { text: "No sessions yet." }),
          h("p", { text: "Point an OpenTelemetry exporter at this server:" }),
          h("code", { text: "OTEL_EXPORTER_OTLP_ENDPOINT=" + location.origin }),
          h("p", { text: "Spans sent to /v1/traces (OTLP/HTTP) or the gRPC port appear here live." }),
        ),
      );
    } else if (shown.length === 0) {
      rows.push(h("li", { class: "empty", text: "No session matches the filter." }));
    }
    list.replaceChildren(...rows);
    const more = state.total > state.sessions.size ? " (newest " + state.sessions.size + " of " + state.total + ")" : "";
    $("session-count").textContent =
      shown.length === all.length ? fmtCount(all.length, "session") + more : shown.length + " of " + fmtCount(all.length, "session") + more;
  }

  // ---- Rendering: session detail --------------------------------------------------------------

  function invKey(inv) {
    return (inv.group || 0) + ":" + (inv.index || 0);
  }

  function sortedInvocations() {
    const list = [...state.detail.invocations.values()];
    list.sort((a, b) => (a.group || 0) - (b.group || 0) || (a.index || 0) - (b.index || 0));
    return list;
  }

  function spanModel() {
    const d = state.detail;
    if (!d.spanIndex) d.spanIndex = indexSpans(d.spans);
    return d.spanIndex;
  }

  /** Facts about a turn taken from its trace's spans: duration, usage, errors. */
  function turnFacts(inv) {
    const model = spanModel();
    const trace = model.traces.get(inv.trace_id);
    if (!trace) return { duration: null, usage: null, errors: [] };
    const anchor = inv.invocation_id ? model.byId.get(inv.trace_id + "/" + inv.invocation_id) : null;
    const duration = anchor ? msBetween(anchor.start, anchor.end) : msBetween(trace.start, trace.end);
    let spans = trace.spans;
    if (anchor) {
      spans = [];
      const walk = (s) => {
        spans.push(s);
        s.children.forEach(walk);
      };
      walk(anchor);
    }
    const usage = anchor ? usageOf(spans) || trace.usage : trace.usage;
    return { duration, usage, errors: spans.filter((s) => s.error) };
  }

  /** A `<details>` whose open state survives re-renders; keys are per session. */
  function detailsKeyed(localKey, cls, summary, body) {
    const key = state.selected + "\u0000" + localKey;
    const node = h("details", { class: cls }, h("summary", null, summary), body);
    node.open = state.open.has(key);
    node.addEventListener("toggle", () => {
      if (node.open) state.open.add(key);
      else state.open.delete(key);
    });
    return node;
  }

  function toolEntries(inv) {
    const calls = inv.tool_calls || [];
    const responses = [...(inv.tool_responses || [])];
    const entries = calls.map((call) => {
      let i = call.id ? responses.findIndex((r) => r.id === call.id) : -1;
      if (i < 0) i = responses.findIndex((r) => !r.id && r.name === call.name);
      const response = i >= 0 ? responses.splice(i, 1)[0] : null;
      return { call, response };
    });
    for (const response of responses) entries.push({ call: null, response });
    return entries;
  }

  function toolView(key, entry, i) {
    const { call, response } = entry;
    const name = (call && call.name) || (response && response.name) || "tool";
    const isError = call && call.is_error;
    const summary = [
      h("span", { class: "tool-icon", "aria-hidden": "true", text: "⚙" }),
      h("span", { class: "tool-name", text: name }),
      call ? h("code", { class: "tool-args", text: shortJson(call.args) }) : null,
      isError ? h("span", { class: "pill pill-err", text: "error" }) : response ? null : h("span", { class: "pill pill-muted", text: "no result" }),
    ];
    const body = h(
      "div",
      { class: "tool-body" },
      call ? h("div", { class: "label" }, "Arguments", call.id ? h("span", { class: "call-id", text: call.id }) : null) : null,
      call ? jsonView(call.args === undefined ? null : call.args) : null,
      response ? h("div", { class: "label", text: "Result" }) : null,
      response ? jsonView(response.response === undefined ? null : response.response) : null,
    );
    return detailsKeyed(key + "/tool/" + i, "tool" + (isError ? " tool-error" : ""), summary, body);
  }

  function message(role, text) {
    return h(
      "div",
      { class: "msg msg-" + role },
      h("div", { class: "who", text: role === "user" ? "User" : "Agent" }),
      h("div", { class: "text", text }),
    );
  }

  function turnView(inv, number) {
    const key = invKey(inv);
    const facts = turnFacts(inv);
    const tools = toolEntries(inv);
    const hasError = facts.errors.length > 0 || (inv.tool_calls || []).some((c) => c.is_error);
    const headBits = [
      h("span", { class: "turn-no", text: "Turn " + number }),
      inv.agent_name ? h("span", { class: "agent", text: inv.agent_name }) : null,
      ...(inv.models || []).map((m) => h("span", { class: "chip", text: m })),
      h("span", { class: "spacer" }),
      inv.llm_call_count ? h("span", { class: "fact", text: fmtCount(inv.llm_call_count, "LLM call") }) : null,
      facts.usage
        ? h("span", {
            class: "fact",
            title: facts.usage.input + " input tokens, " + facts.usage.output + " output tokens",
            text: fmtTokens(facts.usage.input) + " in · " + fmtTokens(facts.usage.output) + " out",
          })
        : null,
      facts.duration !== null ? h("span", { class: "fact", text: fmtDuration(facts.duration) }) : null,
      hasError ? h("span", { class: "pill pill-err", text: "error" }) : null,
    ];
    const body = [];
    if (inv.user_text) body.push(message("user", inv.user_text));
    if (tools.length) body.push(h("div", { class: "tools" }, tools.map((t, i) => toolView(key, t, i))));
    if (inv.agent_text) body.push(message("agent", inv.agent_text));
    if (!inv.user_text && !inv.agent_text && !tools.length) body.push(h("div", { class: "muted", text: "No content captured for this turn yet." }));
    for (const span of facts.errors) {
      const status = span.raw.status || {};
      const type = span.attrs["error.type"];
      body.push(
        h(
          "div",
          { class: "error-line" },
          h("strong", { text: span.name }),
          ": " + (status.message || type || "status ERROR"),
        ),
      );
    }
    if (inv.warnings && inv.warnings.length) {
      body.push(h("ul", { class: "warnings" }, inv.warnings.map((w) => h("li", { text: typeof w === "string" ? w : JSON.stringify(w) }))));
    }
    const annotation = state.detail.annotations && state.detail.annotations.get(inv.index || 0);
    if (annotation && annotation.verdict) {
      headBits.splice(
        headBits.length - 1,
        0,
        h("span", { class: "pill verdict verdict-" + annotation.verdict, text: annotation.verdict === "good" ? "verdict: good" : "verdict: bad" }),
      );
    }
    return h(
      "article",
      {
        class: "turn" + (hasError ? " turn-error" : "") + (state.targetTurn === (inv.index || 0) ? " turn-target" : ""),
        dataset: { key, index: String(inv.index || 0) },
        id: "turn-" + key.replace(":", "-"),
      },
      h("header", { class: "turn-head" }, headBits),
      h("div", { class: "turn-body" }, body),
      annotationView(inv, annotation),
      h("div", { class: "turn-foot" }, h("span", { class: "mono", text: "trace " + inv.trace_id })),
    );
  }

  // ---- Annotations ----------------------------------------------------------------------------

  /** A turn's verdict buttons and note, with an editor for the note. */
  function annotationView(inv, annotation) {
    const d = state.detail;
    const index = inv.index || 0;
    // Drafts are per session and turn; a live update may have replaced the turn since.
    const key = d.id + "\u0000" + invKey(inv);
    const redraw = () => renderTurn(d.invocations.get(invKey(inv)) || inv);
    const verdict = annotation ? annotation.verdict : null;
    const note = annotation ? annotation.note : "";
    const save = async (nextVerdict, nextNote) => {
      try {
        const path = sessionPath(d.id, "/annotations/" + index);
        if (!nextVerdict && !nextNote) {
          if (annotation) await api(path, "DELETE");
          d.annotations.delete(index);
        } else {
          const saved = await api(path, "PUT", { verdict: nextVerdict, note: nextNote });
          d.annotations.set(index, saved);
        }
        state.drafts.delete(key);
        if (state.detail === d) redraw();
      } catch (err) {
        showError(err);
      }
    };
    const verdictButton = (value, label) =>
      h("button", {
        type: "button",
        class: "vbtn" + (verdict === value ? " on" : ""),
        "aria-pressed": verdict === value ? "true" : "false",
        dataset: { verdict: value },
        title: verdict === value ? "Clear the verdict" : "Mark this turn " + value,
        text: label,
        onclick: () => save(verdict === value ? null : value, note),
      });
    const editing = state.drafts.has(key);
    const parts = [
      h("span", { class: "label", text: "Your verdict" }),
      verdictButton("good", "Good"),
      verdictButton("bad", "Bad"),
    ];
    if (!editing) {
      parts.push(
        h("button", {
          type: "button",
          class: "vbtn note-edit",
          text: note ? "Edit note" : "Add note",
          onclick: () => {
            state.drafts.set(key, note);
            redraw();
            const area = document.querySelector('article.turn[data-key="' + CSS.escape(invKey(inv)) + '"] textarea');
            if (area) area.focus();
          },
        }),
      );
    }
    const block = h("div", { class: "annotation" }, h("div", { class: "annotation-bar" }, parts));
    if (note && !editing) block.append(h("div", { class: "note", text: note }));
    if (editing) {
      const area = h("textarea", { class: "note-input", rows: "3", maxlength: "4096", "aria-label": "Note on turn " + (index + 1) });
      area.value = state.drafts.get(key) || "";
      area.addEventListener("input", () => state.drafts.set(key, area.value));
      block.append(
        area,
        h(
          "div",
          { class: "annotation-bar" },
          h("button", { type: "button", class: "button note-save", text: "Save note", onclick: () => save(verdict, area.value) }),
          h("button", {
            type: "button",
            class: "button button-quiet",
            text: "Cancel",
            onclick: () => {
              state.drafts.delete(key);
              redraw();
            },
          }),
        ),
      );
    }
    return block;
  }

  function sessionFacts(d) {
    const s = d.summary;
    const model = spanModel();
    let start = null;
    let end = null;
    for (const t of model.traces.values()) {
      if (t.start !== null && (start === null || t.start < start)) start = t.start;
      if (t.end !== null && (end === null || t.end > end)) end = t.end;
    }
    const usage = usageOf(model.spans);
    const invs = [...d.invocations.values()];
    const llmCalls = invs.reduce((n, inv) => n + (inv.llm_call_count || 0), 0);
    const models = new Set();
    for (const inv of invs) for (const m of inv.models || []) models.add(m);
    const fact = (label, value) => (value === "" || value === null ? null : h("div", { class: "kv" }, h("dt", { text: label }), h("dd", { text: value })));
    return h(
      "dl",
      { class: "facts", id: "facts" },
      fact("service", serviceOf(s)),
      fact(s.keyKind === "name" ? "session name" : s.keyKind === "conversation" ? "conversation" : s.keyKind, s.key !== s.id ? s.key : null),
      fact("received", fmtTime(s.createdAtNs)),
      fact("span time", start !== null && end !== null ? fmtDuration(msBetween(start, end)) : null),
      fact("spans", String(s.spanCount)),
      s.logCount ? fact("logs", String(s.logCount)) : null,
      fact("turns", String(d.invocations.size)),
      llmCalls ? fact("LLM calls", String(llmCalls)) : null,
      usage ? fact("tokens", usage.input + " in · " + usage.output + " out") : null,
      models.size ? fact("models", [...models].join(", ")) : null,
      s.evalSetId ? fact("eval set", s.evalSetId) : null,
    );
  }

  function renderDetail() {
    const main = $("detail");
    document.body.classList.toggle("has-selection", !!state.selected || !!state.view);
    if (state.view) {
      if (state.view.kind === "search") renderSearch();
      else if (state.view.kind === "compare") renderCompare();
      else if (state.view.kind === "eval-sets") renderEvalSets();
      else if (state.view.kind === "eval-set") renderEvalSet();
      else renderEvaluateFiles();
      return;
    }
    if (!state.selected) {
      main.replaceChildren(
        h(
          "div",
          { class: "placeholder" },
          h("h2", { text: "Select a session" }),
          h("p", { text: "Sessions group spans by agentevals.session_name, gen_ai.conversation.id or session.id; the list updates live." }),
        ),
      );
      return;
    }
    const d = state.detail;
    if (!d || d.id !== state.selected) {
      main.replaceChildren(h("div", { class: "placeholder", text: "Loading " + state.selected + "…" }));
      return;
    }
    if (d.missing) {
      main.replaceChildren(
        h("div", { class: "placeholder" }, backButton(), h("h2", { text: "No session " + d.id }), h("p", { text: d.missing })),
      );
      return;
    }
    const s = d.summary;
    const exportHref = sessionPath(d.id, "/export");
    const spansHref = sessionPath(d.id, "/spans");
    const invocationsHref = sessionPath(d.id, "/invocations");
    const head = h(
      "section",
      { class: "dhead" },
      backButton(),
      h("div", { class: "dtitle" }, h("h2", { text: d.id, title: d.id }), statusPill(s.complete)),
      sessionFacts(d),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button", href: exportHref, download: d.id + ".otlp.json", text: "Export OTLP JSON", onclick: (e) => apiLink(e, exportHref, d.id + ".otlp.json") }),
        h("a", { class: "button button-quiet", href: spansHref, target: "_blank", rel: "noopener", text: "Spans JSON", onclick: (e) => apiLink(e, spansHref) }),
        h("a", { class: "button button-quiet", href: invocationsHref, target: "_blank", rel: "noopener", text: "Invocations JSON", onclick: (e) => apiLink(e, invocationsHref) }),
        h("button", { class: "button button-quiet", id: "mark-golden", type: "button", text: "Mark golden", title: "Make this session an eval set: one case, one invocation per turn", disabled: d.invocations.size === 0, onclick: () => markGolden(d.id) }),
        compareSelect(d.id),
        h("button", { class: "button button-danger", type: "button", text: "Delete", onclick: () => deleteSession(d.id) }),
      ),
    );
    const tabs = h(
      "nav",
      { class: "tabs", role: "tablist" },
      tabButton("conversation", "Conversation", d.invocations.size),
      tabButton("spans", "Spans", spanCountOf(d)),
      tabButton("logs", "Logs", s.logCount || 0),
      tabButton("evaluations", "Evaluations", d.evaluationCount === undefined ? "…" : d.evaluationCount),
    );
    const conversation = h("section", { id: "conversation", class: "pane", hidden: state.tab !== "conversation" });
    const spans = h("section", { id: "waterfall", class: "pane", hidden: state.tab !== "spans" });
    const logs = h("section", { id: "logs", class: "pane", hidden: state.tab !== "logs" });
    const evaluations = h("section", { id: "evaluations", class: "pane", hidden: state.tab !== "evaluations" });
    main.replaceChildren(head, tabs, conversation, spans, logs, evaluations);
    renderConversation();
    renderWaterfall();
    renderLogs();
    renderEvaluationsIfShown();
  }

  /** Spans of the open session: all of them once loaded, else the total the API announced. */
  function spanCountOf(d) {
    return d.spansTotal !== undefined && d.spansTotal !== null ? Math.max(d.spansTotal, d.spans.length) : d.spans.length;
  }

  /** "Compare with…": the other listed sessions, newest first. */
  function compareSelect(id) {
    const others = [...state.sessions.values()].filter((s) => s.id !== id).sort((a, b) => (b.createdAtNs || 0) - (a.createdAtNs || 0));
    const select = h(
      "select",
      {
        class: "compare-select",
        "aria-label": "Compare with another session",
        disabled: others.length === 0,
        onchange: (e) => {
          if (e.target.value) location.hash = compareHref(id, e.target.value);
        },
      },
      h("option", { value: "", text: others.length ? "Compare with…" : "Compare (no other session)" }),
      others.map((s) => h("option", { value: s.id, text: s.id + (s.preview ? " — " + s.preview.slice(0, 40) : "") })),
    );
    return select;
  }

  function backButton() {
    return h("a", { class: "back", href: "#", text: "← Sessions" });
  }

  function tabButton(name, label, count) {
    return h(
      "button",
      {
        class: "tab" + (state.tab === name ? " active" : ""),
        role: "tab",
        "aria-selected": state.tab === name ? "true" : "false",
        dataset: { tab: name },
        onclick: () => {
          state.tab = name;
          for (const b of document.querySelectorAll(".tab")) {
            const on = b.dataset.tab === name;
            b.classList.toggle("active", on);
            b.setAttribute("aria-selected", on ? "true" : "false");
          }
          $("conversation").hidden = name !== "conversation";
          $("waterfall").hidden = name !== "spans";
          $("logs").hidden = name !== "logs";
          $("evaluations").hidden = name !== "evaluations";
          if (name === "conversation" && $("conversation").dataset.stale) {
            delete $("conversation").dataset.stale;
            renderConversation();
          }
          if (name === "spans" && $("waterfall").dataset.stale) {
            delete $("waterfall").dataset.stale;
            renderWaterfall();
          }
          if (name === "logs") loadLogs();
          if (name === "evaluations") renderEvaluationsIfShown();
        },
      },
      label,
      h("span", { class: "tab-count", text: String(count) }),
    );
  }

  /** Updates the parts of an open session that depend on counts, keeping scroll and expanded state. */
  function refreshDetailChrome() {
    const d = state.detail;
    const facts = $("facts");
    if (facts) facts.replaceWith(sessionFacts(d));
    const pill = document.querySelector(".dtitle .pill");
    if (pill) pill.replaceWith(statusPill(d.summary.complete));
    for (const b of document.querySelectorAll(".tab")) {
      if (b.dataset.tab === "evaluations") continue;
      const count = b.dataset.tab === "spans" ? spanCountOf(d) : b.dataset.tab === "logs" ? d.summary.logCount || 0 : d.invocations.size;
      b.querySelector(".tab-count").textContent = String(count);
    }
  }

  /** A big session's hidden pane is drawn when its tab is opened, not before (opened on its
   * Spans tab, it does not wait for its conversation to be drawn). */
  function deferred(pane) {
    if (!pane.hidden || !state.detail || spanCountOf(state.detail) < VIRTUAL_FROM) return false;
    pane.dataset.stale = "1";
    return true;
  }

  function renderConversation() {
    const pane = $("conversation");
    if (!pane || deferred(pane)) return;
    const invs = sortedInvocations();
    if (invs.length === 0) {
      pane.replaceChildren(
        h("div", { class: "placeholder small", text: state.detail.summary.complete ? "No turns were found in this session's spans." : "Waiting for the first turn…" }),
      );
      return;
    }
    pane.replaceChildren(...invs.map((inv, i) => turnView(inv, i + 1)));
  }

  /** Replaces or inserts one turn card, leaving the others (and the scroll position) alone. */
  function renderTurn(inv) {
    const pane = $("conversation");
    if (!pane) return;
    const invs = sortedInvocations();
    const key = invKey(inv);
    const position = invs.findIndex((x) => invKey(x) === key);
    const existing = pane.querySelector('article.turn[data-key="' + CSS.escape(key) + '"]');
    if (!pane.querySelector("article.turn")) {
      renderConversation();
      return;
    }
    const card = turnView(inv, position + 1);
    if (existing) {
      existing.replaceWith(card);
      return;
    }
    const next = invs[position + 1];
    const nextNode = next ? pane.querySelector('article.turn[data-key="' + CSS.escape(invKey(next)) + '"]') : null;
    if (nextNode) {
      pane.insertBefore(card, nextNode);
      // Turn numbers after an insertion shift by one.
      renderConversationNumbers();
    } else pane.append(card);
  }

  function renderConversationNumbers() {
    const pane = $("conversation");
    pane.querySelectorAll("article.turn .turn-no").forEach((node, i) => {
      node.textContent = "Turn " + (i + 1);
    });
  }

  // ---- Rendering: span waterfall --------------------------------------------------------------

  function attrTable(title, obj) {
    const keys = Object.keys(obj);
    if (!keys.length) return null;
    return h(
      "div",
      { class: "attr-block" },
      h("div", { class: "label", text: title }),
      h(
        "table",
        { class: "attrs" },
        h(
          "tbody",
          null,
          keys.sort().map((k) => {
            const v = maybeJson(obj[k]);
            return h(
              "tr",
              null,
              h("th", { text: k }),
              h("td", null, v !== null && typeof v === "object" ? jsonView(v) : h("span", { class: "attr-value", text: String(v) })),
            );
          }),
        ),
      ),
    );
  }

  function spanDetails(span) {
    const raw = span.raw;
    const status = raw.status || {};
    const base = {
      "span id": span.id,
      "trace id": span.traceId,
      duration: fmtDuration(msBetween(span.start, span.end)),
    };
    if (span.parentId) base["parent span id"] = span.parentId;
    if (status.code) base.status = (isErrorStatus(status) ? "ERROR" : "OK") + (status.message ? ": " + status.message : "");
    if (raw.scope && raw.scope.name) base.scope = raw.scope.name + (raw.scope.version ? " " + raw.scope.version : "");
    const events = (raw.events || []).map((e) => ({ name: e.name, attributes: attrsObject(e.attributes) }));
    return h(
      "div",
      { class: "span-details" },
      attrTable("Span", base),
      attrTable("Attributes", span.attrs),
      events.length ? h("div", { class: "attr-block" }, h("div", { class: "label", text: "Events" }), jsonView(events)) : null,
      raw.resource ? attrTable("Resource", attrsObject(raw.resource.attributes)) : null,
    );
  }

  function renderWaterfall() {
    const pane = $("waterfall");
    if (!pane || deferred(pane)) return;
    const d = state.detail;
    if (!d.spansLoaded) {
      pane.replaceChildren(h("div", { class: "placeholder small", text: "Loading spans…" }));
      return;
    }
    const model = spanModel();
    if (model.spans.length === 0) {
      pane.replaceChildren(h("div", { class: "placeholder small", text: "No spans yet." }));
      return;
    }
    const turnOfTrace = new Map();
    sortedInvocations().forEach((inv, i) => {
      if (!turnOfTrace.has(inv.trace_id)) turnOfTrace.set(inv.trace_id, i + 1);
    });
    if (model.spans.length >= VIRTUAL_FROM) {
      renderVirtualWaterfall(pane, model, turnOfTrace);
      return;
    }
    const sections = [];
    let drawn = 0;
    for (const trace of model.traces.values()) {
      if (drawn >= MAX_SPAN_ROWS) break;
      const total = trace.start !== null && trace.end !== null ? Number(trace.end - trace.start) : 0;
      const rows = [];
      const walk = (span, depth) => {
        if (drawn >= MAX_SPAN_ROWS) return;
        drawn++;
        const key = "span/" + span.traceId + "/" + span.id;
        const left = total > 0 && span.start !== null ? (Number(span.start - trace.start) / total) * 100 : 0;
        const width = total > 0 && span.start !== null && span.end !== null ? (Number(span.end - span.start) / total) * 100 : 100;
        const bar = h("span", { class: "bar " + opClass(span) });
        bar.style.left = Math.min(left, 99.5).toFixed(3) + "%";
        bar.style.width = Math.max(width, 0.5).toFixed(3) + "%";
        const name = h("span", { class: "span-name", title: span.name }, h("span", { class: "dot " + opClass(span) }), span.name);
        name.style.paddingLeft = Math.min(depth, 12) * 14 + "px";
        const summary = [
          name,
          h("span", { class: "track" }, bar),
          h("span", { class: "span-dur", text: fmtDuration(msBetween(span.start, span.end)) }),
        ];
        const row = detailsKeyed(key, "span-row" + (span.error ? " span-error" : ""), summary, null);
        row.dataset.spanId = span.id;
        // Attribute tables are built when a row is first opened.
        const fill = () => {
          if (row.open && !row.querySelector(".span-details")) row.append(spanDetails(span));
        };
        row.addEventListener("toggle", fill);
        fill();
        rows.push(row);
        span.children.forEach((c) => walk(c, depth + 1));
      };
      trace.roots.forEach((r) => walk(r, 0));
      const turn = turnOfTrace.get(trace.id);
      sections.push(
        h(
          "section",
          { class: "trace" },
          h(
            "header",
            { class: "trace-head" },
            h("span", { class: "mono", text: "trace " + trace.id.slice(0, 16) + (trace.id.length > 16 ? "…" : ""), title: trace.id }),
            turn ? h("span", { class: "chip", text: "turn " + turn }) : null,
            h("span", { class: "spacer" }),
            h("span", { class: "fact", text: fmtCount(trace.spans.length, "span") }),
            h("span", { class: "fact", text: fmtDuration(total / 1e6) }),
            trace.errors.length ? h("span", { class: "pill pill-err", text: fmtCount(trace.errors.length, "error") }) : null,
          ),
          rows,
        ),
      );
    }
    const note =
      drawn < model.spans.length
        ? h("div", { class: "placeholder small", text: "Showing the first " + drawn + " of " + model.spans.length + " spans; Spans JSON has them all." })
        : "";
    pane.replaceChildren(legend(), ...sections, note);
  }

  function legend() {
    return h(
      "div",
      { class: "legend" },
      h("span", null, h("span", { class: "dot op-agent" }), "agent"),
      h("span", null, h("span", { class: "dot op-model" }), "model call"),
      h("span", null, h("span", { class: "dot op-tool" }), "tool"),
      h("span", null, h("span", { class: "dot op-other" }), "other"),
      h("span", { class: "muted", text: "click a span for its attributes" }),
    );
  }

  /** The waterfall's rows in drawing order: each trace's header, then its spans depth first
   * (without recursion: a hostile trace may nest thousands deep). */
  function waterfallRows(model, turnOfTrace) {
    const rows = [];
    for (const trace of model.traces.values()) {
      const total = trace.start !== null && trace.end !== null ? Number(trace.end - trace.start) : 0;
      rows.push({ trace, total, turn: turnOfTrace.get(trace.id) });
      const seen = new Set();
      const stack = [...trace.roots].reverse().map((span) => [span, 0]);
      while (stack.length) {
        const [span, depth] = stack.pop();
        if (seen.has(span)) continue;
        seen.add(span);
        rows.push({ span, depth, trace, total });
        for (let i = span.children.length - 1; i >= 0; i--) stack.push([span.children[i], depth + 1]);
      }
    }
    return rows;
  }

  /** One row of the virtualized waterfall, positioned at row `i`. */
  function virtualRow(row, i, selectedKey, onPick) {
    let node;
    if (!row.span) {
      const t = row.trace;
      node = h(
        "div",
        { class: "vrow vtrace" },
        h("span", { class: "mono", text: "trace " + t.id.slice(0, 16) + (t.id.length > 16 ? "…" : ""), title: t.id }),
        row.turn ? h("span", { class: "chip", text: "turn " + row.turn }) : null,
        h("span", { class: "spacer" }),
        h("span", { class: "fact", text: fmtCount(t.spans.length, "span") + " · " + fmtDuration(row.total / 1e6) }),
        t.errors.length ? h("span", { class: "pill pill-err", text: fmtCount(t.errors.length, "error") }) : null,
      );
    } else {
      const span = row.span;
      const trace = row.trace;
      const key = span.traceId + "/" + span.id;
      const left = row.total > 0 && span.start !== null ? (Number(span.start - trace.start) / row.total) * 100 : 0;
      const width = row.total > 0 && span.start !== null && span.end !== null ? (Number(span.end - span.start) / row.total) * 100 : 100;
      const bar = h("span", { class: "bar " + opClass(span) });
      bar.style.left = Math.min(left, 99.5).toFixed(3) + "%";
      bar.style.width = Math.max(width, 0.5).toFixed(3) + "%";
      const name = h("span", { class: "span-name", title: span.name }, h("span", { class: "dot " + opClass(span) }), span.name);
      name.style.paddingLeft = Math.min(row.depth, 12) * 14 + "px";
      node = h(
        "div",
        {
          class: "vrow span-vrow" + (span.error ? " span-error" : "") + (key === selectedKey ? " picked" : ""),
          role: "button",
          tabindex: "0",
          dataset: { spanId: span.id },
          onclick: () => onPick(span),
          onkeydown: (e) => {
            if (e.key === "Enter" || e.key === " ") {
              e.preventDefault();
              onPick(span);
            }
          },
        },
        name,
        h("span", { class: "track" }, bar),
        h("span", { class: "span-dur", text: fmtDuration(msBetween(span.start, span.end)) }),
      );
    }
    node.style.top = i * VROW_PX + "px";
    return node;
  }

  /** The waterfall of a big session: a scroll box as tall as every row, holding only the rows in
   * view (and a few around them); a picked span's attributes show below it. */
  function renderVirtualWaterfall(pane, model, turnOfTrace) {
    const d = state.detail;
    const old = pane.querySelector(".vlist");
    const keepScroll = old ? old.scrollTop : 0;
    const rows = waterfallRows(model, turnOfTrace);
    const list = h("div", { class: "vlist", role: "list", "aria-label": "Spans" });
    const spacer = h("div", { class: "vspacer" });
    spacer.style.height = rows.length * VROW_PX + "px";
    list.append(spacer);
    const detailsBox = h("div", { class: "vdetails" });
    const pick = (span) => {
      d.pickedSpan = span.traceId + "/" + span.id;
      detailsBox.replaceChildren(h("div", { class: "label", text: span.name }), spanDetails(span));
      first = -1;
      draw();
    };
    let first = -1;
    let last = -1;
    const draw = () => {
      const top = list.scrollTop;
      const height = list.clientHeight || 600;
      const from = Math.max(0, Math.floor(top / VROW_PX) - 8);
      const to = Math.min(rows.length, Math.ceil((top + height) / VROW_PX) + 8);
      if (from === first && to === last) return;
      first = from;
      last = to;
      const nodes = [];
      for (let i = from; i < to; i++) nodes.push(virtualRow(rows[i], i, d.pickedSpan, pick));
      spacer.replaceChildren(...nodes);
    };
    let frame = 0;
    list.addEventListener("scroll", () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        draw();
      });
    });
    const drawnOf = rows.length - model.traces.size;
    const loading = d.spans.length < spanCountOf(d) ? " (" + d.spans.length + " of " + spanCountOf(d) + " loaded)" : "";
    pane.replaceChildren(
      legend(),
      h("div", { class: "muted vnote", text: fmtCount(drawnOf, "span") + " in " + fmtCount(model.traces.size, "trace") + ", drawn as you scroll" + loading }),
      list,
      detailsBox,
    );
    list.scrollTop = keepScroll;
    draw();
    if (d.pickedSpan) {
      const span = model.byId.get(d.pickedSpan);
      if (span) detailsBox.replaceChildren(h("div", { class: "label", text: span.name }), spanDetails(span));
    }
  }

  // ---- Rendering: log records -----------------------------------------------------------------

  function renderLogs() {
    const pane = $("logs");
    if (!pane) return;
    const d = state.detail;
    if (!d.logs) {
      pane.replaceChildren(h("div", { class: "placeholder small", text: d.summary.logCount ? "Loading log records…" : "No log records in this session." }));
      return;
    }
    if (d.logs.length === 0) {
      pane.replaceChildren(h("div", { class: "placeholder small", text: "No log records in this session." }));
      return;
    }
    const first = d.logs.reduce((min, l) => {
      const t = ns(l.timeUnixNano || l.observedTimeUnixNano);
      return t !== null && (min === null || t < min) ? t : min;
    }, null);
    const rows = d.logs.map((log, i) => {
      const attrs = attrsObject(log.attributes);
      const name = log.eventName || attrs["event.name"] || log.severityText || "log";
      const t = ns(log.timeUnixNano || log.observedTimeUnixNano);
      const body = anyValue(log.body);
      const summary = [
        h("span", { class: "log-time", text: first !== null && t !== null ? "+" + fmtDuration(msBetween(first, t)) : "" }),
        h("span", { class: "log-name", text: name }),
        h("code", { class: "tool-args", text: body === undefined || body === null ? "" : shortJson(body) }),
      ];
      const details = h(
        "div",
        { class: "tool-body" },
        body !== undefined && body !== null ? [h("div", { class: "label", text: "Body" }), jsonView(body)] : null,
        attrTable("Attributes", attrs),
        attrTable("Context", Object.fromEntries(Object.entries({ "trace id": log.traceId, "span id": log.spanId, severity: log.severityText }).filter(([, v]) => v))),
      );
      return detailsKeyed("log/" + i, "tool log", summary, details);
    });
    pane.replaceChildren(h("div", { class: "tools" }, rows));
  }

  let logsSeq = 0;
  async function loadLogs() {
    const d = state.detail;
    if (!d || d.missing || d.logsLoading) return;
    if (d.logs && d.logs.length === (d.summary.logCount || 0)) return;
    d.logsLoading = true;
    const seq = ++logsSeq;
    try {
      const data = await api(sessionPath(d.id, "/logs"));
      if (state.detail !== d || seq !== logsSeq) return;
      d.logs = data.logs || [];
      renderLogs();
    } catch (err) {
      showError(err);
    } finally {
      d.logsLoading = false;
    }
  }

  async function deleteSession(id) {
    if (!window.confirm("Delete session " + id + " and all its spans and logs?")) return;
    try {
      await api(sessionPath(id), "DELETE");
      if (state.sessions.delete(id)) state.total = Math.max(0, state.total - 1);
      state.meta.delete(id);
      renderList();
      location.hash = "";
    } catch (err) {
      showError(err);
    }
  }

  // ---- Search ---------------------------------------------------------------------------------

  /** A snippet from the API: the matched words (between \u0002 and \u0003) marked. */
  function snippetView(text) {
    const out = h("span", { class: "snippet" });
    let marked = false;
    for (const piece of String(text || "").split(/([\u0002\u0003])/)) {
      if (piece === "\u0002") marked = true;
      else if (piece === "\u0003") marked = false;
      else if (piece) out.append(marked ? h("mark", { text: piece }) : piece);
    }
    return out;
  }

  const FIELD_LABELS = { user: "user", agent: "agent", tools: "tool", attrs: "attribute" };

  let searchSeq = 0;
  async function renderSearch() {
    const main = $("detail");
    const q = state.view.q;
    $("search").value = q;
    const seq = ++searchSeq;
    main.replaceChildren(h("div", { class: "placeholder small", text: "Searching for " + q + "…" }));
    let data;
    try {
      data = await api("/api/search?limit=" + SEARCH_LIMIT + "&q=" + encodeURIComponent(q));
    } catch (err) {
      if (seq !== searchSeq) return;
      main.replaceChildren(h("div", { class: "placeholder" }, backButton(), h("h2", { text: "Search" }), h("p", { text: String(err.message || err) })));
      return;
    }
    if (seq !== searchSeq || !state.view || state.view.kind !== "search") return;
    const results = data.results || [];
    const hits = results.map((hit) =>
      h(
        "li",
        { class: "hit" },
        h(
          "a",
          { href: sessionHref(hit.sessionId, hit.index), dataset: { session: hit.sessionId, index: String(hit.index) } },
          h(
            "div",
            { class: "hit-head" },
            h("span", { class: "sid", text: hit.sessionId, title: hit.sessionId }),
            h("span", { class: "chip", text: "turn " + (hit.index + 1) }),
            h("span", { class: "chip", text: FIELD_LABELS[hit.field] || hit.field }),
          ),
          snippetView(hit.snippet),
        ),
      ),
    );
    main.replaceChildren(
      h(
        "section",
        { id: "search-results", class: "search-results" },
        backButton(),
        h("h2", { text: "Search: " + q }),
        h("p", {
          class: "muted",
          text: results.length
            ? fmtCount(results.length, "turn") + " match" + (results.length === 1 ? "es" : "") + (results.length >= data.limit ? " (the best " + data.limit + ")" : "")
            : "No turn matches every word.",
        }),
        h("ol", { class: "hits" }, hits),
      ),
    );
  }

  // ---- Compare --------------------------------------------------------------------------------

  const OP_MARKS = { same: "=", changed: "~", deleted: "−", inserted: "+" };

  function callCell(call, changed) {
    if (!call) return h("div", { class: "cmp-call cmp-none", text: "—" });
    const args = call.args && typeof call.args === "object" && !Array.isArray(call.args) ? call.args : { value: call.args };
    return h(
      "div",
      { class: "cmp-call" },
      h("span", { class: "tool-name", text: call.name }),
      h(
        "span",
        { class: "cmp-args" },
        Object.keys(args).map((k) =>
          h("span", { class: "cmp-arg" + ((changed || []).includes(k) ? " arg-changed" : "") }, h("span", { class: "j-key", text: k }), "=" + shortJson(args[k])),
        ),
      ),
    );
  }

  function answerView(parts, side) {
    const skip = side === "a" ? "inserted" : "deleted";
    const node = h("div", { class: "text cmp-answer", dataset: { side } });
    let first = true;
    for (const part of parts) {
      if (part.op === skip) continue;
      if (!first) node.append(" ");
      first = false;
      node.append(part.op === "same" ? part.text : h(part.op === "deleted" ? "del" : "ins", { text: part.text }));
    }
    if (first) node.append(h("span", { class: "muted", text: "(no answer)" }));
    return node;
  }

  function factRow(label, a, b, fmt) {
    const show = (v) => (v === null || v === undefined ? "—" : fmt ? fmt(v) : String(v));
    const differ = show(a) !== show(b);
    return h("tr", { class: differ ? "differ" : null }, h("th", { text: label }), h("td", { text: show(a) }), h("td", { text: show(b) }));
  }

  function turnCompareView(t) {
    const a = t.a || {};
    const b = t.b || {};
    const user = a.userText || b.userText || "";
    return h(
      "section",
      { class: "cmp-turn", dataset: { index: String(t.index) } },
      h("header", { class: "turn-head" }, h("span", { class: "turn-no", text: "Turn " + (t.index + 1) }), h("span", { class: "cmp-user", text: user })),
      h(
        "div",
        { class: "cmp-body" },
        h(
          "table",
          { class: "cmp-facts attrs" },
          h("thead", null, h("tr", null, h("th", { text: "" }), h("th", { text: "A" }), h("th", { text: "B" }))),
          h(
            "tbody",
            null,
            factRow("input tokens", t.a && a.inputTokens, t.b && b.inputTokens),
            factRow("output tokens", t.a && a.outputTokens, t.b && b.outputTokens),
            factRow("model calls", t.a && a.modelCalls, t.b && b.modelCalls),
            factRow("latency", t.a && a.latencyMs, t.b && b.latencyMs, fmtDuration),
            factRow("tool calls", t.a && a.toolCalls, t.b && b.toolCalls),
          ),
        ),
        h("div", { class: "label", text: "Tool calls (A | B)" }),
        t.trajectory.length
          ? h(
              "ol",
              { class: "cmp-traj" },
              t.trajectory.map((op) =>
                h(
                  "li",
                  { class: "cmp-op cmp-" + op.op, dataset: { op: op.op } },
                  h("span", { class: "cmp-mark", title: op.op, text: OP_MARKS[op.op] || "?" }),
                  callCell(op.a, op.changedArgs),
                  callCell(op.b, op.changedArgs),
                ),
              ),
            )
          : h("div", { class: "muted", text: "No tool calls on either side." }),
        h("div", { class: "label", text: "Answers (A | B)" }),
        h("div", { class: "cmp-answers" }, answerView(t.answer, "a"), answerView(t.answer, "b")),
      ),
    );
  }

  let compareSeq = 0;
  async function renderCompare() {
    const main = $("detail");
    const { a, b } = state.view;
    const seq = ++compareSeq;
    main.replaceChildren(h("div", { class: "placeholder small", text: "Comparing " + a + " with " + b + "…" }));
    let data;
    try {
      data = await api("/api/compare?a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b));
    } catch (err) {
      if (seq !== compareSeq) return;
      main.replaceChildren(h("div", { class: "placeholder" }, backButton(), h("h2", { text: "Compare" }), h("p", { text: String(err.message || err) })));
      return;
    }
    if (seq !== compareSeq || !state.view || state.view.kind !== "compare") return;
    const head = h(
      "section",
      { class: "dhead" },
      backButton(),
      h("h2", { text: "Compare two sessions" }),
      h(
        "div",
        { class: "cmp-ids" },
        h("span", { class: "chip", text: "A" }),
        h("a", { href: sessionHref(a), class: "mono", text: a }),
        h("span", { class: "chip", text: "B" }),
        h("a", { href: sessionHref(b), class: "mono", text: b }),
        h("a", { class: "button button-quiet", href: compareHref(b, a), text: "Swap" }),
      ),
      h(
        "dl",
        { class: "facts" },
        h("div", { class: "kv" }, h("dt", { text: "turns" }), h("dd", { text: data.a.turnCount + " | " + data.b.turnCount })),
        h("div", { class: "kv" }, h("dt", { text: "turns with other tool calls" }), h("dd", { text: String(data.turnsWithTrajectoryChanges) })),
        h("div", { class: "kv" }, h("dt", { text: "turns with other answers" }), h("dd", { text: String(data.turnsWithAnswerChanges) })),
      ),
      h(
        "div",
        { class: "legend" },
        h("span", null, h("span", { class: "cmp-mark cmp-changed" }, "~"), "arguments changed"),
        h("span", null, h("span", { class: "cmp-mark cmp-deleted" }, "−"), "only in A"),
        h("span", null, h("span", { class: "cmp-mark cmp-inserted" }, "+"), "only in B"),
      ),
    );
    main.replaceChildren(h("div", { id: "compare" }, head, data.turns.map(turnCompareView), data.truncated ? h("p", { class: "muted", text: "Only the first turns are compared." }) : null));
    main.scrollTop = 0;
  }

  // ---- Eval sets and evaluations --------------------------------------------------------------

  /** The metrics this server can score, from `/api/metrics`, fetched once. */
  let metricsPromise = null;
  function loadMetrics() {
    if (!metricsPromise) {
      metricsPromise = api("/api/metrics")
        .then((data) => data.metrics || [])
        .catch((err) => {
          metricsPromise = null;
          throw err;
        });
    }
    return metricsPromise;
  }

  async function loadEvalSets() {
    const data = await api("/api/eval-sets");
    return data.evalSets || [];
  }

  function evalSetPath(id) {
    return "/api/eval-sets/" + encodeURIComponent(id);
  }

  function evalSetHref(id) {
    return "#eval-set=" + encodeURIComponent(id);
  }

  /** A verdict badge: `pass`, `fail` or `error`, from an evaluation or its summary. */
  function verdictBadge(ev) {
    if (!ev) return null;
    const kind = ev.error ? "error" : ev.passed ? "pass" : "fail";
    const title = ev.error ? String(ev.error) : "Latest evaluation" + (ev.evalSetId ? " against " + ev.evalSetId : "");
    return h("span", { class: "pill eval-badge eval-" + kind, dataset: { verdict: kind }, title, text: kind });
  }

  /** Makes the open session golden: an eval set of it, opened for editing. */
  async function markGolden(id) {
    try {
      const set = await api(sessionPath(id, "/eval-set"), "POST", {});
      notice("Eval set " + set.eval_set_id + " made of " + id + ".");
      location.hash = evalSetHref(set.eval_set_id);
    } catch (err) {
      showError(err);
    }
  }

  // Eval-set fields may be snake_case (as the server writes them) or camelCase (as ADK allows).
  function field(obj, snake, camel) {
    if (!obj) return undefined;
    return obj[snake] !== undefined ? obj[snake] : obj[camel];
  }

  function contentText(content) {
    const parts = (content && content.parts) || [];
    return parts
      .map((p) => (p && typeof p.text === "string" ? p.text : ""))
      .filter(Boolean)
      .join("\n");
  }

  function fmtScore(score) {
    return score === null || score === undefined ? "—" : Number(score).toFixed(2);
  }

  /** The list of eval sets, with an upload. */
  let evalSetsSeq = 0;
  async function renderEvalSets() {
    const main = $("detail");
    const seq = ++evalSetsSeq;
    main.replaceChildren(h("div", { class: "placeholder small", text: "Loading eval sets…" }));
    let sets;
    try {
      sets = await loadEvalSets();
    } catch (err) {
      if (seq !== evalSetsSeq) return;
      main.replaceChildren(h("div", { class: "placeholder" }, backButton(), h("h2", { text: "Eval sets" }), h("p", { text: String(err.message || err) })));
      return;
    }
    if (seq !== evalSetsSeq || !state.view || state.view.kind !== "eval-sets") return;
    const file = h("input", { type: "file", accept: ".json,application/json", "aria-label": "Eval set file", id: "eval-set-file" });
    const upload = async () => {
      const f = file.files && file.files[0];
      if (!f) return notice("Choose an eval set file first.", true);
      let body;
      try {
        body = JSON.parse(await f.text());
      } catch (err) {
        return notice(f.name + " is not JSON: " + (err.message || err), true);
      }
      try {
        const saved = await api("/api/eval-sets", "POST", body);
        notice("Stored eval set " + saved.id + ".");
        renderEvalSets();
      } catch (err) {
        showError(err);
      }
    };
    main.replaceChildren(
      h(
        "section",
        { id: "eval-sets", class: "eval-sets" },
        backButton(),
        h("h2", { text: "Eval sets" }),
        h("p", { class: "muted", text: "Golden runs and uploaded ADK EvalSet files. Mark a session golden from its page to add one." }),
        sets.length
          ? h(
              "table",
              { class: "attrs eval-set-list" },
              h("thead", null, h("tr", null, h("th", { text: "id" }), h("th", { text: "name" }), h("th", { text: "cases" }), h("th", { text: "stored" }))),
              h(
                "tbody",
                null,
                sets.map((s) =>
                  h(
                    "tr",
                    { dataset: { id: s.id } },
                    h("td", null, h("a", { href: evalSetHref(s.id), class: "mono", text: s.id })),
                    h("td", { text: s.name || "" }),
                    h("td", { text: String(s.caseCount) }),
                    h("td", { text: fmtTime(s.createdAtNs) }),
                  ),
                ),
              ),
            )
          : h("p", { class: "muted", text: "No eval set is stored yet." }),
        h("div", { class: "label", text: "Upload an eval set (ADK EvalSet JSON)" }),
        h("div", { class: "actions" }, file, h("button", { type: "button", class: "button", id: "eval-set-upload", text: "Upload", onclick: upload })),
      ),
    );
  }

  /** One eval set, editable: each invocation's expected tool calls and final response. */
  let evalSetSeq = 0;
  async function renderEvalSet() {
    const main = $("detail");
    const id = state.view.id;
    const seq = ++evalSetSeq;
    main.replaceChildren(h("div", { class: "placeholder small", text: "Loading eval set " + id + "…" }));
    let set;
    try {
      set = await api(evalSetPath(id));
    } catch (err) {
      if (seq !== evalSetSeq) return;
      main.replaceChildren(h("div", { class: "placeholder" }, h("a", { class: "back", href: "#eval-sets", text: "← Eval sets" }), h("h2", { text: "Eval set " + id }), h("p", { text: String(err.message || err) })));
      return;
    }
    if (seq !== evalSetSeq || !state.view || state.view.kind !== "eval-set") return;
    // The editor works on a copy; Save sends it whole.
    const draft = JSON.parse(JSON.stringify(set));
    const casesNode = h("div", { class: "es-cases" });
    const redraw = () => casesNode.replaceChildren(...(field(draft, "eval_cases", "evalCases") || []).map(caseEditor));

    function caseEditor(c, ci) {
      const conversation = c.conversation || [];
      return h(
        "section",
        { class: "es-case", dataset: { case: String(ci) } },
        h("h3", { text: "Case " + (field(c, "eval_id", "evalId") || ci + 1) }),
        conversation.length ? conversation.map((inv, ii) => invocationEditor(inv, ii)) : h("p", { class: "muted", text: "No invocations in this case." }),
      );
    }

    function invocationEditor(inv, ii) {
      let data = field(inv, "intermediate_data", "intermediateData");
      if (!data) {
        data = { tool_uses: [] };
        inv.intermediate_data = data;
      }
      const usesKey = data.tool_uses !== undefined || data.toolUses === undefined ? "tool_uses" : "toolUses";
      if (!Array.isArray(data[usesKey])) data[usesKey] = [];
      const uses = data[usesKey];
      const responseKey = inv.final_response !== undefined || inv.finalResponse === undefined ? "final_response" : "finalResponse";
      const callRows = uses.map((use, ui) => {
        const name = h("input", { type: "text", class: "es-tool-name", value: use.name || "", "aria-label": "Tool name", maxlength: "256" });
        name.addEventListener("input", () => (use.name = name.value));
        const args = h("textarea", { class: "es-tool-args mono", rows: "2", "aria-label": "Arguments of " + (use.name || "the tool") + " (JSON)" });
        args.value = JSON.stringify(use.args === undefined ? {} : use.args);
        args.addEventListener("input", () => {
          args.dataset.dirty = "1";
          args.classList.remove("invalid");
        });
        args.agentraceUse = use;
        return h(
          "li",
          { class: "es-tool", dataset: { index: String(ui) } },
          name,
          args,
          h("button", {
            type: "button",
            class: "vbtn es-remove",
            title: "Remove this expected call",
            text: "Remove",
            onclick: () => {
              uses.splice(ui, 1);
              redraw();
            },
          }),
        );
      });
      const answer = h("textarea", { class: "es-answer", rows: "3", "aria-label": "Expected final response of invocation " + (ii + 1) });
      answer.value = contentText(inv[responseKey]);
      answer.addEventListener("input", () => {
        const text = answer.value;
        inv[responseKey] = text ? { role: (inv[responseKey] && inv[responseKey].role) || "model", parts: [{ text }] } : null;
      });
      return h(
        "article",
        { class: "turn es-inv", dataset: { index: String(ii) } },
        h("header", { class: "turn-head" }, h("span", { class: "turn-no", text: "Invocation " + (ii + 1) }), h("span", { class: "muted mono", text: field(inv, "invocation_id", "invocationId") || "" })),
        h(
          "div",
          { class: "turn-body" },
          message("user", contentText(field(inv, "user_content", "userContent")) || "(no user text)"),
          h("div", { class: "label", text: "Expected tool calls (name, arguments as JSON)" }),
          h("ol", { class: "es-tools" }, callRows),
          h("button", {
            type: "button",
            class: "vbtn es-add",
            text: "Add a tool call",
            onclick: () => {
              uses.push({ name: "", args: {} });
              redraw();
            },
          }),
          h("div", { class: "label", text: "Expected final response" }),
          answer,
        ),
      );
    }

    /** Reads the argument boxes back into the draft; false (and the box marked) when one is not JSON. */
    function takeArgs() {
      for (const box of casesNode.querySelectorAll("textarea.es-tool-args")) {
        try {
          box.agentraceUse.args = JSON.parse(box.value || "{}");
        } catch (err) {
          box.classList.add("invalid");
          box.focus();
          notice("Arguments are not JSON: " + (err.message || err), true);
          return false;
        }
      }
      return true;
    }

    const save = async () => {
      if (!takeArgs()) return;
      try {
        await api("/api/eval-sets", "POST", draft);
        set = JSON.parse(JSON.stringify(draft));
        notice("Saved eval set " + id + ".");
        $("es-status").textContent = "Saved.";
      } catch (err) {
        showError(err);
      }
    };
    const download = () => {
      const blob = new Blob([JSON.stringify(set, null, 2) + "\n"], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: id + ".evalset.json" });
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    };
    const remove = async () => {
      if (!window.confirm("Delete eval set " + id + "? Evaluations made with it keep their results.")) return;
      try {
        await api(evalSetPath(id), "DELETE");
        location.hash = "#eval-sets";
      } catch (err) {
        showError(err);
      }
    };
    const golden = id.startsWith("golden-") ? id.slice("golden-".length) : null;
    main.replaceChildren(
      h(
        "section",
        { id: "eval-set", class: "eval-set", dataset: { id } },
        h("a", { class: "back", href: "#eval-sets", text: "← Eval sets" }),
        h("div", { class: "dtitle" }, h("h2", { text: "Eval set " + id, title: id })),
        h(
          "dl",
          { class: "facts" },
          set.name ? h("div", { class: "kv" }, h("dt", { text: "name" }), h("dd", { text: set.name })) : null,
          h("div", { class: "kv" }, h("dt", { text: "cases" }), h("dd", { text: String((field(set, "eval_cases", "evalCases") || []).length) })),
          golden && state.sessions.has(golden) ? h("div", { class: "kv" }, h("dt", { text: "golden session" }), h("dd", null, h("a", { href: sessionHref(golden), class: "mono", text: golden }))) : null,
        ),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "button", id: "es-save", text: "Save", onclick: save }),
          h("button", { type: "button", class: "button button-quiet", id: "es-download", text: "Download EvalSet JSON", onclick: download }),
          h("button", { type: "button", class: "button button-danger", id: "es-delete", text: "Delete", onclick: remove }),
          h("span", { id: "es-status", class: "muted", role: "status" }),
        ),
        casesNode,
      ),
    );
    redraw();
    main.scrollTop = 0;
  }

  /** The choices of an evaluation: eval set, metrics, threshold, match type. `sets` from
   * `/api/eval-sets`, `metrics` from `/api/metrics`; the last choices made (`state.evalChoice`)
   * are kept when the form is drawn again. */
  function evalOptions(sets, metrics, preferredSet, allowNoSet) {
    const last = state.evalChoice || {};
    const checkedNames = last.metrics || ["tool_trajectory_avg_score"];
    const setSelect = h(
      "select",
      { class: "ev-set", "aria-label": "Eval set" },
      allowNoSet ? h("option", { value: "", text: "The session's own eval set (if it names one)" }) : null,
      sets.map((s) => h("option", { value: s.id, text: s.id + (s.name && s.name !== s.id ? " — " + s.name : ""), selected: s.id === preferredSet })),
    );
    const boxes = metrics.map((m) => {
      const box = h("input", { type: "checkbox", value: m.name, disabled: !m.available, checked: m.available && checkedNames.includes(m.name) });
      return h(
        "label",
        { class: "ev-metric" + (m.available ? "" : " unavailable"), title: m.available ? (m.requiresEvalSet ? "Compares with the eval set" : "Needs no eval set") : m.reason || "not available", dataset: { metric: m.name } },
        box,
        " " + m.name,
        m.usesLlm ? h("span", { class: "chip", text: "judge" }) : null,
        !m.available && m.reason ? h("span", { class: "ev-reason muted", text: m.reason }) : null,
      );
    });
    const threshold = h("input", { type: "number", class: "ev-threshold", min: "0", max: "1", step: "0.05", placeholder: "default", "aria-label": "Threshold", value: last.threshold });
    const match = h(
      "select",
      { class: "ev-match", "aria-label": "Trajectory match type" },
      h("option", { value: "", text: "default (exact)" }),
      ["exact", "in_order", "any_order"].map((v) => h("option", { value: v, text: v, selected: last.trajectoryMatchType === v })),
    );
    const node = h(
      "div",
      { class: "ev-options" },
      h("label", { class: "ev-row" }, h("span", { class: "label", text: "Eval set" }), setSelect),
      h("div", { class: "label", text: "Metrics" }),
      h("div", { class: "ev-metrics" }, boxes),
      h(
        "div",
        { class: "ev-row" },
        h("label", null, h("span", { class: "label", text: "Threshold " }), threshold),
        h("label", null, h("span", { class: "label", text: "Trajectory match " }), match),
      ),
    );
    /** The request's metric fields (and the eval set id, when one is picked). */
    const read = () => {
      const body = {};
      const names = boxes.map((b) => b.querySelector("input")).filter((b) => b.checked).map((b) => b.value);
      if (names.length) body.metrics = names;
      if (threshold.value !== "") body.threshold = Number(threshold.value);
      if (match.value) body.trajectoryMatchType = match.value;
      if (setSelect.value) body.evalSetId = setSelect.value;
      state.evalChoice = Object.assign({}, body, { metrics: names });
      return body;
    };
    return { node, read };
  }

  /** Why a metric did not pass, as `agentrace run`'s table says it. */
  function failureReasons(m) {
    const out = [];
    if (m.error) out.push("error: " + m.error);
    if (m.reason) out.push("reason: " + m.reason);
    if (m.status === "FAILED" && !m.error) {
      if (m.score !== null && m.score !== undefined && m.threshold !== null && m.threshold !== undefined) {
        out.push("score " + Number(m.score).toFixed(4) + " is below the threshold " + m.threshold);
      } else if (m.details && Array.isArray(m.details.over_budget)) {
        out.push("over the budget of " + m.details.max + " " + (m.details.unit || "") + " in invocation(s) " + m.details.over_budget.join(", "));
      }
    }
    if (m.missing_turns) out.push(m.missing_turns + " expected turn(s) had no actual turn");
    if (m.unexpected_turns) out.push(m.unexpected_turns + " actual turn(s) had no expected turn");
    return out;
  }

  function callLabel(call) {
    const name = (call && call.name) || "?";
    const args = call && call.args !== undefined && call.args !== null ? JSON.stringify(call.args) : "";
    return name + "(" + args + ")";
  }

  /** A longest-common-subsequence diff of two short lists: [op, text] with op " ", "-" or "+". */
  function diffLines(a, b) {
    const n = a.length;
    const m = b.length;
    if (n * m > 250000) return a.map((x) => ["-", x]).concat(b.map((y) => ["+", y]));
    const l = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) l[i][j] = a[i] === b[j] ? l[i + 1][j + 1] + 1 : Math.max(l[i + 1][j], l[i][j + 1]);
    const out = [];
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) {
        out.push([" ", a[i]]);
        i++;
        j++;
      } else if (j < m && (i === n || l[i][j + 1] >= l[i + 1][j])) out.push(["+", b[j++]]);
      else out.push(["-", a[i++]]);
    }
    return out;
  }

  /** The trajectory diff of each unmatched invocation of a failed trajectory metric. */
  function trajectoryDiffs(m) {
    const comparisons = m.details && Array.isArray(m.details.comparisons) ? m.details.comparisons : [];
    return comparisons
      .filter((c) => c && c.matched === false)
      .map((c) => {
        const lines = diffLines((c.expected || []).map(callLabel), (c.actual || []).map(callLabel));
        return h(
          "div",
          { class: "ev-diff", dataset: { invocation: String(c.invocation_id || "") } },
          h("div", { class: "label", text: "Trajectory of invocation " + (c.invocation_id || "?") + " (− expected, + actual)" }),
          h(
            "ol",
            { class: "ev-diff-lines mono" },
            lines.length
              ? lines.map(([op, text]) => h("li", { class: op === "-" ? "ev-del" : op === "+" ? "ev-ins" : "ev-same", dataset: { op } }, h("span", { class: "ev-op", text: op === "-" ? "−" : op }), text))
              : h("li", { class: "ev-same", text: "(no calls)" }),
          ),
        );
      });
  }

  const STATUS_LABELS = { PASSED: "passed", FAILED: "failed", NOT_EVALUATED: "not evaluated" };

  /** One evaluation document: verdict, then per group its metrics with per-turn scores, the
   * reasons of each failure and a diff of each failed trajectory. */
  function evaluationView(doc) {
    const summary = doc.summary || {};
    const groups = doc.groups || [];
    const head = h(
      "header",
      { class: "ev-head" },
      verdictBadge(doc),
      h("span", { class: "ev-title", text: doc.id !== undefined && doc.id !== null ? "Evaluation " + doc.id : "Evaluation" }),
      doc.evalSetId ? h("span", { class: "chip", text: "eval set " + doc.evalSetId }) : null,
      doc.trigger ? h("span", { class: "chip", text: doc.trigger }) : null,
      h("span", { class: "spacer" }),
      summary.results !== undefined ? h("span", { class: "fact", text: summary.passed + " passed · " + summary.failed + " failed · " + (summary.not_evaluated || 0) + " not evaluated" }) : null,
      doc.createdAt ? h("span", { class: "fact", text: fmtTime(doc.createdAt) }) : null,
    );
    const body = [];
    if (doc.error) body.push(h("div", { class: "error-line ev-error", text: String(doc.error) }));
    for (const e of doc.errors || []) body.push(h("div", { class: "error-line", text: (e.file ? e.file + ": " : "") + e.error }));
    for (const g of groups) {
      const turns = Math.max(g.num_invocations || 0, ...(g.metrics || []).map((m) => (m.per_invocation_scores || []).length));
      const rows = (g.metrics || []).map((m) =>
        h(
          "tr",
          { class: "ev-metric-row ev-" + (m.status || "").toLowerCase(), dataset: { metric: m.metric, status: m.status || "" } },
          h("th", { text: m.metric + (m.match_type ? " (" + m.match_type + ")" : "") }),
          h("td", { class: "ev-score", text: fmtScore(m.score) }),
          h("td", { class: "ev-threshold", text: m.threshold === null || m.threshold === undefined ? "—" : String(m.threshold) }),
          h("td", null, h("span", { class: "pill ev-status ev-status-" + (m.status || "").toLowerCase(), text: STATUS_LABELS[m.status] || m.status || "" })),
          Array.from({ length: turns }, (_, i) => {
            const s = (m.per_invocation_scores || [])[i];
            const failed = s !== null && s !== undefined && m.threshold !== null && m.threshold !== undefined && s < m.threshold;
            return h("td", { class: "ev-turn" + (failed ? " ev-turn-fail" : ""), dataset: { turn: String(i) }, text: fmtScore(s) });
          }),
        ),
      );
      const problems = (g.metrics || [])
        .filter((m) => m.status !== "PASSED")
        .map((m) => {
          const reasons = failureReasons(m);
          const diffs = m.status === "FAILED" ? trajectoryDiffs(m) : [];
          if (!reasons.length && !diffs.length) return null;
          return h(
            "div",
            { class: "ev-failure", dataset: { metric: m.metric } },
            h("div", { class: "label", text: m.metric }),
            reasons.length ? h("ul", { class: "ev-reasons" }, reasons.map((r) => h("li", { text: r }))) : null,
            diffs,
          );
        });
      const caseLine = g.eval_case_id
        ? "case " + g.eval_case_id + (g.eval_case_match ? " (" + g.eval_case_match + ")" : "")
        : g.eval_case_reason
          ? "no case: " + g.eval_case_reason
          : "no eval set";
      body.push(
        h(
          "div",
          { class: "ev-group", dataset: { group: String(g.index || 0) } },
          h("div", { class: "muted ev-case", text: (groups.length > 1 ? (g.file || "group " + g.index) + " · " : "") + fmtCount(g.num_invocations || 0, "turn") + " · " + caseLine }),
          rows.length
            ? h(
                "div",
                { class: "ev-table-wrap" },
                h(
                  "table",
                  { class: "attrs ev-table" },
                  h("thead", null, h("tr", null, h("th", { text: "metric" }), h("th", { text: "score" }), h("th", { text: "threshold" }), h("th", { text: "status" }), Array.from({ length: turns }, (_, i) => h("th", { text: "turn " + (i + 1) })))),
                  h("tbody", null, rows),
                ),
              )
            : null,
          problems,
        ),
      );
    }
    if (!groups.length && !doc.error) body.push(h("div", { class: "muted", text: "Nothing was scored." }));
    return h("article", { class: "evaluation", dataset: { id: doc.id === undefined || doc.id === null ? "" : String(doc.id), verdict: doc.error ? "error" : doc.passed ? "pass" : "fail" } }, head, h("div", { class: "ev-body" }, body));
  }

  /** The Evaluations pane is drawn (three requests) only when it is in view; otherwise it is
   * marked to be drawn when its tab is opened. */
  function renderEvaluationsIfShown() {
    const pane = $("evaluations");
    if (!pane) return;
    if (pane.hidden) {
      pane.dataset.stale = "1";
      return;
    }
    delete pane.dataset.stale;
    renderEvaluations();
  }

  /** The Evaluations pane of a session: run one, and every evaluation stored, newest first. */
  let evalPaneSeq = 0;
  async function renderEvaluations() {
    const pane = $("evaluations");
    const d = state.detail;
    if (!pane || !d || d.missing) return;
    const seq = ++evalPaneSeq;
    let sets;
    let metrics;
    let list;
    try {
      [sets, metrics, list] = await Promise.all([loadEvalSets(), loadMetrics(), api(sessionPath(d.id, "/evaluations"))]);
    } catch (err) {
      if (seq === evalPaneSeq) pane.replaceChildren(h("div", { class: "placeholder small", text: String(err.message || err) }));
      return;
    }
    if (seq !== evalPaneSeq || state.detail !== d) return;
    const evaluations = list.evaluations || [];
    d.evaluationCount = evaluations.length;
    const tab = document.querySelector('.tab[data-tab="evaluations"] .tab-count');
    if (tab) tab.textContent = String(evaluations.length);
    const golden = sets.find((s) => s.id !== "golden-" + d.id && s.id.startsWith("golden-")) || sets[0];
    const preferred = (state.evalChoice && state.evalChoice.evalSetId) || d.summary.evalSetId || (golden && golden.id);
    const options = evalOptions(sets, metrics, preferred, true);
    // What the last run from this pane said; kept on the session so a redraw shows it still.
    const status = h("span", { class: "muted ev-running", role: "status", text: d.evalStatus || "" });
    const say = (text) => {
      d.evalStatus = text;
      const node = document.querySelector("#evaluations .ev-running");
      if (node && state.detail === d) node.textContent = text;
    };
    const run = async (all) => {
      const body = options.read();
      if (all && !body.evalSetId) return notice("Pick the eval set to score every complete session against.", true);
      say(all ? "Evaluating every complete session…" : "Evaluating…");
      try {
        if (all) {
          if (body.evalSetId.startsWith("golden-")) body.goldenSessionId = body.evalSetId.slice("golden-".length);
          const answer = await api("/api/evaluate-sessions", "POST", body);
          say("Scored " + fmtCount(answer.results.length, "session") + ": " + answer.results.filter((r) => r.passed).length + " passed.");
        } else {
          await api(sessionPath(d.id, "/evaluate"), "POST", body);
          say("");
        }
      } catch (err) {
        say("");
        showError(err);
      }
      // The live feed's evaluation_complete redraws the list; this covers a feed that is down.
      if (state.detail === d) renderEvaluations();
    };
    pane.replaceChildren(
      h(
        "section",
        { class: "ev-form" },
        options.node,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "button", id: "ev-run", text: "Evaluate this session", onclick: () => run(false) }),
          h("button", { type: "button", class: "button button-quiet", id: "ev-run-all", text: "Evaluate every complete session", title: "Score every complete session against the chosen eval set", onclick: () => run(true) }),
          status,
        ),
      ),
      evaluations.length ? h("div", { class: "ev-list" }, evaluations.map(evaluationView)) : h("div", { class: "placeholder small", text: "No evaluation of this session yet." }),
    );
  }

  /** Evaluate uploaded trace files against an uploaded eval set; nothing is stored. */
  let uploadSeq = 0;
  async function renderEvaluateFiles() {
    const main = $("detail");
    const seq = ++uploadSeq;
    let metrics;
    try {
      metrics = await loadMetrics();
    } catch (err) {
      if (seq === uploadSeq) main.replaceChildren(h("div", { class: "placeholder" }, backButton(), h("h2", { text: "Evaluate files" }), h("p", { text: String(err.message || err) })));
      return;
    }
    if (seq !== uploadSeq || !state.view || state.view.kind !== "evaluate-files") return;
    const traces = h("input", { type: "file", id: "ev-trace-files", multiple: true, "aria-label": "Trace files" });
    const setFile = h("input", { type: "file", id: "ev-eval-set-file", accept: ".json,application/json", "aria-label": "Eval set file" });
    const options = evalOptions([], metrics, null, true);
    // The eval set comes from a file here, not from the server's list.
    options.node.querySelector(".ev-row").remove();
    const result = h("div", { id: "ev-upload-result" });
    const go = async () => {
      if (!traces.files || !traces.files.length) return notice("Choose at least one trace file.", true);
      const form = new FormData();
      for (const f of traces.files) form.append("trace_files", f, f.name);
      if (setFile.files && setFile.files[0]) form.append("eval_set_file", setFile.files[0], setFile.files[0].name);
      const config = options.read();
      delete config.evalSetId;
      form.append("config", JSON.stringify(config));
      result.replaceChildren(h("div", { class: "placeholder small", text: "Evaluating…" }));
      try {
        const response = await fetch("/api/evaluate", { method: "POST", headers: HEADERS, body: form, cache: "no-store" });
        const answer = await response.json().catch(() => null);
        if (!response.ok) throw new HttpError("/api/evaluate", response.status, answer && answer.error && answer.error.message);
        result.replaceChildren(evaluationView(answer));
      } catch (err) {
        result.replaceChildren();
        showError(err);
      }
    };
    main.replaceChildren(
      h(
        "section",
        { id: "evaluate-files", class: "evaluate-files" },
        backButton(),
        h("h2", { text: "Evaluate files" }),
        h("p", { class: "muted", text: "Trace files in any format agentrace reads (OTLP JSON or JSONL, OTLP protobuf, Jaeger JSON) scored against an ADK eval set file. Nothing is stored." }),
        h("label", { class: "ev-row" }, h("span", { class: "label", text: "Trace files" }), traces),
        h("label", { class: "ev-row" }, h("span", { class: "label", text: "Eval set file" }), setFile),
        options.node,
        h("div", { class: "actions" }, h("button", { type: "button", class: "button", id: "ev-upload-run", text: "Evaluate", onclick: go })),
        result,
      ),
    );
  }

  // ---- Loading ------------------------------------------------------------------------------

  function showError(err) {
    if (err instanceof HttpError && err.status === 401) {
      notice(TOKEN ? "The token in the address was refused." : "This server needs a token: open the page as /?token=YOUR_TOKEN", true);
    } else {
      notice(String(err.message || err), true);
    }
  }

  let noticeTimer = 0;
  function notice(text, sticky) {
    const node = $("notice");
    node.textContent = text;
    node.hidden = false;
    node.dataset.sticky = sticky ? "1" : "";
    clearTimeout(noticeTimer);
    if (!sticky) noticeTimer = setTimeout(() => (node.hidden = true), 6000);
  }

  async function loadSessions() {
    const data = await api("/api/sessions?limit=" + LIST_LIMIT);
    state.sessions = new Map(data.sessions.map((s) => [s.id, s]));
    state.total = data.total;
    // The API answers again: an error shown earlier is over.
    if ($("notice").dataset.sticky) $("notice").hidden = true;
    for (const id of [...state.meta.keys()]) if (!state.sessions.has(id)) state.meta.delete(id);
    renderList();
    loadMissingMeta();
  }

  /** Fetches invocation counts and models for listed sessions, a few requests at a time. */
  let metaRunning = 0;
  function loadMissingMeta() {
    for (const id of state.sessions.keys()) {
      if (metaRunning >= META_CONCURRENCY) return;
      const meta = state.meta.get(id);
      if (meta && (meta.invocations || meta.loading)) continue;
      loadMeta(id);
    }
  }

  async function loadMeta(id) {
    const meta = state.meta.get(id) || { invocations: null, count: null };
    meta.loading = true;
    state.meta.set(id, meta);
    metaRunning++;
    try {
      const data = await api(sessionPath(id));
      const invocations = new Map();
      for (const inv of data.invocations || []) invocations.set(invKey(inv), inv);
      // Live events may have arrived while this request ran; they are newer.
      if (meta.invocations) for (const [k, v] of meta.invocations) invocations.set(k, v);
      meta.invocations = invocations;
      if (state.sessions.has(id)) state.sessions.set(id, stripDetail(data));
      renderListSoon();
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404)) showError(err);
    } finally {
      meta.loading = false;
      metaRunning--;
      loadMissingMeta();
    }
  }

  function stripDetail(data) {
    const summary = Object.assign({}, data);
    delete summary.invocations;
    delete summary.invocationCount;
    return summary;
  }

  let detailSeq = 0;
  async function loadDetail(keepView) {
    const id = state.selected;
    if (!id) {
      state.detail = null;
      renderDetail();
      return;
    }
    const seq = ++detailSeq;
    // Marks for whoever times an opening (the browser test): asked, answered, drawn.
    performance.mark("agentrace:open");
    if (!keepView) {
      state.detail = null;
      renderDetail();
    }
    try {
      const [session, spans] = await Promise.all([api(sessionPath(id)), api(spansPage(id, null))]);
      if (seq !== detailSeq || id !== state.selected) return;
      performance.mark("agentrace:answered");
      const invocations = new Map();
      for (const inv of session.invocations || []) invocations.set(invKey(inv), inv);
      const scroll = $("detail").scrollTop;
      state.detail = {
        id,
        summary: stripDetail(session),
        invocations,
        annotations: annotationMap(session.annotations),
        spans: spans.spans || [],
        spansTotal: spans.total,
        spansLoaded: true,
        spanIndex: null,
      };
      state.sessions.set(id, state.detail.summary);
      const meta = state.meta.get(id) || { count: null };
      meta.invocations = new Map(invocations);
      state.meta.set(id, meta);
      renderDetail();
      performance.mark("agentrace:drawn");
      if (keepView) $("detail").scrollTop = scroll;
      else $("detail").scrollTop = 0;
      scrollToTarget();
      renderListSoon();
      if (spans.nextCursor) loadRestOfSpans(state.detail, spans.nextCursor);
    } catch (err) {
      if (seq !== detailSeq) return;
      if (err instanceof HttpError && err.status === 404) {
        state.detail = { id, missing: "It was deleted, or never existed on this server." };
        renderDetail();
      } else {
        showError(err);
      }
    }
  }

  function spansPage(id, cursor) {
    const limit = cursor ? SPAN_PAGE : FIRST_SPAN_PAGE;
    return sessionPath(id, "/spans?limit=" + limit + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
  }

  function annotationMap(list) {
    return new Map((list || []).map((a) => [a.index, a]));
  }

  /** The pages after the first, one request at a time; the waterfall is redrawn as each arrives. */
  async function loadRestOfSpans(d, cursor) {
    const bound = Math.ceil((d.spansTotal || 0) / SPAN_PAGE) + 2;
    for (let i = 0; cursor && i < bound; i++) {
      let page;
      try {
        page = await api(spansPage(d.id, cursor));
      } catch (err) {
        showError(err);
        return;
      }
      if (state.detail !== d) return;
      d.spans = d.spans.concat(page.spans || []);
      d.spansTotal = page.total;
      d.spanIndex = null;
      cursor = page.nextCursor;
      renderWaterfall();
      refreshDetailChrome();
    }
    // Turn facts (durations, tokens) read every span: drawn again once all are here.
    renderConversation();
  }

  /** Every span of a session, page by page. */
  async function fetchAllSpans(id) {
    let spans = [];
    let cursor = null;
    for (let i = 0; i < 1000; i++) {
      const page = await api(spansPage(id, cursor));
      spans = spans.concat(page.spans || []);
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    return spans;
  }

  /** Scrolls to (and marks) the turn named by `&turn=N`, once. */
  function scrollToTarget() {
    if (state.targetTurn === null) return;
    const card = document.querySelector('#conversation article.turn[data-index="' + state.targetTurn + '"]');
    if (!card) return;
    card.classList.add("turn-target");
    card.scrollIntoView({ block: "center" });
  }

  let spansTimer = 0;
  function refreshSpansSoon() {
    if (spansTimer) return;
    spansTimer = setTimeout(async () => {
      spansTimer = 0;
      const d = state.detail;
      if (!d || d.missing) return;
      try {
        const [spans, session] = await Promise.all([fetchAllSpans(d.id), api(sessionPath(d.id))]);
        if (state.detail !== d) return;
        d.spans = spans;
        d.spansTotal = spans.length;
        d.spanIndex = null;
        d.summary = stripDetail(session);
        d.annotations = annotationMap(session.annotations);
        // The API's list is the truth: it may also have dropped or renumbered turns.
        d.invocations = new Map((session.invocations || []).map((inv) => [invKey(inv), inv]));
        const meta = state.meta.get(d.id);
        if (meta) meta.invocations = new Map(d.invocations);
        state.sessions.set(d.id, d.summary);
        renderListSoon();
        const scroll = $("detail").scrollTop;
        refreshDetailChrome();
        renderConversation();
        renderWaterfall();
        if (state.tab === "logs" || d.logs) loadLogs();
        $("detail").scrollTop = scroll;
      } catch (err) {
        showError(err);
      }
    }, 300);
  }

  async function resync() {
    state.meta.clear();
    try {
      await loadSessions();
      await loadDetail(true);
    } catch (err) {
      showError(err);
    }
  }

  // ---- Live feed ----------------------------------------------------------------------------

  function onEvent(event) {
    switch (event.type) {
      case "session_started": {
        const s = event.session;
        if (!s || !s.id) return;
        const isNew = !state.sessions.has(s.id);
        if (isNew) state.total++;
        state.sessions.set(s.id, s);
        if (isNew && $("follow").checked && s.id !== state.selected) location.hash = sessionHref(s.id);
        if (!state.meta.has(s.id)) state.meta.set(s.id, { invocations: new Map(), count: 0 });
        renderListSoon();
        if (s.id === state.selected && (!state.detail || state.detail.missing)) loadDetail();
        return;
      }
      case "spans_received": {
        const s = state.sessions.get(event.session_id);
        if (!s) {
          loadSessions().catch(showError);
          return;
        }
        s.spanCount = event.span_count;
        if (s.complete) {
          s.complete = false;
          s.completedAtNs = null;
        }
        renderListSoon();
        if (state.detail && state.detail.id === event.session_id && !state.detail.missing) {
          state.detail.summary = s;
          refreshSpansSoon();
        }
        return;
      }
      case "invocation_updated": {
        const inv = event.invocation;
        if (!inv) return;
        const meta = state.meta.get(event.session_id) || { invocations: null, count: null };
        if (!meta.invocations) meta.invocations = new Map();
        meta.invocations.set(invKey(inv), inv);
        state.meta.set(event.session_id, meta);
        const listed = state.sessions.get(event.session_id);
        if (listed && !listed.preview && !(inv.index || 0) && inv.user_text) listed.preview = [...inv.user_text].slice(0, 200).join("");
        renderListSoon();
        const d = state.detail;
        if (d && d.id === event.session_id && !d.missing) {
          const main = $("detail");
          const isNew = !d.invocations.has(invKey(inv));
          // A reader at the bottom of the conversation follows new turns; anyone else stays put.
          const follow = state.tab === "conversation" && isNew && main.scrollHeight - main.scrollTop - main.clientHeight < 40;
          d.invocations.set(invKey(inv), inv);
          const scroll = main.scrollTop;
          renderTurn(inv);
          refreshDetailChrome();
          main.scrollTop = follow ? main.scrollHeight : scroll;
        }
        return;
      }
      case "session_complete": {
        const s = state.sessions.get(event.session_id);
        if (s) {
          s.complete = true;
          renderListSoon();
        }
        const meta = state.meta.get(event.session_id);
        if (meta && !meta.invocations) meta.count = event.invocation_count;
        const d = state.detail;
        if (d && d.id === event.session_id && !d.missing) {
          d.summary.complete = true;
          refreshDetailChrome();
          // Completion may finish extraction; pick up the final shape.
          refreshSpansSoon();
        }
        return;
      }
      case "session_deleted": {
        if (state.sessions.delete(event.session_id)) state.total = Math.max(0, state.total - 1);
        state.meta.delete(event.session_id);
        renderListSoon();
        if (state.detail && state.detail.id === event.session_id) {
          state.detail = { id: event.session_id, missing: "It was deleted while open." };
          renderDetail();
        }
        return;
      }
      case "evaluation_complete": {
        const ev = event.evaluation;
        if (!ev) return;
        const s = state.sessions.get(event.session_id);
        if (s && (!s.latestEvaluation || (s.latestEvaluation.id || 0) <= ev.id)) {
          s.latestEvaluation = { id: ev.id, passed: ev.passed, error: ev.error, evalSetId: ev.evalSetId };
          renderListSoon();
        }
        const d = state.detail;
        if (d && d.id === event.session_id && !d.missing) {
          d.summary.latestEvaluation = s ? s.latestEvaluation : d.summary.latestEvaluation;
          renderEvaluationsIfShown();
        }
        return;
      }
      case "lagged":
        notice("Missed " + event.missed + " live updates; reloaded everything.");
        resync();
        return;
      default:
        // Unknown event types are ignored, so newer servers work with this page.
        return;
    }
  }

  const conn = {
    source: null,
    attempt: 0,
    timer: 0,
    everOpen: false,
  };

  function setConn(kind, text) {
    const node = $("conn");
    node.className = "conn conn-" + kind;
    node.textContent = text;
  }

  function connect() {
    clearTimeout(conn.timer);
    setConn("connecting", conn.attempt ? "reconnecting…" : "connecting");
    const source = new EventSource(withToken("/stream/ui-updates"));
    conn.source = source;
    source.onopen = () => {
      const reconnected = conn.everOpen;
      conn.everOpen = true;
      conn.attempt = 0;
      setConn("live", "live");
      // Anything may have changed while the feed was down.
      if (reconnected) resync();
    };
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      onEvent(event);
    };
    source.onerror = () => {
      source.close();
      if (conn.source !== source) return;
      conn.source = null;
      conn.attempt++;
      const delay = Math.min(15000, 500 * 2 ** Math.min(conn.attempt, 5)) * (0.8 + Math.random() * 0.4);
      setConn("down", "disconnected · retrying in " + Math.ceil(delay / 1000) + " s");
      conn.timer = setTimeout(connect, delay);
    };
  }

  // ---- Wiring -------------------------------------------------------------------------------

  function select(id) {
    if (id === state.selected && state.detail && state.detail.id === id) {
      scrollToTarget();
      return;
    }
    state.selected = id;
    const tab = hashParams().get("tab");
    state.tab = TABS.includes(tab) ? tab : "conversation";
    for (const row of document.querySelectorAll("#sessions .srow")) {
      const on = row.dataset.id === id;
      row.classList.toggle("active", on);
      const link = row.querySelector("a");
      if (on) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    loadDetail();
  }

  window.addEventListener("hashchange", () => {
    state.view = viewFromHash();
    state.targetTurn = turnFromHash();
    if (state.view) {
      state.selected = null;
      state.detail = null;
      for (const row of document.querySelectorAll("#sessions .srow.active")) row.classList.remove("active");
      renderDetail();
      return;
    }
    select(selectedFromHash());
  });
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("search").value.trim();
    if (q) location.hash = "#search=" + encodeURIComponent(q);
  });
  $("filter").addEventListener("input", (e) => {
    state.filter = e.target.value;
    renderList();
  });
  // "Follow new" is remembered by this browser.
  try {
    $("follow").checked = localStorage.getItem("agentrace.follow") === "1";
  } catch {
    // Storage may be disabled; the box then starts unchecked.
  }
  $("follow").addEventListener("change", (e) => {
    try {
      localStorage.setItem("agentrace.follow", e.target.checked ? "1" : "0");
    } catch {
      // Not remembered; it still works for this page.
    }
  });
  $("state-filter").addEventListener("change", (e) => {
    state.stateFilter = e.target.value;
    renderList();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement !== $("filter")) {
      e.preventDefault();
      $("filter").focus();
    }
  });

  renderDetail();
  loadSessions().catch(showError);
  loadDetail();
  connect();
})();
