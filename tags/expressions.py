"""A small, safe expression language for device preconditions, command actions, statuses and alarm conditions.

    !{tags.Running}
    {tags.Speed} < 1500 && !{tags.Faulted}
    {tags.Faulted} ? 'faulted' : ({tags.Running} ? 'running' : 'stopped')
    {params.speed} * 0.5

A real tokenizer and a recursive-descent parser build a tree of a handful of node types; evaluation walks that
tree. Nothing here calls eval/exec/compile or getattr: a reference `{ns.name}` is a dictionary lookup in the
evaluation context, and the only calls are the whitelisted functions abs, min and max. Every way in which
hostile input can misbehave (length, nesting, huge numbers, unknown references, wrong types, division by zero)
ends in an ExpressionError with a message an engineer can act on.

Grammar (lowest precedence first; binary operators are left-associative, ?: is right-associative):

    expr     := or ( '?' expr ':' expr )?
    or       := and ( '||' and )*
    and      := eq ( '&&' eq )*
    eq       := rel ( ( '==' | '!=' ) rel )*
    rel      := add ( ( '<' | '<=' | '>' | '>=' ) add )*
    add      := mul ( ( '+' | '-' ) mul )*
    mul      := unary ( ( '*' | '/' | '%' ) unary )*
    unary    := ( '!' | '-' ) unary | primary
    primary  := NUMBER | STRING | 'true' | 'false' | REF | FUNC '(' expr ( ',' expr )* ')' | '(' expr ')'
    REF      := '{' NAMESPACE '.' NAME '}'

Types are strict, as a PLC programmer would expect: !, &&, || and the ?: condition want booleans; arithmetic
and ordering want numbers (+ also joins two strings); == and != compare values of the same kind.

API (also used by alarms for suppress-by-design conditions):

    expr = compile("{tags.Speed} < 1500")      # ExpressionError on bad syntax; parsed trees are cached
    expr.references                             # frozenset({("tags", "Speed")})
    expr.evaluate({"tags": {"Speed": 1200.0}})  # True; ExpressionError on unknown refs, wrong types, ...
    expr.evaluate_condition(context)            # like evaluate, but the result must be a boolean

The tokenizer, the parser and the limits are tags.expression_syntax; this module evaluates and compiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

from tags.expression_syntax import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NUMBER,
    MAX_STRING,
    MAX_TREE_DEPTH,
    ExpressionError,
    check_number,
    is_number,
    parse,
)

__all__ = ["ExpressionError", "Expression", "compile", "MAX_LENGTH", "MAX_DEPTH", "MAX_TREE_DEPTH", "MAX_NUMBER",
           "MAX_STRING"]


# --- evaluation -----------------------------------------------------------------------------------------

def _kind(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if is_number(v):
        return "number"
    if isinstance(v, str):
        return "string"
    return type(v).__name__


def _want_bool(v, what: str) -> bool:
    if not isinstance(v, bool):
        raise ExpressionError(f"{what} needs a boolean, got {_kind(v)} {_short(v)}")
    return v


def _want_number(v, what: str):
    if not is_number(v):
        raise ExpressionError(f"{what} needs numbers, got {_kind(v)} {_short(v)}")
    return v


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _arith(op: str, a, b):
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_STRING:
            raise ExpressionError(f"String result is too long (limit {MAX_STRING} characters)")
        return a + b
    _want_number(a, f"'{op}'")
    _want_number(b, f"'{op}'")
    if op in ("/", "%") and b == 0:
        raise ExpressionError("Division by zero")
    try:
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op == "/":
            r = a / b
        elif isinstance(a, float) or isinstance(b, float):
            r = math.fmod(a, b)
        else:
            # The remainder takes the dividend's sign (IEC 61131 MOD, and math.fmod for REALs), not Python's.
            r = a % b
            if r and (a < 0) != (b < 0):
                r -= b
    except OverflowError:
        raise ExpressionError("Arithmetic overflow")
    return check_number(r)


def _compare(op: str, a, b) -> bool:
    if op in ("==", "!="):
        same = (is_number(a) and is_number(b)) or (type(a) is type(b) and isinstance(a, (bool, str)))
        if not same:
            raise ExpressionError(f"Cannot compare {_kind(a)} with {_kind(b)} using '{op}'")
        return (a == b) if op == "==" else (a != b)
    if not ((is_number(a) and is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
        raise ExpressionError(f"'{op}' needs two numbers or two strings, got {_kind(a)} and {_kind(b)}")
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _lookup(context: Mapping, ns: str, name: str):
    scope = context.get(ns)
    if not isinstance(scope, Mapping):
        raise ExpressionError(f"Unknown namespace '{ns}' in {{{ns}.{name}}}")
    if name not in scope:
        noun = {"tags": "tag", "params": "parameter"}.get(ns, "name")
        raise ExpressionError(f"Unknown {noun} '{name}' in {{{ns}.{name}}}")
    value = scope[name]
    if value is None:
        raise ExpressionError(f"{{{ns}.{name}}} has no value")
    if isinstance(value, bool):
        return value
    if is_number(value):
        try:
            return check_number(value)
        except ExpressionError:
            raise ExpressionError(f"{{{ns}.{name}}} is not a finite number within ±{MAX_NUMBER:g}")
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ExpressionError(f"{{{ns}.{name}}} is too long a string (limit {MAX_STRING} characters)")
        return value
    raise ExpressionError(f"{{{ns}.{name}}} holds a {type(value).__name__}, not a boolean, number or string")


def _eval(node, context: Mapping):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ref":
        return _lookup(context, node[1], node[2])
    if kind == "not":
        return not _want_bool(_eval(node[1], context), "'!'")
    if kind == "neg":
        return check_number(-_want_number(_eval(node[1], context), "unary '-'"))
    if kind == "and":
        # Short-circuit, like the PLC languages: the right side is only evaluated (and type-checked) if needed.
        return _want_bool(_eval(node[1], context), "'&&'") and _want_bool(_eval(node[2], context), "'&&'")
    if kind == "or":
        return _want_bool(_eval(node[1], context), "'||'") or _want_bool(_eval(node[2], context), "'||'")
    if kind == "if":
        cond = _want_bool(_eval(node[1], context), "the condition of '?:'")
        return _eval(node[2] if cond else node[3], context)
    if kind == "bin":
        op = node[1]
        a = _eval(node[2], context)
        b = _eval(node[3], context)
        if op in ("+", "-", "*", "/", "%"):
            return _arith(op, a, b)
        return _compare(op, a, b)
    if kind == "call":
        args = [_want_number(_eval(arg, context), f"{node[1]}()") for arg in node[2]]
        if node[1] == "abs":
            return check_number(abs(args[0]))
        return min(args) if node[1] == "min" else max(args)
    raise ExpressionError(f"Unknown node {kind!r}")  # pragma: no cover - the parser builds no other kind


class Expression:
    """A compiled expression: immutable, shareable, cached by its text. Evaluate with a context of namespaces."""

    __slots__ = ("text", "_tree", "references")

    def __init__(self, text: str, tree: tuple, references: frozenset[tuple[str, str]]):
        self.text = text
        self._tree = tree
        self.references = references  # {(namespace, name), ...} every reference that may be read

    def __repr__(self):
        return f"Expression({self.text!r})"

    def names(self, namespace: str) -> frozenset[str]:
        """The names referenced in one namespace, e.g. names('tags') → {'Running', 'Speed'}."""
        return frozenset(name for ns, name in self.references if ns == namespace)

    def evaluate(self, context: Mapping[str, Mapping[str, object]]):
        """The value (bool, int, float or str). ExpressionError for unknown references, wrong types, overflow."""
        if not isinstance(context, Mapping):
            raise ExpressionError("The evaluation context must be a mapping of namespaces")
        return _eval(self._tree, context)

    def evaluate_condition(self, context: Mapping[str, Mapping[str, object]]) -> bool:
        """Like evaluate(), for conditions: anything but true/false is an ExpressionError."""
        value = self.evaluate(context)
        if not isinstance(value, bool):
            raise ExpressionError(f"Condition must be true or false, got {_kind(value)} {_short(value)}")
        return value


@lru_cache(maxsize=2048)
def _compile_cached(text: str, namespaces: frozenset[str] | None) -> Expression:
    tree, refs = parse(text)
    if namespaces is not None:
        for ns, name in sorted(refs):
            if ns not in namespaces:
                allowed = ", ".join(sorted(namespaces)) or "none"
                raise ExpressionError(f"Unknown namespace '{ns}' in {{{ns}.{name}}} (allowed: {allowed})")
    return Expression(text, tree, refs)


def compile(text: str, *, namespaces: frozenset[str] | set[str] | None = None) -> Expression:  # noqa: A001
    """Parse `text` into an Expression (cached). ExpressionError for anything that is not a valid expression.

    `namespaces` restricts which reference namespaces may appear (e.g. {"tags", "params"}), so a typo in a
    device type's configuration is caught when it is saved, not when an operator presses the button.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"An expression must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"Expression is too long ({len(text)} characters; limit {MAX_LENGTH})")
    if not text.strip():
        raise ExpressionError("Expression is empty")
    return _compile_cached(text, frozenset(namespaces) if namespaces is not None else None)
