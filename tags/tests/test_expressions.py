"""The safe expression evaluator: grammar, types, limits, and hostile input (never a crash, never code)."""

import builtins
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tags import expressions
from tags.expressions import MAX_DEPTH, MAX_LENGTH, ExpressionError
from tags.expressions import compile as compile_expr

CTX = {
    "tags": {"Running": True, "Faulted": False, "Speed": 1485.2, "Count": 7, "Mode": "auto", "Missing": None},
    "params": {"speed": 1600.0},
}


def ev(text, ctx=CTX):
    return compile_expr(text).evaluate(ctx)


# --- grammar and semantics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!{tags.Running}", False),
        ("{tags.Speed} < 1500 && !{tags.Faulted}", True),
        ("{tags.Speed} >= 1500 || {tags.Faulted}", False),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left-associative
        ("7 / 2", 3.5),
        ("-7 % 3", -1),  # remainder keeps the dividend's sign, as IEC 61131 MOD does
        ("7.5 % 2", 1.5),
        ("-{tags.Count}", -7),
        ("!!true", True),
        ("1 == 1.0", True),
        ("'a' != 'b'", True),
        ("'ab' < 'b'", True),
        ("'x' + \"y\"", "xy"),
        ("'it\\'s'", "it's"),
        ("{tags.Mode} == 'auto'", True),
        ("true ? 1 : 2", 1),
        ("false ? 1 : true ? 2 : 3", 2),  # right-associative
        ("{tags.Faulted} ? 'faulted' : ({tags.Running} ? 'running' : 'stopped')", "running"),
        ("abs(-2.5)", 2.5),
        ("min(3, {tags.Count}, 9)", 3),
        ("max({params.speed}, 10)", 1600.0),
        ("1e3", 1000.0),
        (".5 + 1.", 1.5),
        ("  { tags . Running }  ", True),
    ],
)
def test_it_evaluates_the_grammar(text, expected):
    result = ev(text)
    assert result == expected and type(result) is type(expected)


def test_it_lists_the_references():
    expr = compile_expr("{tags.Speed} < {params.speed} && !{tags.Faulted} && {tags.Speed} > 0")
    assert expr.references == frozenset({("tags", "Speed"), ("params", "speed"), ("tags", "Faulted")})
    assert expr.names("tags") == frozenset({"Speed", "Faulted"})


def test_it_caches_compiled_expressions():
    assert compile_expr("{tags.Speed} > 1") is compile_expr("{tags.Speed} > 1")


def test_it_short_circuits_so_the_other_side_is_not_needed():
    assert ev("{tags.Faulted} && {tags.Nope}") is False
    assert ev("{tags.Running} || {tags.Nope}") is True
    assert ev("true ? 1 : {tags.Nope}") == 1


def test_it_restricts_namespaces_when_asked():
    with pytest.raises(ExpressionError, match="Unknown namespace 'alarm'"):
        compile_expr("{alarm.x} > 1", namespaces={"tags", "params"})
    assert compile_expr("{tags.Speed} > 1", namespaces={"tags"}).evaluate(CTX) is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{tags.Nope}", "Unknown tag 'Nope' in {tags.Nope}"),
        ("{params.nope} > 1", "Unknown parameter 'nope'"),
        ("{other.x}", "Unknown namespace 'other'"),
        ("{tags.Missing} > 1", "{tags.Missing} has no value"),
        ("!{tags.Speed}", "'!' needs a boolean, got number"),
        ("{tags.Speed} && true", "'&&' needs a boolean"),
        ("1 ? 2 : 3", "condition of '?:' needs a boolean"),
        ("true + 1", "'+' needs numbers, got boolean"),
        ("'a' - 'b'", "'-' needs numbers, got string"),
        ("{tags.Running} == 1", "Cannot compare boolean with number"),
        ("'a' < 1", "'<' needs two numbers or two strings"),
        ("1 / 0", "Division by zero"),
        ("5 % 0", "Division by zero"),
        ("1e308 * 10", "not finite"),
        ("1e308 + 1e308", "not finite"),
        ("abs('x')", "abs() needs numbers"),
    ],
)
def test_it_reports_evaluation_errors_clearly(text, message):
    with pytest.raises(ExpressionError) as info:
        ev(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Expression is empty"),
        ("   ", "Expression is empty"),
        ("1 +", "Unexpected end of expression"),
        ("(1", "Expected ')'"),
        ("1 2", "Unexpected 2 after the end"),
        ("'abc", "Unterminated string"),
        ("'\\q'", "Unknown escape sequence"),
        ("{tags.}", "Malformed reference"),
        ("{tags}", "Malformed reference"),
        ("true ? 1", "Expected ':'"),
        ("min()", "Unexpected ')'"),
        ("max(" + ",".join(["1"] * 17) + ")", "max() takes 1 to 16 arguments, got 17"),
        ("abs(1, 2)", "abs() takes exactly 1 argument, got 2"),
        ("foo(1)", "Unknown name 'foo'"),
        ("1 = 1", "Unexpected character '='"),
        ("1 & 1", "Unexpected character '&'"),
        ("1e400", "not finite"),
        ("9" * 400, "too large"),
    ],
)
def test_it_reports_syntax_errors_clearly(text, message):
    with pytest.raises(ExpressionError) as info:
        compile_expr(text)
    assert message in str(info.value)


def test_it_gives_the_position_of_a_syntax_error():
    with pytest.raises(ExpressionError) as info:
        compile_expr("{tags.Speed} > $")
    assert info.value.position == 15


def test_it_rejects_non_text():
    with pytest.raises(ExpressionError, match="must be text"):
        compile_expr(42)


def test_it_refuses_referenced_values_it_cannot_hold():
    for bad in (float("nan"), float("inf"), 10**400, [1], {"a": 1}, object(), "x" * 20_000):
        with pytest.raises(ExpressionError):
            compile_expr("{tags.X} == {tags.X}").evaluate({"tags": {"X": bad}})


def test_it_refuses_a_context_that_is_not_a_mapping():
    with pytest.raises(ExpressionError, match="mapping"):
        compile_expr("{tags.X}").evaluate([("tags", {"X": 1})])


def test_it_requires_a_boolean_for_a_condition():
    assert compile_expr("{tags.Running}").evaluate_condition(CTX) is True
    with pytest.raises(ExpressionError, match="Condition must be true or false, got number"):
        compile_expr("{tags.Speed}").evaluate_condition(CTX)


# --- limits and hostile input ---------------------------------------------------------------------------


def test_it_limits_the_length():
    with pytest.raises(ExpressionError, match=f"limit {MAX_LENGTH}"):
        compile_expr("1" + " + 1" * MAX_LENGTH)


def test_it_limits_nesting_of_parentheses_and_unary_operators():
    assert ev("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH) == 1
    for text in ("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1), "!" * 100 + "true", "-" * 100 + "1",
                 "true ? " * 40 + "1" + " : 2" * 40, "abs(" * 40 + "1" + ")" * 40, "(" * 500):
        with pytest.raises(ExpressionError, match="nested too deeply"):
            compile_expr(text)


def test_it_limits_the_depth_of_long_operator_chains():
    assert ev(" + ".join(["1"] * 50)) == 50
    with pytest.raises(ExpressionError, match="too complex"):
        compile_expr("+".join(["1"] * 300))


def test_it_limits_string_growth():
    big = "x" * 6000
    with pytest.raises(ExpressionError, match="too long"):
        compile_expr("{tags.A} + {tags.A}").evaluate({"tags": {"A": big}})


@pytest.mark.parametrize(
    "text",
    [
        "{tags.__class__}",
        "{tags.Running}.__globals__",
        "{tags.Running}.__class__.__mro__",
        "__import__('os').system('touch /tmp/kiln-pwned')",
        "eval('1')",
        "exec('import os')",
        "open('/etc/passwd')",
        "().__class__.__bases__[0].__subclasses__()",
        "lambda: 1",
        "[x for x in (1,)]",
        "{tags.Running} if True else 0",
        "os.system('id')",
        "getattr(1, 'real')",
        "{__builtins__.open}",
        "{tags.Running}[0]",
        "'a'.upper()",
        "min.__self__",
        "abs",
        "1; import os",
        "{tags.Running} and not {tags.Faulted}",
    ],
)
def test_it_refuses_attempts_at_code(text):
    with pytest.raises(ExpressionError):
        compile_expr(text).evaluate(CTX)


def test_it_never_calls_eval_exec_or_compile(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the evaluator must never call eval/exec/compile")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    expressions._compile_cached.cache_clear()
    assert compile_expr("{tags.Speed} * 2 > 100 && !{tags.Faulted}").evaluate(CTX) is True


def test_it_looks_up_references_as_keys_not_attributes():
    class Sneaky(dict):
        def __getattr__(self, name):
            raise AssertionError(f"attribute access {name}")

    assert compile_expr("{tags.keys} == 1").evaluate({"tags": Sneaky(keys=1)}) is True
    with pytest.raises(ExpressionError, match="Unknown tag 'items'"):
        compile_expr("{tags.items}").evaluate({"tags": Sneaky()})


HOSTILE_ALPHABET = list("{}()[]'\"\\.,:;?!&|=<>+-*/%^~`@#$ _0123456789eE") + [
    "{tags.", "{params.", "tags", "Running}", "Speed}", "__class__", "__globals__", "__import__", "os",
    "true", "false", "abs(", "min(", "max(", "1e308", "1e309", "9" * 30, "&&", "||", "==", "!=", "<=", ">=",
    "lambda", "eval", "\n", "\t", "\x00", "é", "😀",
]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(HOSTILE_ALPHABET), max_size=80).map("".join))
def test_it_never_raises_anything_but_expression_error_on_hostile_input(text):
    try:
        value = compile_expr(text).evaluate(CTX)
    except ExpressionError:
        return
    assert isinstance(value, (bool, int, float, str))
    if isinstance(value, float):
        assert math.isfinite(value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=1200))
def test_it_survives_arbitrary_unicode(text):
    try:
        compile_expr(text).evaluate(CTX)
    except ExpressionError:
        pass


@settings(max_examples=200, deadline=None)
@given(depth=st.integers(min_value=1, max_value=400), opener=st.sampled_from(["(", "!", "-", "abs(", "true ? "]))
def test_it_survives_deep_nesting(depth, opener):
    closer = {"(": ")", "!": "", "-": "", "abs(": ")", "true ? ": " : 0"}[opener]
    text = opener * depth + ("true" if opener == "!" else "1") + closer * depth
    try:
        value = compile_expr(text).evaluate(CTX)
    except ExpressionError as exc:
        assert "too" in str(exc)  # too long, too deeply nested or too complex
    else:
        assert depth <= MAX_DEPTH and value is not None


# A tiny independent model of the language over numbers and booleans: hypothesis builds a tree, the test
# renders it to text and computes the expected value itself; the evaluator must agree.
_leaf = st.one_of(
    st.integers(min_value=-1000, max_value=1000).map(lambda n: (str(n) if n >= 0 else f"({n})", n)),
    st.booleans().map(lambda b: ("true" if b else "false", b)),
    st.sampled_from([("{tags.Count}", 7), ("{tags.Running}", True), ("{tags.Faulted}", False)]),
)


def _combine(children):
    def build(args):
        op, (ta, va), (tb, vb) = args
        num = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        if op in ("+", "-", "*"):
            if not (num(va) and num(vb)):
                return None
            return f"({ta} {op} {tb})", {"+": va + vb, "-": va - vb, "*": va * vb}[op]
        if op in ("<", ">="):
            if not (num(va) and num(vb)):
                return None
            return f"({ta} {op} {tb})", (va < vb) if op == "<" else (va >= vb)
        if op in ("&&", "||"):
            if not (isinstance(va, bool) and isinstance(vb, bool)):
                return None
            return f"({ta} {op} {tb})", (va and vb) if op == "&&" else (va or vb)
        if op == "!":
            return (f"!{ta}", not va) if isinstance(va, bool) else None
        return None

    return st.tuples(st.sampled_from(["+", "-", "*", "<", ">=", "&&", "||", "!"]), children, children).map(
        build).filter(lambda x: x is not None)


@settings(max_examples=400, deadline=None)
@given(st.recursive(_leaf, _combine, max_leaves=12))
def test_it_agrees_with_an_independent_model(case):
    text, expected = case
    value = compile_expr(text).evaluate(CTX)
    assert value == expected and type(value) is type(expected)
