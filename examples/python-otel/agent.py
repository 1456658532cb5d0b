"""A dice-rolling agent in Python that uses only the standard OpenTelemetry SDK and its OTLP/HTTP
exporter against `agentrace serve`: no agentrace package, no network beyond the server, no keys.

The scripted model asks for `roll_die`, then answers. Spans follow the OpenTelemetry GenAI
conventions (invoke_agent > chat > execute_tool > chat) with message content on the spans; the
resource's `agentevals.session_name` names the session, as agentevals' SDK does. After the export
the script asks the server's API for the session's invocations and prints them with the page link.

    python -m venv .venv && .venv/bin/pip install -r examples/python-otel/requirements.txt
    .venv/bin/python examples/python-otel/agent.py --server http://127.0.0.1:8001
"""

import argparse
import json
import random
import sys
import time
import urllib.parse
import urllib.request
import uuid

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

MODEL = "scripted-dice"


def messages(role, *parts):
    return [{"role": role, "parts": list(parts)}]


def text(content):
    return {"type": "text", "content": content}


def chat(tracer, inputs, outputs, finish):
    with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "scripted")
        span.set_attribute("gen_ai.request.model", MODEL)
        span.set_attribute("gen_ai.response.model", MODEL)
        span.set_attribute("gen_ai.response.finish_reasons", [finish])
        span.set_attribute("gen_ai.usage.input_tokens", 20)
        span.set_attribute("gen_ai.usage.output_tokens", 8)
        span.set_attribute("gen_ai.input.messages", json.dumps(inputs))
        outputs = [dict(outputs[0], finish_reason=finish)]
        span.set_attribute("gen_ai.output.messages", json.dumps(outputs))


def turn(tracer, rng, prompt, sides):
    """One agent turn; returns the answer."""
    with tracer.start_as_current_span("invoke_agent dice_agent", kind=SpanKind.INTERNAL) as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "dice_agent")
        history = messages("user", text(prompt))
        call = {"type": "tool_call", "id": "call_1", "name": "roll_die", "arguments": {"sides": sides}}
        chat(tracer, history, messages("assistant", call), "tool_call")
        with tracer.start_as_current_span("execute_tool roll_die", kind=SpanKind.INTERNAL) as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "roll_die")
            tool.set_attribute("gen_ai.tool.call.id", "call_1")
            result = {"result": rng.randint(1, sides)}
            tool.set_attribute("gen_ai.tool.call.arguments", json.dumps({"sides": sides}))
            tool.set_attribute("gen_ai.tool.call.result", json.dumps(result))
        history += messages("assistant", call)
        history += messages("tool", {"type": "tool_call_response", "id": "call_1", "response": result})
        answer = f"I rolled a {sides}-sided die and got {result['result']}."
        chat(tracer, history, messages("assistant", text(answer)), "stop")
        return answer


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8001", help="agentrace serve's main address")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    server = args.server.rstrip("/")
    name = f"python-dice-{uuid.uuid4().hex[:12]}"
    resource = Resource.create({"service.name": "example-python-otel", "agentevals.session_name": name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{server}/v1/traces")))
    tracer = provider.get_tracer("example-python-otel")
    rng = random.Random(args.seed)
    print(f"session {name}")
    for prompt, sides in [("Roll a 20-sided die.", 20), ("Now roll a 6-sided die.", 6)]:
        print(f"agent: {prompt} -> {turn(tracer, rng, prompt, sides)}")
    if not provider.force_flush(10_000):
        print("could not deliver the spans to the server")
        return 2
    provider.shutdown()
    # The server extracts invocations as spans arrive; ask for them (bounded: 10 s).
    query = urllib.parse.urlencode({"q": name})
    for _ in range(100):
        listed = get_json(f"{server}/api/sessions?{query}")["sessions"]
        found = [s for s in listed if s.get("key") == name]
        if found:
            session_id = found[0]["id"]
            invocations = get_json(f"{server}/api/sessions/{urllib.parse.quote(session_id)}")["invocations"]
            if len(invocations) >= 2:
                print(f"invocations ({len(invocations)}):")
                for inv in invocations:
                    calls = ", ".join(f"{c['name']}({json.dumps(c.get('args'))})" for c in inv.get("tool_calls", []))
                    print(f"  user:  {inv.get('user_text', '')}")
                    print(f"  tools: {calls}")
                    print(f"  agent: {inv.get('agent_text', '')}")
                print(f"page: {server}/#session={urllib.parse.quote(session_id)}")
                return 0
        time.sleep(0.1)
    print("the server did not list the session's invocations in time")
    return 1


if __name__ == "__main__":
    sys.exit(main())
