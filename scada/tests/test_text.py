"""scada.text: the NUL check of the write paths and the form refused attempts take in the audit trail."""

import math

from scada.text import has_nul, printable


def test_it_finds_a_nul_anywhere_in_a_json_value_keys_included():
    assert has_nul("a\x00b")
    assert has_nul({"ok": ["x", {"deep\x00key": 1}]})
    assert not has_nul({"ok": ["x", {"key": 1.5, "n": None}]})


def test_it_finds_a_nul_in_a_value_nested_past_the_recursion_limit():
    value = "\x00"
    for _ in range(5000):
        value = [value]
    assert has_nul(value)


def test_it_keeps_json_scalars_and_cuts_text_to_the_limit():
    assert printable(None) is None
    assert printable(True) is True
    assert printable(42) == 42
    assert printable(1.5) == 1.5
    assert printable("x" * 2000) == "x" * 1000
    assert printable("abc", limit=2) == "ab"


def test_it_escapes_nul_containers_and_non_finite_floats_as_their_repr():
    assert printable("a\x00b") == "'a\\x00b'"
    assert printable(["a", 1]) == "['a', 1]"
    assert printable(math.nan) == "nan"
    assert printable(math.inf) == "inf"
    assert len(printable(["y" * 5000])) == 1000
