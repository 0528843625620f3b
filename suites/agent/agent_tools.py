"""The bundled agent's tools: an order lookup and a refund policy over JSON files beside this
module, a refund calculator and a calculator. Pure functions over local data: no network."""

from __future__ import annotations

import ast
import json
import operator
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def lookup_order(order_id: str) -> dict[str, Any]:
    """An order by id: customer, status, days since delivery, category and items."""
    order = _load("orders.json").get(order_id.strip().upper())
    if order is None:
        raise KeyError(f"no order {order_id}")
    total = round(sum(i["price"] * i["quantity"] for i in order["items"]), 2)
    return {"order_id": order_id.strip().upper(), **order, "total": total}


def refund_policy(category: str) -> dict[str, Any]:
    """The refund rules for a product category."""
    policy = _load("refund_policy.json").get(category.strip().lower())
    if policy is None:
        raise KeyError(f"no policy for category {category}")
    return {"category": category.strip().lower(), **policy}


_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
    ast.Pow: operator.pow,
}


def calculator(expression: str) -> float:
    """Evaluate + - * / ** and parentheses over numbers (nothing else is accepted)."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.operand)))
        raise ValueError(f"unsupported expression: {expression}")

    return round(ev(ast.parse(expression, mode="eval").body), 6)


def refund_amount(order_id: str) -> dict[str, Any]:
    """What an order would be refunded today under its category's policy."""
    order = lookup_order(order_id)
    policy = refund_policy(order["category"])
    days = order["delivered_days_ago"]
    eligible = order["status"] == "delivered" and days is not None and days <= policy["window_days"]
    amount = round(order["total"] * policy["refund_percent"] / 100, 2) if eligible else 0.0
    return {"order_id": order["order_id"], "eligible": eligible, "amount": amount}
