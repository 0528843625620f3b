"""A scripted tool-calling "model" for the fake OpenAI server: for each question it asks for a
planned sequence of tool-call rounds (OpenAI wire format), then answers with what the tools
returned. Used by the agent-loop tests, the bundled-suite test and the benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Round = list[tuple[str, dict[str, Any]]]

# question fragment → the tool-call rounds the scripted model makes (the bundled agent suite)
PLANS: dict[str, list[Round]] = {
    "status of order A1003": [[("lookup_order", {"order_id": "A1003"})]],
    "order A1005 been": [[("lookup_order", {"order_id": "A1005"})]],
    "total of order A1004": [[("lookup_order", {"order_id": "A1004"})]],
    "order Z9999": [[("lookup_order", {"order_id": "Z9999"})]],
    "return a book": [[("refund_policy", {"category": "books"})]],
    "window for clothing": [[("refund_policy", {"category": "clothing"})]],
    "coffee beans": [[("refund_policy", {"category": "food"})]],
    "17.5 * 4": [[("calculator", {"expression": "17.5 * 4 + 3"})]],
    "10 percent tax": [[("calculator", {"expression": "72 * 1.1"})]],
    "order A1001 five days": [
        [("lookup_order", {"order_id": "A1001"})],
        [("refund_policy", {"category": "electronics"})],
    ],
    "headphones from order A1002": [
        [("lookup_order", {"order_id": "A1002"})],
        [("refund_policy", {"category": "electronics"})],
    ],
    # deliberately wrong: the policy before the order (tool_order fails at the first step)
    "A1004 be refunded": [
        [("refund_policy", {"category": "clothing"})],
        [("lookup_order", {"order_id": "A1004"})],
    ],
    # deliberately wrong: the same look-up twice (tool_loop fails on the repeat)
    "order A1006": [[("lookup_order", {"order_id": "A1006"})], [("lookup_order", {"order_id": "A1006"})]],
    "refund for order A1003": [[("lookup_order", {"order_id": "A1003"})]],
    # parallel tool calls in one message
    "A1001 or order A1003": [
        [("lookup_order", {"order_id": "A1001"}), ("lookup_order", {"order_id": "A1003"})]
    ],
    "half of that": [[("calculator", {"expression": "108.5 / 2"})]],
}


def plan_for(question: str) -> list[Round]:
    return next((plan for key, plan in PLANS.items() if key in question), [])


def agent_responder(body: dict[str, Any]) -> Any:
    messages = body["messages"]
    question = next(m["content"] for m in messages if m["role"] == "user")
    rounds_done = sum(1 for m in messages if m["role"] == "assistant" and m.get("tool_calls"))
    plan = plan_for(question)
    if rounds_done < len(plan):
        calls = [
            {"id": f"call_{rounds_done}_{i}", "name": name, "arguments": json.dumps(args)}
            for i, (name, args) in enumerate(plan[rounds_done])
        ]
        return {"content": None, "tool_calls": calls}
    results = [m["content"] for m in messages if m["role"] == "tool"]
    if not results:
        return "I can help you with your order, refunds and sums."
    return "Here is what I found: " + " | ".join(results)


REPO = Path(__file__).resolve().parents[2]
AGENT_SUITE = REPO / "suites" / "agent" / "agent.yaml"


def config(url: str) -> str:
    """An evalkit.yaml whose one variant asks the fake OpenAI server at `url` (priced)."""
    price = "pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}"
    return f"providers:\n  api: {{type: openai, base_url: {url}, model: m, {price}}}\nvariants:\n  api: {{provider: api}}\n"


def bedrock_agent_responder(body: dict[str, Any]) -> dict[str, Any]:
    """The same scripted model in Bedrock Converse's wire format (tests/fake_bedrock.py):
    toolUse blocks for a round of calls, the toolResult texts in the final answer."""
    messages = body["messages"]
    question = next(b["text"] for m in messages if m["role"] == "user" for b in m["content"] if "text" in b)
    rounds_done = sum(
        1 for m in messages if m["role"] == "assistant" and any("toolUse" in b for b in m["content"])
    )
    plan = plan_for(question)
    usage = {"inputTokens": 40, "outputTokens": 12}
    if rounds_done < len(plan):
        uses = [
            {"toolUse": {"toolUseId": f"tooluse_{rounds_done}_{i}", "name": name, "input": args}}
            for i, (name, args) in enumerate(plan[rounds_done])
        ]
        return {"content": uses, "stopReason": "tool_use", "usage": usage}
    results = [
        c["text"]
        for m in messages
        for b in m["content"]
        if "toolResult" in b
        for c in b["toolResult"]["content"]
    ]
    text = (
        "Here is what I found: " + " | ".join(results) if results else "I can help with orders and refunds."
    )
    return {"content": [{"text": text}], "stopReason": "end_turn", "usage": usage}
