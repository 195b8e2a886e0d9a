"""The `calculator` tool: arithmetic by walking the `ast` of an expression (no eval).

Only numbers, + - * / // % **, unary signs, parentheses, a fixed set of math functions and
the constants pi, e, tau are accepted. Since integers are unbounded in Python, every integer
result is capped in size and powers are checked *before* they are computed: `10**10**10`
fails at once instead of hanging the worker thread.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from llmproc.errors import ToolError
from llmproc.tools.base import tool

MAX_EXPRESSION_CHARS = 1000
MAX_DEPTH = 100  # nesting of operations
MAX_INT_BITS = 13_000  # ~3900 decimal digits: stays under Python's int->str limit (4300)

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _round(x: Number, ndigits: int | None = None) -> Number:
    if ndigits is not None and not isinstance(ndigits, int):
        raise ToolError("round(): the number of digits must be an integer")
    return round(x) if ndigits is None else round(x, ndigits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "log": math.log, "log10": math.log10, "log2": math.log2, "exp": math.exp,
    "abs": abs, "round": _round, "floor": math.floor, "ceil": math.ceil, "min": min, "max": max,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_UNSUPPORTED_OPS = {ast.BitXor: "'^' is not supported; use ** for powers",
                    ast.BitAnd: "'&' is not supported", ast.BitOr: "'|' is not supported",
                    ast.LShift: "'<<' is not supported", ast.RShift: "'>>' is not supported",
                    ast.MatMult: "'@' is not supported"}


def _checked(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"unsupported value {value!r}: only real numbers are allowed")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"result too large (more than {MAX_INT_BITS} bits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("result too large (overflow)" if math.isinf(value) else "result is not a number")
    return value


def _power(base: Number, exponent: Number) -> Number:
    # Estimate the size of an integer power before computing it.
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if exponent > MAX_INT_BITS or exponent * (abs(base).bit_length() - 1) > MAX_INT_BITS:
            raise ToolError(f"result too large: {base}**{exponent} has more than {MAX_INT_BITS} bits")
    result = base**exponent
    if isinstance(result, complex):
        raise ToolError("complex result: a negative number to a fractional power is not supported")
    return result


def _name(node: ast.expr) -> str | None:
    """`sqrt` or `math.sqrt` -> "sqrt"; anything else -> None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math":
        return node.attr
    return None


def _eval(node: ast.expr, depth: int = 0) -> Number:
    if depth > MAX_DEPTH:
        raise ToolError("expression too deeply nested")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, complex):
            raise ToolError("complex numbers are not supported")
        return _checked(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval(node.operand, depth + 1)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        if type(node.op) in _UNSUPPORTED_OPS:
            raise ToolError(_UNSUPPORTED_OPS[type(node.op)])
        left, right = _eval(node.left, depth + 1), _eval(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        return _checked(_BINARY[type(node.op)](left, right))
    name = _name(node)
    if name is not None:  # a name, or math.<name>
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in _FUNCTIONS:
            raise ToolError(f"{name} is a function: call it like {name}(x)")
        raise ToolError(f"unknown name {name!r}; constants: {', '.join(_CONSTANTS)}")
    if isinstance(node, ast.Call):
        name = _name(node.func)
        if name not in _FUNCTIONS:
            shown = name or ast.unparse(node.func)
            raise ToolError(f"unknown function {shown!r}; available: {', '.join(_FUNCTIONS)}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ToolError(f"{name}() takes plain positional arguments only")
        args = [_eval(a, depth + 1) for a in node.args]
        try:
            return _checked(_FUNCTIONS[name](*args))
        except TypeError as err:
            raise ToolError(f"bad call to {name}(): {err}") from None
        except ValueError as err:
            raise ToolError(f"{name}(): {err}") from None
    raise ToolError(f"unsupported syntax: {ast.unparse(node)!r} (only arithmetic is allowed)")


def evaluate(expression: str) -> Number:
    """Evaluate an arithmetic expression safely; raise ToolError with a clear reason."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"expression too long ({len(expression)} characters, limit {MAX_EXPRESSION_CHARS})")
    if not expression.strip():
        raise ToolError("empty expression")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as err:
        raise ToolError(f"invalid expression: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ToolError("expression too deeply nested") from None
    try:
        return _eval(tree.body)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("result too large (overflow)") from None
    except RecursionError:
        raise ToolError("expression too deeply nested") from None


def format_number(value: Number) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@tool(read_only=True)
async def calculator(expression: str) -> str:  # async: bounded CPU work, cheaper inline than in a thread
    """Evaluate an arithmetic expression and return the result.

    Supports + - * / // % ** (power), parentheses, unary minus, numbers such as 42, 3.5 or
    1e-3, the functions sqrt, sin, cos, tan, asin, acos, atan, log (natural, or log(x, base)),
    log10, log2, exp, abs, round, floor, ceil, min, max, and the constants pi, e and tau.

    Args:
        expression: The expression, for example "(2 + 3) * sqrt(16) / 7".
    """
    return format_number(evaluate(expression))
