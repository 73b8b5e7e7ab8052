"""The calculator agent: four arithmetic tools and the standard tool loop.

The tools are `async def` because they never block: they run on the event loop
without a hop to a worker thread (a plain `def` tool would run in one).
"""

from rolloutctl import ToolLoopAgent, tool


def _number(value: float) -> str:
    """Integral results print without a trailing `.0`, as PROTOCOL.md fixes."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@tool
async def add(a: float, b: float) -> str:
    """Add two numbers and return a + b."""
    return _number(a + b)


@tool
async def subtract(a: float, b: float) -> str:
    """Subtract b from a and return a - b."""
    return _number(a - b)


@tool
async def multiply(a: float, b: float) -> str:
    """Multiply two numbers and return a * b."""
    return _number(a * b)


@tool
async def divide(a: float, b: float) -> str:
    """Divide a by b and return a / b; b must not be zero."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return _number(a / b)


class Calculator(ToolLoopAgent):
    name = "calculator"
    tool_list = (add, subtract, multiply, divide)


agent = Calculator()
