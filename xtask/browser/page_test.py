"""Browser test of the agentrace web page, run by `cargo xtask browser`.

Starts `agentrace serve` (in-memory database, a token, free loopback ports), posts conformance
traces over OTLP/HTTP JSON, and drives Debian's Chromium through Playwright (never a downloaded
browser). Every expectation about content is read from the server's own API, not written here.

Environment (set by xtask): AGENTRACE_BIN, FIXTURES (the conformance corpus), SHOTS (the
screenshot directory), CHROMIUM (the browser executable).
"""

import copy
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright, expect

BIN = os.environ["AGENTRACE_BIN"]
FIXTURES = os.environ["FIXTURES"]
SHOTS = os.environ["SHOTS"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TOKEN = secrets.token_hex(12)
TIMEOUT_MS = 10_000
# Every wait below has its own timeout; this bounds the whole test as well.
WHOLE_TEST_SECONDS = 300
# The big session: this many spans; its opening is measured in the browser against OPEN_GOAL_MS
# and reported (the median of OPEN_TRIES opens, measured with performance.now() from the click to the first rows drawn; the
# median, because the machines this runs on are shared and a single open can wait for the CPU).
BIG_SPANS = 10_000
OPEN_GOAL_MS = 1000
OPEN_TRIES = 5

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`agentrace serve` on fixed loopback ports, so it can be stopped and started again."""

    def __init__(self, db=":memory:"):
        self.db = db
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = open(os.path.join(SHOTS, "server.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen(
            [BIN, "serve", "--db", self.db, "--auth-token", TOKEN,
             "--port", str(self.port), "--otlp-http-port", "0", "--otlp-grpc-port", "0"],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"agentrace serve exited early with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.base + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        sys.exit("agentrace serve did not answer /api/health within 30 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + TOKEN)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def post_traces(self, doc):
        answer = self.request("POST", "/v1/traces", doc)
        assert not (answer or {}).get("partialSuccess"), f"spans were rejected: {answer}"


def fixture(case):
    with open(os.path.join(FIXTURES, case, "trace.json"), encoding="utf-8") as f:
        return json.load(f)


def only_traces(doc, trace_ids):
    """A copy of an OTLP/JSON document with only the spans of the given traces."""
    out = copy.deepcopy(doc)
    for rs in out["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            ss["spans"] = [s for s in ss["spans"] if s["traceId"] in trace_ids]
    return out


def with_failed_tool(doc, conversation):
    """A copy of a trace under a new trace id and conversation, whose second tool span failed."""
    out = copy.deepcopy(doc)
    new_trace = secrets.token_hex(16)
    tools = 0
    for rs in out["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                span["traceId"] = new_trace
                for attr in span.get("attributes", []):
                    if attr["key"].endswith("conversation.id"):
                        attr["value"] = {"stringValue": conversation}
                if span["name"].startswith("execute_tool"):
                    tools += 1
                    if tools == 2:
                        span["status"] = {"code": 2, "message": "upstream service timed out"}
    assert tools >= 2, "the trace should have two tool spans"
    return out


def trace_ids_in_order(doc):
    ids = []
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                if s["traceId"] not in ids:
                    ids.append(s["traceId"])
    return ids


def wait_until(what, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def count(n, noun):
    """How the page writes a count: `1 turn`, `3 turns`."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def session_ids(server):
    return [s["id"] for s in server.request("GET", "/api/sessions?limit=500")["sessions"]]


def no_horizontal_overflow(page, label):
    widths = page.evaluate(
        """() => {
            const el = document.documentElement;
            const wide = [...document.querySelectorAll('body *')]
                .filter(n => n.getBoundingClientRect().right > el.clientWidth + 1 && n.offsetParent !== null)
                .slice(0, 5).map(n => n.tagName + '.' + n.className);
            return { scroll: el.scrollWidth, client: el.clientWidth, wide };
        }"""
    )
    assert widths["scroll"] <= widths["client"], f"{label}: horizontal overflow {widths}"
    assert not widths["wide"], f"{label}: elements past the right edge {widths['wide']}"


def check_turns(page, invocations):
    """Each turn card shows the API's user text, agent text and tool call names."""
    cards = page.locator("#conversation article.turn")
    expect(cards).to_have_count(len(invocations), timeout=TIMEOUT_MS)
    for i, inv in enumerate(invocations):
        card = cards.nth(i)
        if inv.get("user_text"):
            expect(card.locator(".msg-user .text")).to_have_text(inv["user_text"])
        if inv.get("agent_text"):
            expect(card.locator(".msg-agent .text")).to_have_text(inv["agent_text"])
        names = [c["name"] for c in inv.get("tool_calls") or []]
        if names:
            expect(card.locator(".tool-name")).to_have_text(names)
        for model in inv.get("models") or []:
            expect(card.locator(".turn-head .chip", has_text=model)).to_have_count(1)


def post_multipart(server, path, files, fields):
    """A multipart/form-data POST (as the page's upload sends it): `files` is [(field, name, bytes)]."""
    boundary = "agentrace-" + secrets.token_hex(8)
    body = b""
    for name, value in fields:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").encode() + value.encode() + b"\r\n"
    for field, filename, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(server.base + path, data=body, method="POST")
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def fmt_score(score):
    """How the page writes a score (JavaScript's toFixed(2))."""
    return "—" if score is None else f"{score:.2f}"


def failure_reasons(m):
    """Why a metric did not pass, from the API's fields (as `agentrace run`'s table says it)."""
    out = []
    if m.get("error"):
        out.append("error: " + m["error"])
    if m.get("reason"):
        out.append("reason: " + m["reason"])
    if m["status"] == "FAILED" and not m.get("error") and m.get("score") is not None and m.get("threshold") is not None:
        out.append(f"score {m['score']:.4f} is below the threshold {m['threshold']:g}")
    return out


def call_label(call):
    args = call.get("args")
    return call.get("name", "?") + "(" + ("" if args is None else json.dumps(args, separators=(",", ":"), ensure_ascii=False)) + ")"


def check_evaluation(card, doc):
    """The evaluation card shows the API's document: each metric's status, score and per-turn
    scores, the reasons of each failure, and the diff of each failed trajectory."""
    expect(card).to_have_attribute("data-verdict", "error" if doc.get("error") else "pass" if doc["passed"] else "fail")
    failures = 0
    for g in doc["groups"]:
        for m in g["metrics"]:
            row = card.locator(f'.ev-metric-row[data-metric="{m["metric"]}"]')
            expect(row).to_have_attribute("data-status", m["status"])
            expect(row.locator(".ev-score")).to_have_text(fmt_score(m["score"]))
            expect(row.locator(".ev-turn")).to_have_text([fmt_score(s) for s in m["per_invocation_scores"]])
            reasons = failure_reasons(m)
            if m["status"] != "PASSED" and reasons:
                box = card.locator(f'.ev-failure[data-metric="{m["metric"]}"]')
                expect(box.locator(".ev-reasons li")).to_have_text(reasons)
                failures += 1
                unmatched = [c for c in (m.get("details") or {}).get("comparisons", []) if c.get("matched") is False]
                if m["status"] == "FAILED":
                    expect(box.locator(".ev-diff")).to_have_count(len(unmatched))
                    for i, c in enumerate(unmatched):
                        expected_calls = [call_label(x) for x in c.get("expected") or []]
                        actual_calls = [call_label(x) for x in c.get("actual") or []]
                        diff = box.locator(".ev-diff").nth(i)
                        for label in expected_calls:
                            if label not in actual_calls:
                                expect(diff.locator(".ev-del", has_text=label)).to_have_count(1)
                        for label in actual_calls:
                            if label not in expected_calls:
                                expect(diff.locator(".ev-ins", has_text=label)).to_have_count(1)
    return failures


def run_evaluation(server, page, console_errors):
    """Golden runs, eval sets and evaluations from the page, each checked against the API."""
    # (a) A session is marked golden, and an expected tool argument of its eval set is edited.
    page.goto(f"{server.base}/?token={TOKEN}#session=conv-travel-001")
    page.locator("#mark-golden").click()
    set_id = "golden-conv-travel-001"
    page.wait_for_url(f"**#eval-set={set_id}")
    stored = server.request("GET", f"/api/eval-sets/{set_id}")
    conversation = stored["eval_cases"][0]["conversation"]
    invocations = server.request("GET", "/api/sessions/conv-travel-001/invocations")["invocations"]
    assert len(conversation) == len(invocations), (len(conversation), len(invocations))
    expect(page.locator("#eval-set .es-inv")).to_have_count(len(conversation))
    # The first call with a numeric argument gets another value (as one would fix a golden run).
    inv_i, use_i, key = next((i, j, k) for i, inv in enumerate(conversation)
                             for j, use in enumerate(inv["intermediate_data"]["tool_uses"])
                             for k, v in use["args"].items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    use = conversation[inv_i]["intermediate_data"]["tool_uses"][use_i]
    new_args = dict(use["args"], **{key: use["args"][key] + 1})
    box = page.locator(f'#eval-set .es-inv[data-index="{inv_i}"] .es-tool[data-index="{use_i}"] textarea.es-tool-args')
    assert json.loads(box.input_value()) == use["args"], box.input_value()
    box.fill(json.dumps(new_args))
    page.locator("#es-save").click()
    expect(page.locator("#es-status")).to_have_text("Saved.")
    after = server.request("GET", f"/api/eval-sets/{set_id}")
    assert after["eval_cases"][0]["conversation"][inv_i]["intermediate_data"]["tool_uses"][use_i]["args"] == new_args, after
    page.reload()
    box = page.locator(f'#eval-set .es-inv[data-index="{inv_i}"] .es-tool[data-index="{use_i}"] textarea.es-tool-args')
    assert json.loads(box.input_value()) == new_args, box.input_value()
    # Not JSON: refused in the page, nothing sent.
    box.fill("{not json")
    page.locator("#es-save").click()
    expect(box).to_have_class("es-tool-args mono invalid")
    assert server.request("GET", f"/api/eval-sets/{set_id}") == after
    page.reload()
    page.screenshot(path=os.path.join(SHOTS, "14-eval-set-1280.png"))
    with page.expect_download() as download:
        page.locator("#es-download").click()
    with open(download.value.path(), encoding="utf-8") as f:
        assert json.load(f) == after, "the download is not the stored eval set"

    # Upload an eval set file, list it, delete it.
    upload_case = "tool_order_differs"
    upload_set = os.path.join(FIXTURES, upload_case, "eval_set.json")
    with open(upload_set, encoding="utf-8") as f:
        upload_id = json.load(f)["eval_set_id"]
    page.goto(f"{server.base}/?token={TOKEN}#eval-sets")
    page.locator("#eval-set-file").set_input_files(upload_set)
    page.locator("#eval-set-upload").click()
    listed = wait_until("the uploaded eval set", lambda: [s["id"] for s in server.request("GET", "/api/eval-sets")["evalSets"]]
                        if upload_id in [s["id"] for s in server.request("GET", "/api/eval-sets")["evalSets"]] else None)
    expect(page.locator("#eval-sets .eval-set-list tbody tr")).to_have_count(len(listed))
    for sid in listed:
        expect(page.locator(f'#eval-sets tr[data-id="{sid}"]')).to_have_count(1)
    page.locator(f'#eval-sets tr[data-id="{upload_id}"] a').click()
    page.wait_for_url(f"**#eval-set={upload_id}")
    page.once("dialog", lambda d: d.accept())
    page.locator("#es-delete").click()
    page.wait_for_url("**#eval-sets")
    expect(page.locator(f'#eval-sets tr[data-id="{upload_id}"]')).to_have_count(0)
    assert upload_id not in [s["id"] for s in server.request("GET", "/api/eval-sets")["evalSets"]]

    # (b) The second run is evaluated against the golden one and shows its failures with reasons.
    metrics = server.request("GET", "/api/metrics")["metrics"]
    page.goto(f"{server.base}/?token={TOKEN}#session=conv-travel-002&tab=evaluations")
    form = page.locator("#evaluations .ev-form")
    expect(form).to_be_visible()
    for m in metrics:
        box = form.locator(f'.ev-metric[data-metric="{m["name"]}"] input')
        if m["available"]:
            expect(box).to_be_enabled()
        else:
            expect(box).to_be_disabled()
            expect(form.locator(f'.ev-metric[data-metric="{m["name"]}"] .ev-reason')).to_have_text(m["reason"])
    chosen = [m["name"] for m in metrics if m["available"] and m["name"] in ("tool_trajectory_avg_score", "response_match_score")]
    assert "tool_trajectory_avg_score" in chosen, metrics
    for name in chosen:
        form.locator(f'.ev-metric[data-metric="{name}"] input').check()
    form.locator(".ev-set").select_option(set_id)
    form.locator("#ev-run").click()
    card = page.locator("#evaluations .evaluation").first
    expect(card).to_be_visible()
    doc = server.request("GET", "/api/sessions/conv-travel-002/evaluations")["evaluations"][0]
    assert doc["evalSetId"] == set_id and not doc["passed"], doc
    assert [m["metric"] for m in doc["groups"][0]["metrics"]] == chosen, doc["groups"][0]["metrics"]
    expect(card).to_have_attribute("data-id", str(doc["id"]))
    assert check_evaluation(card, doc) >= 1, "the second run should fail a metric"
    expect(card.locator(".ev-diff .ev-del").first).to_be_visible()
    # The list shows each session's latest verdict, as the API gives it.
    expect(page.locator('#sessions .srow[data-id="conv-travel-002"] .eval-badge')).to_have_attribute("data-verdict", "fail")
    card.scroll_into_view_if_needed()
    page.screenshot(path=os.path.join(SHOTS, "15-evaluation-1280.png"))
    page.set_viewport_size({"width": 400, "height": 800})
    expect(card).to_be_visible()
    no_horizontal_overflow(page, "evaluations at 400 px")
    page.screenshot(path=os.path.join(SHOTS, "15-evaluation-400.png"), full_page=True)
    page.goto(f"{server.base}/?token={TOKEN}#eval-set={set_id}")
    expect(page.locator("#eval-set .es-inv")).to_have_count(len(conversation))
    no_horizontal_overflow(page, "eval set at 400 px")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{server.base}/?token={TOKEN}#session=conv-travel-002&tab=evaluations")
    expect(page.locator("#evaluations .evaluation")).to_have_count(1)
    # An evaluation made elsewhere (here, the API) appears live: the golden run's own verdict.
    server.request("POST", "/api/sessions/conv-travel-001/evaluate", {"evalSetId": set_id, "metrics": chosen})
    latest = next(s for s in server.request("GET", "/api/sessions?limit=500")["sessions"] if s["id"] == "conv-travel-001")["latestEvaluation"]
    expect(page.locator('#sessions .srow[data-id="conv-travel-001"] .eval-badge')).to_have_attribute(
        "data-verdict", "error" if latest["error"] else "pass" if latest["passed"] else "fail")

    # Every complete session against the golden one: each one's badge is its newest verdict.
    page.locator("#evaluations #ev-run-all").click()
    expect(page.locator("#evaluations .ev-running")).to_contain_text("Scored ")
    complete = [s for s in server.request("GET", "/api/sessions?limit=500")["sessions"] if s["complete"]]
    expect(page.locator("#evaluations .ev-running")).to_have_text(
        f"Scored {count(len(complete), 'session')}: {sum(1 for s in complete if s['latestEvaluation']['passed'])} passed.")
    for s in complete:
        v = s["latestEvaluation"]
        assert v["evalSetId"] == set_id, v
        expect(page.locator(f'#sessions .srow[data-id="{s["id"]}"] .eval-badge')).to_have_attribute(
            "data-verdict", "error" if v["error"] else "pass" if v["passed"] else "fail")

    # (c) An uploaded trace file is evaluated; the page shows what the API answers for the same upload.
    page.goto(f"{server.base}/?token={TOKEN}#evaluate-files")
    trace_file = os.path.join(FIXTURES, upload_case, "trace.json")
    page.locator("#ev-trace-files").set_input_files(trace_file)
    page.locator("#ev-eval-set-file").set_input_files(upload_set)
    with open(trace_file, "rb") as f:
        trace_bytes = f.read()
    with open(upload_set, "rb") as f:
        set_bytes = f.read()
    # First with the match type and threshold set in the page: the same config sent to the API
    # gives the same document (any_order lets the extra and reordered calls pass).
    # The form keeps the last choices made (here, the two metrics asked for above): only the
    # trajectory now.
    for m in metrics:
        if m["available"]:
            page.locator(f'#evaluate-files .ev-metric[data-metric="{m["name"]}"] input').set_checked(m["name"] == "tool_trajectory_avg_score")
    page.locator("#evaluate-files select.ev-match").select_option("any_order")
    page.locator("#evaluate-files input.ev-threshold").fill("0.9")
    page.locator("#ev-upload-run").click()
    card = page.locator("#ev-upload-result .evaluation")
    expect(card).to_have_attribute("data-verdict", "pass")
    loose = post_multipart(server, "/api/evaluate",
                           [("trace_files", "trace.json", trace_bytes), ("eval_set_file", "eval_set.json", set_bytes)],
                           [("config", json.dumps({"metrics": ["tool_trajectory_avg_score"], "threshold": 0.9,
                                                   "trajectoryMatchType": "any_order"}))])
    assert loose["passed"] and loose["groups"][0]["metrics"][0]["threshold"] == 0.9, loose
    check_evaluation(card, loose)
    # Then the defaults (exact): the failure, its reason and its diff.
    page.locator("#evaluate-files select.ev-match").select_option("")
    page.locator("#evaluate-files input.ev-threshold").fill("")
    page.locator("#ev-upload-run").click()
    expect(card).to_have_attribute("data-verdict", "fail")
    answer = post_multipart(server, "/api/evaluate",
                            [("trace_files", "trace.json", trace_bytes), ("eval_set_file", "eval_set.json", set_bytes)],
                            [("config", json.dumps({"metrics": ["tool_trajectory_avg_score"]}))])
    assert answer["trigger"] == "upload" and not answer["passed"], answer
    assert check_evaluation(card, answer) >= 1, "the upload should fail its trajectory"
    page.screenshot(path=os.path.join(SHOTS, "16-upload-1280.png"), full_page=True)
    assert not console_errors, f"console errors: {console_errors}"


def on_alarm(_signum, _frame):
    raise TimeoutError(f"the browser test ran longer than {WHOLE_TEST_SECONDS} s")


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_TEST_SECONDS)
    os.makedirs(SHOTS, exist_ok=True)
    for old in os.listdir(SHOTS):
        if old.endswith((".png", ".log")):
            os.remove(os.path.join(SHOTS, old))
    started = time.monotonic()
    server = Server()
    server.start()
    try:
        run(server)
    except BaseException:
        print(f"browser test failed; screenshots and server.log in {SHOTS}", file=sys.stderr)
        raise
    finally:
        server.stop()
        server.log.close()
    # Judging runs: previews, search, compare, annotations across a restart (a file database), and
    # a big session.
    with tempfile.TemporaryDirectory(prefix="agentrace-browser-db-") as data:
        server = Server(db=os.path.join(data, "agentrace.db"))
        server.start()
        try:
            run_judging(server)
        except BaseException:
            print(f"browser test failed; screenshots and server.log in {SHOTS}", file=sys.stderr)
            raise
        finally:
            server.stop()
            server.log.close()
    print(f"browser test: all checks passed in {time.monotonic() - started:.1f}s; screenshots in {SHOTS}")


def run(server):
    cart = fixture("multi_turn_cart")
    cart_traces = trace_ids_in_order(cart)
    assert len(cart_traces) >= 2, "multi_turn_cart should hold several traces"
    # All turns but the last now; the last one arrives while the page is open.
    server.post_traces(only_traces(cart, cart_traces[:-1]))
    cart_id = wait_until("the cart session", lambda: next(iter(session_ids(server)), None))

    console_errors = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="agentrace-chromium-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))

        # The session list, with the token passed on from the address.
        page.goto(f"{server.base}/?token={TOKEN}")
        row = page.locator(f'#sessions .srow[data-id="{cart_id}"]')
        expect(row).to_be_visible()
        expect(page.locator("#conn")).to_have_text("live")
        summary = server.request("GET", f"/api/sessions/{cart_id}")
        expect(row.locator(".inv-count")).to_have_text(count(summary["invocationCount"], "turn"))
        expect(row).to_contain_text(count(summary["spanCount"], "span"))
        page.evaluate("window.__noReload = true")

        # Open it: the turns are the ones the API extracted.
        row.locator("a").click()
        page.wait_for_url(f"**#session={cart_id}")
        invocations = server.request("GET", f"/api/sessions/{cart_id}/invocations")["invocations"]
        assert invocations, "the API extracted no invocation from the cart traces"
        check_turns(page, invocations)

        # Expand the first tool call: its arguments are the API's.
        first_tool = page.locator("#conversation article.turn").first.locator("details.tool").first
        first_tool.locator("summary").click()
        call = invocations[0]["tool_calls"][0]
        for key in call["args"]:
            expect(first_tool.locator(".json").first).to_contain_text(json.dumps(key))
        page.screenshot(path=os.path.join(SHOTS, "1-session-1280.png"))

        # The last turn arrives live: the page follows the API without a reload, and the open tool
        # call stays open. (Whether the session completed in between depends on timing; either
        # way the page must show what the API now returns.)
        server.post_traces(only_traces(cart, cart_traces[-1:]))
        wait_until(
            "the API to extract the last turn",
            lambda: server.request("GET", f"/api/sessions/{cart_id}/invocations")["invocations"] != invocations,
        )
        invocations = server.request("GET", f"/api/sessions/{cart_id}/invocations")["invocations"]
        check_turns(page, invocations)
        assert first_tool.evaluate("d => d.open"), "the expanded tool call closed on a live update"
        spans = server.request("GET", f"/api/sessions/{cart_id}/spans")["spans"]
        expect(page.locator(".tab[data-tab=spans] .tab-count")).to_have_text(str(len(spans)))

        # The span waterfall: one row per span; a click shows the span's attributes.
        page.locator(".tab[data-tab=spans]").click()
        rows = page.locator("#waterfall details.span-row")
        expect(rows).to_have_count(len(spans))
        expect(page.locator("#waterfall section.trace")).to_have_count(len({s["traceId"] for s in spans}))
        tool_span = next(s for s in spans if s["name"].startswith("execute_tool"))
        tool_row = page.locator(f'#waterfall details.span-row[data-span-id="{tool_span["spanId"]}"]')
        tool_row.locator("summary").click()
        details = tool_row.locator(".span-details")
        expect(details).to_contain_text(tool_span["spanId"])
        for attr in tool_span["attributes"][:3]:
            expect(details.locator("th", has_text=attr["key"]).first).to_be_visible()
        page.screenshot(path=os.path.join(SHOTS, "2-spans-1280.png"))

        # The export link gives the session as OTLP/JSON. Its address carries no token (the page
        # fetches it with the header; the API takes `?token=` only on the live feeds).
        href = page.locator("a", has_text="Export OTLP JSON").get_attribute("href")
        assert "token=" not in href, href
        exported = page.request.get(server.base + href, headers={"Authorization": "Bearer " + TOKEN}).json()
        exported_spans = sum(len(ss["spans"]) for rs in exported["resourceSpans"] for ss in rs["scopeSpans"])
        assert exported_spans == len(spans), f"export has {exported_spans} spans, the API {len(spans)}"

        # A new session appears in the open page, live.
        travel = fixture("semconv_travel_tools")
        before = set(session_ids(server))
        server.post_traces(travel)
        new_id = wait_until("the travel session", lambda: next(iter(set(session_ids(server)) - before), None))
        expect(page.locator(f'#sessions .srow[data-id="{new_id}"]')).to_be_visible()
        travel_summary = server.request("GET", f"/api/sessions/{new_id}")
        expect(page.locator(f'#sessions .srow[data-id="{new_id}"] .inv-count')).to_have_text(
            count(travel_summary["invocationCount"], "turn")
        )
        # The cart session completes (the server's grace period after its last span): the list and
        # the open page follow without a reload.
        wait_until("the cart session to complete", lambda: server.request("GET", f"/api/sessions/{cart_id}")["complete"])
        expect(page.locator(f'#sessions .srow[data-id="{cart_id}"] .pill')).to_have_text("complete")
        # The filter box narrows the list.
        page.locator("#filter").fill(new_id)
        expect(page.locator("#sessions .srow")).to_have_count(1)
        page.locator("#filter").fill("")
        assert page.evaluate("window.__noReload === true"), "the page reloaded"

        # A failed tool: the API marks the call as an error and the span has an error status; the
        # page shows both. With "follow new" checked, the page opens the session by itself.
        page.locator("#follow").check()
        failing = with_failed_tool(travel, "conv-travel-failing")
        server.post_traces(failing)
        failed_id = wait_until("the failing session", lambda: "conv-travel-failing" in session_ids(server) and "conv-travel-failing")
        page.wait_for_url(f"**#session={failed_id}")
        page.locator("#follow").uncheck()
        failed_invs = server.request("GET", f"/api/sessions/{failed_id}/invocations")["invocations"]
        check_turns(page, failed_invs)
        flags = [c.get("is_error", False) for inv in failed_invs for c in inv.get("tool_calls") or []]
        assert any(flags), "the API marked no tool call as failed"
        tools = page.locator("#conversation details.tool")
        for i, flag in enumerate(flags):
            expect(tools.nth(i)).to_have_class("tool tool-error" if flag else "tool")
        failed_spans = server.request("GET", f"/api/sessions/{failed_id}/spans")["spans"]
        for span in failed_spans:
            if (span.get("status") or {}).get("code") == 2:
                expect(page.locator("#conversation .error-line", has_text=span["status"]["message"])).to_have_count(1)
                expect(page.locator(f'#waterfall details.span-row[data-span-id="{span["spanId"]}"]')).to_have_class("span-row span-error")
        page.locator("#conversation details.tool-error summary").first.click()
        page.screenshot(path=os.path.join(SHOTS, "3-failed-tool-1280.png"))

        # Log records: a session whose content came as OTLP logs lists them in its Logs tab.
        logs_doc = fixture("session_logs_good")
        before = set(session_ids(server))
        server.post_traces({"resourceSpans": logs_doc["resourceSpans"]})
        answer = server.request("POST", "/v1/logs", {"resourceLogs": logs_doc["resourceLogs"]})
        assert not (answer or {}).get("partialSuccess"), f"log records were rejected: {answer}"
        logs_id = wait_until("the logs session", lambda: next(iter(set(session_ids(server)) - before), None))
        logs = server.request("GET", f"/api/sessions/{logs_id}/logs")["logs"]
        assert logs, "the API stored no log record"
        page.goto(f"{server.base}/?token={TOKEN}#session={logs_id}")
        expect(page.locator(".tab[data-tab=logs] .tab-count")).to_have_text(str(len(logs)))
        page.locator(".tab[data-tab=logs]").click()
        expect(page.locator("#logs details.log")).to_have_count(len(logs))
        page.locator("#logs details.log summary").first.click()
        page.screenshot(path=os.path.join(SHOTS, "3-logs-1280.png"))

        # Delete: after confirming, the session leaves the list and the API.
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("button", has_text="Delete").click()
        expect(page.locator(f'#sessions .srow[data-id="{logs_id}"]')).to_have_count(0)
        assert logs_id not in session_ids(server), "the deleted session is still listed by the API"

        # Open the new session through the address, as a shared link would.
        page.goto(f"{server.base}/?token={TOKEN}#session={new_id}")
        check_turns(page, server.request("GET", f"/api/sessions/{new_id}/invocations")["invocations"])
        page.screenshot(path=os.path.join(SHOTS, "3-travel-1280.png"))

        # 400 px wide: no horizontal overflow, list and session each usable.
        page.set_viewport_size({"width": 400, "height": 800})
        page.goto(f"{server.base}/?token={TOKEN}#session={cart_id}")
        check_turns(page, invocations)
        page.locator("#conversation details.tool").first.locator("summary").click()
        no_horizontal_overflow(page, "session at 400 px")
        page.screenshot(path=os.path.join(SHOTS, "4-session-400.png"), full_page=True)
        page.locator(".tab[data-tab=spans]").click()
        page.locator("#waterfall details.span-row summary").nth(2).click()
        no_horizontal_overflow(page, "spans at 400 px")
        page.screenshot(path=os.path.join(SHOTS, "5-spans-400.png"))
        page.locator(".back").click()
        expect(page.locator(f'#sessions .srow[data-id="{cart_id}"]')).to_be_visible()
        no_horizontal_overflow(page, "list at 400 px")
        page.screenshot(path=os.path.join(SHOTS, "6-list-400.png"))

        # Dark mode.
        page.emulate_media(color_scheme="dark")
        page.set_viewport_size({"width": 1280, "height": 860})
        page.goto(f"{server.base}/?token={TOKEN}#session={new_id}")
        check_turns(page, server.request("GET", f"/api/sessions/{new_id}/invocations")["invocations"])
        page.locator("#conversation details.tool").first.locator("summary").click()
        page.screenshot(path=os.path.join(SHOTS, "7-dark-1280.png"))

        assert not console_errors, f"console errors: {console_errors}"

        # Without the token the API answers 401 and the page says what to do.
        page.goto(f"{server.base}/")
        expect(page.locator("#notice")).to_contain_text("needs a token")
        page.goto(f"{server.base}/?token={TOKEN}#session={new_id}")
        expect(page.locator("#conn")).to_have_text("live")

        # A dropped connection: the badge says so, and after the server is back the page
        # reconnects and resynchronises (the new in-memory server has no sessions).
        server.stop()
        expect(page.locator("#conn")).to_contain_text("disconnected")
        page.screenshot(path=os.path.join(SHOTS, "8-disconnected-1280.png"))
        server.start()
        expect(page.locator("#conn")).to_have_text("live", timeout=30_000)
        expect(page.locator("#sessions .srow")).to_have_count(0)
        expect(page.locator("#notice")).to_be_hidden()
        expect(page.locator("#detail")).to_contain_text("No session")
        context.close()


def travel_variant(doc):
    """A second run of the travel trace: another conversation and trace, the weather looked up
    for Munich, and another answer (the same change the server's tests make)."""
    text = json.dumps(doc)
    text = text.replace("conv-travel-001", "conv-travel-002")
    for trace in trace_ids_in_order(doc):
        text = text.replace(trace, secrets.token_hex(16))
    text = text.replace('\\"city\\": \\"Berlin\\"', '\\"city\\": \\"Munich\\"')
    text = text.replace("Berlin expects light rain", "Munich expects sunshine")
    out = json.loads(text)
    assert json.dumps(out) != json.dumps(doc).replace("conv-travel-001", "conv-travel-002"), "the variant changed nothing"
    return out


def big_session(conversation, spans_total):
    """An OTLP/JSON document of one conversation with `spans_total` spans: turns of 200 spans
    (an agent span, a model call with the messages, 6 tool calls, each with 32 inner spans)."""
    per_turn = 200
    assert spans_total % per_turn == 0
    base_ns = time.time_ns() - 3_600 * 10**9
    spans = []

    def attr(key, value):
        if isinstance(value, int):
            return {"key": key, "value": {"intValue": str(value)}}
        return {"key": key, "value": {"stringValue": value}}

    for turn in range(spans_total // per_turn):
        trace = secrets.token_hex(16)
        t0 = base_ns + turn * 60 * 10**9
        ids = iter(secrets.token_hex(8) for _ in range(per_turn))
        root = next(ids)

        def span(span_id, parent, name, start, end, attrs):
            spans.append({
                "traceId": trace, "spanId": span_id, "parentSpanId": parent or "", "name": name,
                "kind": 1, "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
                "attributes": attrs, "status": {},
            })

        span(root, None, "invoke_agent big_agent", t0, t0 + 30 * 10**9, [
            attr("gen_ai.operation.name", "invoke_agent"), attr("gen_ai.agent.name", "big_agent"),
            attr("gen_ai.conversation.id", conversation),
        ])
        question = f"Question number {turn}: check the inventory of warehouse {turn}"
        answer = f"Warehouse {turn} holds {turn * 7} crates"
        span(next(ids), root, "chat big-model", t0 + 10**6, t0 + 2 * 10**9, [
            attr("gen_ai.operation.name", "chat"), attr("gen_ai.request.model", "big-model"),
            attr("gen_ai.conversation.id", conversation),
            attr("gen_ai.input.messages", json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}])),
            attr("gen_ai.output.messages", json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}])),
            attr("gen_ai.usage.input_tokens", 120), attr("gen_ai.usage.output_tokens", 12),
        ])
        for tool in range(6):
            tool_id = next(ids)
            start = t0 + (3 + tool * 3) * 10**9
            span(tool_id, root, f"execute_tool lookup_{tool}", start, start + 2 * 10**9, [
                attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", f"lookup_{tool}"),
                attr("gen_ai.tool.call.id", f"call_{turn}_{tool}"),
                attr("gen_ai.tool.call.arguments", json.dumps({"warehouse": turn, "shelf": tool})),
            ])
            for inner in range(32):
                s0 = start + inner * 60 * 10**6
                span(next(ids), tool_id, f"db.query shelf {inner}", s0, s0 + 60 * 10**6, [attr("db.system", "sqlite")])
    assert len(spans) == spans_total, len(spans)
    return {"resourceSpans": [{"resource": {"attributes": [attr("service.name", "big-agent")]},
                               "scopeSpans": [{"scope": {"name": "browser-test"}, "spans": spans}]}]}


def open_page(pw, profile):
    context = pw.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 860},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.pages[0] if context.pages else context.new_page()
    return context, page


def wait_complete(server, session_id):
    return wait_until(
        f"session {session_id} to complete",
        lambda: next((s for s in server.request("GET", "/api/sessions?limit=500")["sessions"]
                      if s["id"] == session_id and s["complete"]), None),
        timeout=20,
    )


def run_judging(server):
    travel = fixture("semconv_travel_tools")
    server.post_traces(travel)
    server.post_traces(travel_variant(travel))
    server.post_traces(fixture("multi_turn_cart"))
    wait_complete(server, "conv-travel-001")
    wait_complete(server, "conv-travel-002")
    console_errors = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="agentrace-chromium-") as profile:
        context, page = open_page(pw, profile)
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
        page.goto(f"{server.base}/?token={TOKEN}")

        # The list previews each session's first user message, as the API gives it.
        listed = server.request("GET", "/api/sessions?limit=500")["sessions"]
        assert all(s.get("preview") for s in listed if s["complete"]), f"a complete session without a preview: {listed}"
        for s in listed:
            if s.get("preview"):
                expect(page.locator(f'#sessions .srow[data-id="{s["id"]}"] .preview')).to_have_text(s["preview"])
        page.screenshot(path=os.path.join(SHOTS, "9-list-previews-1280.png"))

        # Search: a word of one session's answer that the other's answer lacks finds that turn.
        first = server.request("GET", "/api/sessions/conv-travel-001/invocations")["invocations"]
        second = server.request("GET", "/api/sessions/conv-travel-002/invocations")["invocations"]
        words = {w.strip(".,:;").lower() for inv in first for w in (inv.get("agent_text") or "").split()}
        word = next(w.strip(".,:;") for w in second[0]["agent_text"].split()
                    if w.strip(".,:;").isalpha() and w.strip(".,:;").lower() not in words)
        results = server.request("GET", "/api/search?limit=50&q=" + urllib.parse.quote(word))["results"]
        assert [(r["sessionId"], r["index"]) for r in results] == [("conv-travel-002", 0)], results
        page.locator("#search").fill(word)
        page.locator("#search").press("Enter")
        page.wait_for_url(f"**#search={word}")
        hits = page.locator("#search-results li.hit")
        expect(hits).to_have_count(len(results))
        expect(hits.first.locator("mark")).to_have_text(word)
        page.screenshot(path=os.path.join(SHOTS, "10-search-1280.png"))
        hits.first.locator("a").click()
        page.wait_for_url("**#session=conv-travel-002&turn=0")
        target = page.locator("#conversation article.turn.turn-target")
        expect(target).to_have_count(1)
        expect(target.locator(".msg-agent .text")).to_contain_text(word)

        # Compare the two runs: every mark is the API's.
        page.goto(f"{server.base}/?token={TOKEN}#session=conv-travel-001")
        page.locator(".compare-select").select_option("conv-travel-002")
        page.wait_for_url("**#compare=conv-travel-001&with=conv-travel-002")
        compared = server.request("GET", "/api/compare?a=conv-travel-001&b=conv-travel-002")
        turns = page.locator("#compare section.cmp-turn")
        expect(turns).to_have_count(len(compared["turns"]))
        for i, turn in enumerate(compared["turns"]):
            card = turns.nth(i)
            ops = [op["op"] for op in turn["trajectory"]]
            expect(card.locator(".cmp-op")).to_have_count(len(ops))
            for j, op in enumerate(ops):
                expect(card.locator(".cmp-op").nth(j)).to_have_attribute("data-op", op)
            for op in turn["trajectory"]:
                for key in op.get("changedArgs") or []:
                    expect(card.locator(".arg-changed", has_text=key).first).to_be_visible()
            deleted = [p["text"] for p in turn["answer"] if p["op"] == "deleted"]
            inserted = [p["text"] for p in turn["answer"] if p["op"] == "inserted"]
            expect(card.locator("del")).to_have_text(deleted)
            expect(card.locator("ins")).to_have_text(inserted)
            facts = card.locator(".cmp-facts tbody tr")
            expect(facts.nth(0).locator("td")).to_have_text([str(turn["a"]["inputTokens"]), str(turn["b"]["inputTokens"])])
            expect(facts.nth(2).locator("td")).to_have_text([str(turn["a"]["modelCalls"]), str(turn["b"]["modelCalls"])])
        assert any(op["op"] != "same" for t in compared["turns"] for op in t["trajectory"]), "the runs should differ in a tool call"
        page.screenshot(path=os.path.join(SHOTS, "11-compare-1280.png"), full_page=True)
        page.set_viewport_size({"width": 400, "height": 800})
        expect(turns).to_have_count(len(compared["turns"]))
        no_horizontal_overflow(page, "compare at 400 px")
        page.screenshot(path=os.path.join(SHOTS, "11-compare-400.png"), full_page=True)
        page.goto(f"{server.base}/?token={TOKEN}#search={urllib.parse.quote(word)}")
        expect(page.locator("#search-results li.hit")).to_have_count(len(results))
        no_horizontal_overflow(page, "search at 400 px")
        page.set_viewport_size({"width": 1280, "height": 860})

        # Annotate a turn: a verdict and a note, kept by the server across a restart.
        note = "Looked up the weather for the wrong city; the flights are right."
        page.goto(f"{server.base}/?token={TOKEN}#session=conv-travel-001")
        card = page.locator("#conversation article.turn").first
        card.locator('.vbtn[data-verdict="bad"]').click()
        expect(card.locator('.vbtn[data-verdict="bad"]')).to_have_attribute("aria-pressed", "true")
        card.locator(".note-edit").click()
        card.locator("textarea.note-input").fill(note)
        card.locator(".note-save").click()
        expect(card.locator(".note")).to_have_text(note)
        saved = server.request("GET", "/api/sessions/conv-travel-001/annotations")["annotations"]
        assert [(a["index"], a["verdict"], a["note"]) for a in saved] == [(0, "bad", note)], saved
        assert not console_errors, f"console errors: {console_errors}"
        server.stop()
        expect(page.locator("#conn")).to_contain_text("disconnected")
        server.start()
        expect(page.locator("#conn")).to_have_text("live", timeout=30_000)
        # The browser logs the event stream the stop cut off (and the retries while it was down).
        console_errors.clear()
        page.goto(f"{server.base}/?token={TOKEN}#session=conv-travel-001")
        card = page.locator("#conversation article.turn").first
        expect(card.locator(".note")).to_have_text(note)
        expect(card.locator('.vbtn[data-verdict="bad"]')).to_have_attribute("aria-pressed", "true")
        expect(card.locator(".turn-head .verdict-bad")).to_have_count(1)
        exported = server.request("GET", "/api/sessions/conv-travel-001/export")
        assert exported["agentrace"]["annotations"][0]["note"] == note, exported.get("agentrace")
        card.scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(SHOTS, "12-annotation-1280.png"))

        # Golden runs, eval sets and evaluations.
        run_evaluation(server, page, console_errors)

        # A 10,000-span session opens within the goal, measured in the browser: performance.now()
        # from the click on its row to the first waterfall rows drawn.
        server.post_traces(big_session("conv-big", BIG_SPANS))
        big = server.request("GET", "/api/sessions/conv-big")
        assert big["spanCount"] == BIG_SPANS, big["spanCount"]
        # Opened once stored complete, as a finished run is reviewed (not while the server still
        # extracts its turns and the page follows its live updates).
        wait_complete(server, "conv-big")
        opens = []
        for _ in range(OPEN_TRIES):
            page.goto(f"{server.base}/?token={TOKEN}")
            expect(page.locator('#sessions .srow[data-id="conv-big"]')).to_be_visible()
            opens.append(page.evaluate(
                """async () => {
                    const link = document.querySelector('#sessions .srow[data-id="conv-big"] a');
                    link.href = link.getAttribute('href') + '&tab=spans';
                    const t0 = performance.now();
                    link.click();
                    for (;;) {
                        await new Promise((r) => requestAnimationFrame(r));
                        if (document.querySelector('#waterfall .span-vrow')) break;
                        if (performance.now() - t0 > 20000) throw new Error('no rows after 20 s');
                    }
                    const end = performance.now();
                    // One frame more, nothing changed: what a frame costs the browser now.
                    await new Promise((r) => requestAnimationFrame(r));
                    const idleFrame = performance.now() - end;
                    // The page's marks: asked (loadDetail starts), answered, drawn.
                    const at = (name) => performance.getEntriesByName(name).slice(-1)[0].startTime;
                    const [open, answered, drawn] = ['agentrace:open', 'agentrace:answered', 'agentrace:drawn'].map(at);
                    return { total: end - t0, toOpen: open - t0, requests: answered - open, drawing: drawn - answered, toFrame: end - drawn, idleFrame };
                }"""
            ))
        phases = opens
        opens = [o["total"] for o in phases]
        median = sorted(opens)[len(opens) // 2]
        print(f"browser test: a {BIG_SPANS}-span session opened in " + ", ".join(f"{ms:.0f}" for ms in opens)
              + f" ms (median {median:.0f} ms, goal {OPEN_GOAL_MS} ms; click to first rows drawn, performance.now());"
              + " each: from the click to the page asking / the two requests (session, first page of spans) / drawing /"
              + " the next frame (and, after it, a frame with nothing to draw): " + ", ".join(
                  "{toOpen:.0f}/{requests:.0f}/{drawing:.0f}/{toFrame:.0f} ({idleFrame:.0f})".format(**o) for o in phases)
              + " ms")
        # A figure, not a pass mark: speed goals are checked by measurements reported, never by a
        # timed test failing on a loaded machine (docs/web-page.md has the runs).
        print("browser test: the opening goal was " + ("met" if median < OPEN_GOAL_MS else "MISSED")
              + f" (median {median:.0f} ms against {OPEN_GOAL_MS} ms)")
        # Only the rows in view are drawn; every span arrives, page by page.
        expect(page.locator(".tab[data-tab=spans] .tab-count")).to_have_text(str(BIG_SPANS))
        expect(page.locator("#waterfall .vnote")).not_to_contain_text("loaded", timeout=30_000)
        drawn = page.locator("#waterfall .vrow").count()
        assert 0 < drawn < 200, f"{drawn} rows drawn for {BIG_SPANS} spans"
        # Scrolling: each step draws the rows of its place, within a frame or two.
        steps = page.evaluate(
            """async () => {
                const list = document.querySelector('#waterfall .vlist');
                const times = [];
                const seen = new Set();
                for (let i = 1; i <= 40; i++) {
                    const t0 = performance.now();
                    list.scrollTop = (list.scrollHeight - list.clientHeight) * i / 40;
                    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                    times.push(performance.now() - t0);
                    const rows = [...list.querySelectorAll('.span-vrow')];
                    const top = list.scrollTop;
                    if (!rows.some((r) => r.offsetTop <= top + 26 && r.offsetTop + 26 >= top)) throw new Error('no row at ' + top);
                    rows.forEach((r) => seen.add(r.dataset.spanId));
                }
                times.sort((a, b) => a - b);
                return { median: times[20], max: times[39], seen: [...seen], drawn: list.querySelectorAll('.vrow').length };
            }"""
        )
        span_ids = {s["spanId"] for s in server.request("GET", "/api/sessions/conv-big/spans")["spans"]}
        assert set(steps["seen"]) <= span_ids and len(steps["seen"]) > 1000, f"{len(steps['seen'])} rows seen"
        assert steps["drawn"] < 200, steps["drawn"]
        print(f"browser test: scrolling the {BIG_SPANS}-span waterfall: a step drawn in {steps['median']:.0f} ms "
              f"(median of 40, two frames included; max {steps['max']:.0f} ms), {steps['drawn']} rows in the page")
        page.locator("#waterfall .span-vrow").nth(3).click()
        expect(page.locator("#waterfall .vdetails .span-details")).to_be_visible()
        page.locator("#waterfall .vlist").evaluate("l => { l.scrollTop = l.scrollHeight / 2; }")
        page.screenshot(path=os.path.join(SHOTS, "13-big-session-1280.png"))
        assert not console_errors, f"console errors: {console_errors}"
        context.close()


if __name__ == "__main__":
    main()
