"""Real OpenTelemetry clients against a running `agentrace serve`.

Run by `cargo xtask compat` with AGENTRACE_URL, OTLP_HTTP and OTLP_GRPC in the environment. Each
client sends one agent turn (invoke_agent > chat > execute_tool > chat) in its own session; then the
invocations the server extracted are checked. Exits non-zero with a message on the first mismatch.
"""

import json
import os
import sys
import time

import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

BASE = os.environ["AGENTRACE_URL"]
OTLP_HTTP = os.environ["OTLP_HTTP"]
OTLP_GRPC = os.environ["OTLP_GRPC"]
DEADLINE_S = 30


def user_msg(text):
    return json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}])


def turn(tracer, question, answer, with_content=True):
    """One agent turn with a tool call; content on spans unless with_content is False."""
    with tracer.start_as_current_span("invoke_agent weather", kind=SpanKind.INTERNAL) as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "weather")
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.provider.name", "openai")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            if with_content:
                chat.set_attribute("gen_ai.input.messages", user_msg(question))
                chat.set_attribute(
                    "gen_ai.output.messages",
                    json.dumps([{"role": "assistant", "finish_reason": "tool_call", "parts": [
                        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]}]),
                )
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "get_weather")
            tool.set_attribute("gen_ai.tool.call.id", "call_1")
            tool.set_attribute("gen_ai.tool.call.arguments", json.dumps({"city": "Paris"}))
            tool.set_attribute("gen_ai.tool.call.result", json.dumps({"temp": 21}))
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            if with_content:
                chat.set_attribute("gen_ai.input.messages", user_msg(question))
                chat.set_attribute(
                    "gen_ai.output.messages",
                    json.dumps([{"role": "assistant", "finish_reason": "stop", "parts": [
                        {"type": "text", "content": answer}]}]),
                )


def provider(exporter, session):
    tp = TracerProvider(resource=Resource.create({"service.name": "compat", "agentevals.session_name": session}))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


def wait_for_turn(session, question, answer):
    deadline = time.monotonic() + DEADLINE_S
    last = None
    while time.monotonic() < deadline:
        r = requests.get(f"{BASE}/api/sessions/{session}/invocations", timeout=5)
        if r.status_code == 200:
            last = r.json()["invocations"]
            if last and last[0].get("agent_text") == answer:
                inv = last[0]
                check(inv["user_text"] == question, session, "user_text", inv)
                names = [c["name"] for c in inv["tool_calls"]]
                check(names == ["get_weather"], session, "tool_calls", inv)
                check(inv["tool_calls"][0]["args"] == {"city": "Paris"}, session, "tool args", inv)
                check(inv["models"] == ["gpt-4o"], session, "models", inv)
                print(f"ok   {session}: {question!r} -> {answer!r}, tools {names}")
                return
        time.sleep(0.1)
    fail(f"{session}: no complete invocation within {DEADLINE_S}s; last seen {last}")


def check(cond, session, what, inv):
    if not cond:
        fail(f"{session}: wrong {what}: {json.dumps(inv)}")


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def otlp_http():
    tp = provider(HttpSpanExporter(endpoint=f"{OTLP_HTTP}/v1/traces"), "py-otlp-http")
    turn(tp.get_tracer("compat"), "Weather in Paris?", "It is 21 degrees in Paris.")
    tp.shutdown()
    wait_for_turn("py-otlp-http", "Weather in Paris?", "It is 21 degrees in Paris.")


def otlp_http_main_port_gzip():
    from opentelemetry.exporter.otlp.proto.http import Compression

    tp = provider(HttpSpanExporter(endpoint=f"{BASE}/v1/traces", compression=Compression.Gzip), "py-otlp-gzip")
    turn(tp.get_tracer("compat"), "Weather, gzip?", "Gzip works.")
    tp.shutdown()
    wait_for_turn("py-otlp-gzip", "Weather, gzip?", "Gzip works.")


def otlp_grpc():
    target = OTLP_GRPC.replace("http://", "")
    tp = provider(GrpcSpanExporter(endpoint=target, insecure=True), "py-otlp-grpc")
    turn(tp.get_tracer("compat"), "Weather over gRPC?", "gRPC says 21 degrees.")
    tp.shutdown()
    wait_for_turn("py-otlp-grpc", "Weather over gRPC?", "gRPC says 21 degrees.")


def otlp_logs():
    """Spans without content; the content arrives as inference-details log records."""
    session = "py-otlp-logs"
    resource = Resource.create({"service.name": "compat", "agentevals.session_name": session})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(HttpSpanExporter(endpoint=f"{OTLP_HTTP}/v1/traces")))
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(SimpleLogRecordProcessor(HttpLogExporter(endpoint=f"{OTLP_HTTP}/v1/logs")))
    logger = lp.get_logger("compat")
    tracer = tp.get_tracer("compat")
    from opentelemetry._logs import LogRecord

    question, answer = "Weather from logs?", "Logs say 21 degrees."
    with tracer.start_as_current_span("invoke_agent weather") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "weather")
        for output in (
            [{"role": "assistant", "finish_reason": "tool_call", "parts": [
                {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]}],
            [{"role": "assistant", "finish_reason": "stop", "parts": [{"type": "text", "content": answer}]}],
        ):
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
                chat.set_attribute("gen_ai.operation.name", "chat")
                chat.set_attribute("gen_ai.request.model", "gpt-4o")
                ctx = chat.get_span_context()
                logger.emit(LogRecord(
                    trace_id=ctx.trace_id, span_id=ctx.span_id, trace_flags=ctx.trace_flags,
                    event_name="gen_ai.client.inference.operation.details",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.input.messages": json.loads(user_msg(question)),
                        "gen_ai.output.messages": output,
                    },
                ))
            if output[0]["finish_reason"] == "tool_call":
                with tracer.start_as_current_span("execute_tool get_weather") as tool:
                    tool.set_attribute("gen_ai.operation.name", "execute_tool")
                    tool.set_attribute("gen_ai.tool.name", "get_weather")
                    tool.set_attribute("gen_ai.tool.call.id", "call_1")
    lp.shutdown()
    tp.shutdown()
    wait_for_turn(session, question, answer)


def agentevals_sdk():
    """agentevals-cli 0.11's own SDK: AgentEvals(...).session(), unchanged."""
    from agentevals import AgentEvals

    tp = TracerProvider(resource=Resource.create({"service.name": "compat-sdk"}))
    app = AgentEvals(endpoint=OTLP_HTTP, auto_instrument=False)
    question, answer = "Weather via the agentevals SDK?", "The SDK says 21 degrees."
    with app.session(session_name="py-agentevals-sdk", tracer_provider=tp, metadata={"suite": "compat"}):
        turn(tp.get_tracer("compat"), question, answer)
    tp.shutdown()
    wait_for_turn("py-agentevals-sdk", question, answer)
    meta = requests.get(f"{BASE}/api/sessions/py-agentevals-sdk", timeout=5).json()["metadata"]
    check(meta.get("suite") == "compat", "py-agentevals-sdk", "metadata", meta)


if __name__ == "__main__":
    otlp_http()
    otlp_http_main_port_gzip()
    otlp_grpc()
    otlp_logs()
    agentevals_sdk()
    print("compat: all clients ok")
