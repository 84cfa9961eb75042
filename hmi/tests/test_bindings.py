"""Binding validation: shapes the browser can apply without further checks."""

import pytest

from hmi.bindings import BindingError, binding_tag_names, bindings_validate

IDS = {"a", "b"}


def test_it_accepts_every_kind():
    bindings = [
        {"element": "a", "kind": "text", "tag": "T1", "decimals": 2, "labels": {True: "ON"}},
        {"element": "a", "kind": "color", "tag": "T1", "ranges": [{"below": 10, "color": "#f00"}, {"color": "green"}]},
        {"element": "a", "kind": "color", "tag": "T2", "states": {"true": "#2e7d32"}, "attribute": "stroke"},
        {"element": "b", "kind": "fill", "tag": "T1", "min": 0, "max": 100, "direction": "right"},
        {"element": "b", "kind": "visible", "tag": "T2", "when": True},
        {"element": "b", "kind": "rotate", "tag": "T1", "min": 0, "max": 3000, "degrees": 360},
        {"element": "b", "kind": "click", "action": "screen", "screen": "other"},
        {"element": "b", "kind": "click", "action": "command", "device": "pump-01", "command": "start"},
    ]
    out = bindings_validate(bindings, ids=IDS)
    assert out[0]["labels"] == {"true": "ON"}
    assert binding_tag_names(out) == ["T1", "T2"]


@pytest.mark.parametrize("binding,message", [
    ({"element": "zz", "kind": "text", "tag": "T"}, "no element with id 'zz'"),
    ({"element": "a", "kind": "blink", "tag": "T"}, "'kind' must be one of"),
    ({"element": "a", "kind": "text"}, "'tag' is required"),
    ({"element": "a", "kind": "text", "tag": "1bad name"}, "not a valid tag name"),
    ({"element": "a", "kind": "text", "tag": "T", "decimals": 9}, "'decimals'"),
    ({"element": "a", "kind": "color", "tag": "T", "states": {"1": "url(http://x)"}}, "must be a colour"),
    ({"element": "a", "kind": "color", "tag": "T"}, "either 'ranges' or 'states'"),
    ({"element": "a", "kind": "color", "tag": "T", "ranges": [{"below": 5, "color": "red"},
                                                              {"below": 1, "color": "blue"}]}, "increasing"),
    ({"element": "a", "kind": "fill", "tag": "T", "min": 5, "max": 1}, "'min' must be less than 'max'"),
    ({"element": "a", "kind": "click", "action": "command", "device": "pump-01"}, "'command'"),
    ({"element": "a", "kind": "click", "action": "launch"}, "'action' must be one of"),
    ({"element": "a", "kind": "text", "tag": "T", "onclick": "x"}, "unknown keys"),
])
def test_it_rejects_bad_bindings_with_a_clear_message(binding, message):
    with pytest.raises(BindingError) as info:
        bindings_validate([binding], ids=IDS)
    assert any(message in e for e in info.value.errors), info.value.errors


def test_it_rejects_a_non_list():
    with pytest.raises(BindingError, match="JSON list"):
        bindings_validate({"element": "a"}, ids=IDS)
