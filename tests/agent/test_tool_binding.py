"""`@tool` on nested pydantic models and on methods."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from rolloutctl import tool
from rolloutctl.schema.arguments import schema_instance
from rolloutctl.schema.lint import dangling_refs


class Point(BaseModel):
    x: float
    y: float


class Line(BaseModel):
    a: Point
    b: Point


@tool
def length(line: Line, scale: float = 1.0) -> float:
    """The length of a line."""
    return scale * ((line.a.x - line.b.x) ** 2 + (line.a.y - line.b.y) ** 2) ** 0.5


def test_nested_models_put_their_definitions_at_the_root():
    parameters = length.parameters
    assert parameters["properties"]["line"] == {"$ref": "#/$defs/Line"}
    assert set(parameters["$defs"]) == {"Line", "Point"}
    assert dangling_refs(parameters) == []
    arguments = schema_instance(parameters)
    assert arguments == {"line": {"a": {"x": 1, "y": 1}, "b": {"x": 1, "y": 1}}}
    line = {"a": {"x": 0, "y": 0}, "b": {"x": 3, "y": 4}}
    assert asyncio.run(length.call({"line": line})) == "5.0"


class Shop:
    def __init__(self, stock: int) -> None:
        self.stock = stock

    @tool
    def buy(self, count: int) -> str:
        """Buy from the stock."""
        self.stock -= count
        return f"{self.stock} left"


def test_a_method_tool_has_no_self_parameter_and_binds_to_its_instance():
    assert Shop.buy.parameters == {
        "type": "object",
        "properties": {"count": {"type": "integer"}},
        "required": ["count"],
    }
    first, second = Shop(5), Shop(9)
    assert asyncio.run(first.buy.call({"count": 2})) == "3 left"
    assert asyncio.run(second.buy.call({"count": 1})) == "8 left"
    assert first.stock == 3 and first.buy.schema() == Shop.buy.schema()
