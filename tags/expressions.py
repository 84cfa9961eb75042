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
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ExpressionError", "Expression", "compile", "MAX_LENGTH", "MAX_DEPTH", "MAX_TREE_DEPTH", "MAX_NUMBER",
           "MAX_STRING"]

MAX_LENGTH = 1000  # characters of expression text
MAX_DEPTH = 32  # nesting of parentheses, unary operators, ternaries and calls
MAX_TREE_DEPTH = 100  # depth of the built tree (long a+b+c chains); keeps the recursive evaluation bounded
MAX_NUMBER = 1e308  # any literal, referenced value or intermediate result beyond this is refused
MAX_STRING = 10_000  # characters of any string value (referenced or built by +)
MAX_ARGS = 16

NAME_RE = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
NAMESPACE_RE = r"[A-Za-z][A-Za-z0-9_]{0,31}"


class ExpressionError(Exception):
    """The expression cannot be parsed or evaluated; `message` says why (and `position` where, if known)."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} (at position {position})")


# --- tokens ---------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<ref>\{\s*(?P<ns>"""
    + NAMESPACE_RE
    + r""")\s*\.\s*(?P<name>"""
    + NAME_RE
    + r""")\s*\})
  | (?P<op>&&|\|\||==|!=|<=|>=|[<>!+\-*/%?:(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)

_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
_FUNCTIONS = {"abs": (1, 1), "min": (1, MAX_ARGS), "max": (1, MAX_ARGS)}


@dataclass(slots=True, frozen=True)
class _Token:
    kind: str  # number, string, ref, op, ident, end
    value: object
    pos: int


def _unescape(body: str, pos: int) -> str:
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]  # the token pattern guarantees a character after a backslash
            if nxt not in _ESCAPES:
                raise ExpressionError(f"Unknown escape sequence '\\{nxt}' in string", pos + i + 1)
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _number(text: str, pos: int) -> int | float:
    if re.fullmatch(r"\d+", text):
        if len(text) > 309:  # more digits than any number up to 1e308 has; don't even convert it
            raise ExpressionError(f"Number {text[:20]}... is too large (limit {MAX_NUMBER:g})", pos)
        value: int | float = int(text)
    else:
        value = float(text)
    _check_number(value, pos)
    return value


def _check_number(value, pos: int | None = None):
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("Number is not finite (overflow or NaN)", pos)
    if abs(value) > MAX_NUMBER:
        raise ExpressionError(f"Number is too large (limit {MAX_NUMBER:g})", pos)
    return value


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch == "{":
                raise ExpressionError("Malformed reference; expected {namespace.Name}, e.g. {tags.Running}", pos)
            if ch in "'\"":
                raise ExpressionError("Unterminated string", pos)
            raise ExpressionError(f"Unexpected character {ch!r}", pos)
        kind = m.lastgroup  # the outermost group of the alternative that matched ("ref", not "ns"/"name")
        if kind == "number":
            tokens.append(_Token("number", _number(m.group("number"), pos), pos))
        elif kind == "string":
            raw = m.group("string")
            tokens.append(_Token("string", _unescape(raw[1:-1], pos + 1), pos))
        elif kind == "ref":
            tokens.append(_Token("ref", (m.group("ns"), m.group("name")), pos))
        elif kind == "op":
            tokens.append(_Token("op", m.group("op"), pos))
        elif kind == "ident":
            word = m.group("ident")
            if word in ("true", "false"):
                tokens.append(_Token("bool", word == "true", pos))
            elif word in _FUNCTIONS:
                tokens.append(_Token("func", word, pos))
            else:
                raise ExpressionError(
                    f"Unknown name {word[:40]!r}: only true, false, abs, min and max are names; "
                    "references are written in braces, e.g. {tags.Running}",
                    pos,
                )
        pos = m.end()
    tokens.append(_Token("end", None, n))
    return tokens


# --- tree -----------------------------------------------------------------------------------------------
# Nodes are plain tuples: ("lit", value) ("ref", ns, name) ("not", x) ("neg", x) ("bin", op, a, b)
# ("and", a, b) ("or", a, b) ("if", cond, a, b) ("call", fname, args). Tuples are immutable, so a cached
# Expression can be shared between threads.


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.i = 0
        self.nesting = 0
        self.refs: set[tuple[str, str]] = set()

    # The tree's depth is tracked as nodes are built, so evaluation (which recurses) stays bounded too.
    @staticmethod
    def _make(node: tuple, *children: tuple[tuple, int]) -> tuple[tuple, int]:
        depth = 1 + max((d for _, d in children), default=0)
        if depth > MAX_TREE_DEPTH:
            raise ExpressionError(f"Expression is too complex (tree depth limit {MAX_TREE_DEPTH})")
        return node, depth

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == "op" and tok.value in ops

    def expect(self, op: str) -> _Token:
        tok = self.next()
        if tok.kind != "op" or tok.value != op:
            raise ExpressionError(f"Expected {op!r} but found {_describe(tok)}", tok.pos)
        return tok

    def enter(self, pos: int):
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise ExpressionError(f"Expression is nested too deeply (limit {MAX_DEPTH})", pos)

    def leave(self):
        self.nesting -= 1

    def parse(self):
        node, _ = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"Unexpected {_describe(tok)} after the end of the expression", tok.pos)
        return node

    def expr(self):
        cond = self.or_()
        if not self.at_op("?"):
            return cond
        tok = self.next()
        self.enter(tok.pos)
        then = self.expr()
        self.expect(":")
        other = self.expr()
        self.leave()
        return self._make(("if", cond[0], then[0], other[0]), cond, then, other)

    def _binary_chain(self, sub, ops: tuple[str, ...], kind=None):
        left = sub()
        while self.at_op(*ops):
            op = self.next().value
            right = sub()
            node = (kind, left[0], right[0]) if kind else ("bin", op, left[0], right[0])
            left = self._make(node, left, right)
        return left

    def or_(self):
        return self._binary_chain(self.and_, ("||",), "or")

    def and_(self):
        return self._binary_chain(self.eq, ("&&",), "and")

    def eq(self):
        return self._binary_chain(self.rel, ("==", "!="))

    def rel(self):
        return self._binary_chain(self.add, ("<", "<=", ">", ">="))

    def add(self):
        return self._binary_chain(self.mul, ("+", "-"))

    def mul(self):
        return self._binary_chain(self.unary, ("*", "/", "%"))

    def unary(self):
        if self.at_op("!", "-"):
            tok = self.next()
            self.enter(tok.pos)
            operand = self.unary()
            self.leave()
            if tok.value == "-" and operand[0][0] == "lit" and _is_number(operand[0][1]):
                return ("lit", -operand[0][1]), operand[1]  # fold -5 into a literal
            return self._make(("not" if tok.value == "!" else "neg", operand[0]), operand)
        return self.primary()

    def primary(self):
        tok = self.next()
        if tok.kind in ("number", "string", "bool"):
            return ("lit", tok.value), 1
        if tok.kind == "ref":
            self.refs.add(tok.value)
            return ("ref", *tok.value), 1
        if tok.kind == "func":
            return self.call(tok)
        if tok.kind == "op" and tok.value == "(":
            self.enter(tok.pos)
            inner = self.expr()
            self.expect(")")
            self.leave()
            return inner
        if tok.kind == "end":
            raise ExpressionError("Unexpected end of expression", tok.pos)
        raise ExpressionError(f"Unexpected {_describe(tok)}", tok.pos)

    def call(self, tok: _Token):
        self.expect("(")
        self.enter(tok.pos)
        args = [self.expr()]
        while self.at_op(","):
            self.next()
            args.append(self.expr())
        self.expect(")")
        self.leave()
        lo, hi = _FUNCTIONS[tok.value]
        if not lo <= len(args) <= hi:
            takes = f"exactly {lo} argument" if lo == hi else f"{lo} to {hi} arguments"
            raise ExpressionError(f"{tok.value}() takes {takes}, got {len(args)}", tok.pos)
        return self._make(("call", tok.value, tuple(a[0] for a in args)), *args)


def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return "end of expression"
    if tok.kind == "ref":
        return f"reference {{{tok.value[0]}.{tok.value[1]}}}"
    if tok.kind == "string":
        return "string"
    return repr(tok.value) if tok.kind != "op" else f"'{tok.value}'"


# --- evaluation -----------------------------------------------------------------------------------------


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _kind(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if _is_number(v):
        return "number"
    if isinstance(v, str):
        return "string"
    return type(v).__name__


def _want_bool(v, what: str) -> bool:
    if not isinstance(v, bool):
        raise ExpressionError(f"{what} needs a boolean, got {_kind(v)} {_short(v)}")
    return v


def _want_number(v, what: str):
    if not _is_number(v):
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
    return _check_number(r)


def _compare(op: str, a, b) -> bool:
    if op in ("==", "!="):
        same = (_is_number(a) and _is_number(b)) or (type(a) is type(b) and isinstance(a, (bool, str)))
        if not same:
            raise ExpressionError(f"Cannot compare {_kind(a)} with {_kind(b)} using '{op}'")
        return (a == b) if op == "==" else (a != b)
    if not ((_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
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
    if _is_number(value):
        try:
            return _check_number(value)
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
        return _check_number(-_want_number(_eval(node[1], context), "unary '-'"))
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
            return _check_number(abs(args[0]))
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
    parser = _Parser(text)
    tree = parser.parse()
    if namespaces is not None:
        for ns, name in sorted(parser.refs):
            if ns not in namespaces:
                allowed = ", ".join(sorted(namespaces)) or "none"
                raise ExpressionError(f"Unknown namespace '{ns}' in {{{ns}.{name}}} (allowed: {allowed})")
    return Expression(text, tree, frozenset(parser.refs))


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
