"""The one CSV guard (scada/csv_safe.py): no cell of any CSV Kiln writes starts a spreadsheet formula."""

import pytest

from scada.csv_safe import csv_safe_cell


@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+cmd", "@SUM(A1)", "\t=1", "\r=1", "\n=1", " =1", "\x00=1",
                                  "\x0b@x"])
def test_it_neutralises_a_cell_that_starts_a_formula_after_whitespace_or_control_characters(text):
    first_line = [line for line in csv_safe_cell(text).split("\n") if line.strip("\t \x00\x0b")][0]
    assert first_line.startswith("'")


def test_it_guards_every_line_of_a_cell_with_a_carriage_return():
    assert csv_safe_cell("checked\r=HYPERLINK(\"http://evil\")") == "checked\n'=HYPERLINK(\"http://evil\")"


def test_it_normalises_crlf_and_guards_the_line_after_it():
    assert csv_safe_cell("a\r\n@cmd\nb") == "a\n'@cmd\nb"


@pytest.mark.parametrize("value,expected", [(None, ""), (True, "true"), (False, "false"), (-5, -5), (2.5, 2.5),
                                            ("-5.5", "-5.5"), ("plain text", "plain text"), ("a-b=c", "a-b=c")])
def test_it_leaves_numbers_and_plain_text_as_they_are(value, expected):
    assert csv_safe_cell(value) == expected
