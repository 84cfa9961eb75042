"""The syntax of Kiln's expression language (tags.expressions): its limits, its tokenizer and its parser.

The grammar is in tags.expressions' docstring. The parser builds a tree of plain tuples and tracks both the
nesting of the text and the depth of the tree, so that hostile input ends in an ExpressionError, never in a
RecursionError or an unbounded evaluation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["ExpressionError", "parse", "check_number", "is_number", "MAX_LENGTH", "MAX_DEPTH", "MAX_TREE_DEPTH",
           "MAX_NUMBER", "MAX_STRING", "MAX_ARGS", "NAME_RE", "NAMESPACE_RE"]

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
    check_number(value, pos)
    return value


def is_number(v) -> bool:
    """A number of the language: int or float, never bool (True is no 1 here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_number(value, pos: int | None = None):
    """`value` if it is finite and within ±MAX_NUMBER; ExpressionError (at `pos`) otherwise."""
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
            if tok.value == "-" and operand[0][0] == "lit" and is_number(operand[0][1]):
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


def parse(text: str) -> tuple[tuple, frozenset[tuple[str, str]]]:
    """The tree of `text` and its references {(namespace, name), ...}. ExpressionError on any syntax problem."""
    parser = _Parser(text)
    tree = parser.parse()
    return tree, frozenset(parser.refs)
