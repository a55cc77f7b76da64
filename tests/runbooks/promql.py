"""Metric names an alert expression reads, from a real PromQL parser (promql-parser, the Rust crate)."""

from __future__ import annotations

from typing import Any

import promql_parser


def metric_names(expression: str) -> set[str]:
    names: set[str] = set()
    _walk(promql_parser.parse(expression), names)
    return names


def _walk(node: Any, names: set[str]) -> None:
    if isinstance(node, promql_parser.VectorSelector):
        name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), None)
        if name:
            names.add(name)
        return
    if isinstance(node, promql_parser.MatrixSelector):
        _walk(node.vector_selector, names)
    elif isinstance(node, promql_parser.BinaryExpr):
        _walk(node.lhs, names)
        _walk(node.rhs, names)
    elif isinstance(node, promql_parser.Call):
        for argument in node.args:
            _walk(argument, names)
    elif isinstance(node, (promql_parser.AggregateExpr, promql_parser.ParenExpr, promql_parser.UnaryExpr,
                           promql_parser.SubqueryExpr)):  # fmt: skip
        _walk(node.expr, names)
