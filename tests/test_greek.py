"""One Greek table (derive.greek) behind the spec grammar, the answer reader and every printer."""

from __future__ import annotations

import pytest

from derive import greek
from derive.answers.lexer import UNICODE_LATEX
from derive.answers.names import GREEK as READER_GREEK
from derive.graph_svg import plain
from derive.mathml import name_mathml
from derive.spec import default_latex


@pytest.mark.parametrize("command", sorted(greek.COMMANDS))
def test_each_letter_is_read_and_printed_the_same_way(command: str) -> None:
    char = greek.LETTERS[command]
    assert default_latex(command) == "\\" + command  # an ascii spec name
    assert command in READER_GREEK  # a typed \command
    assert char in name_mathml("\\" + command)  # MathML shows TeX's glyph
    assert plain("\\" + command) == char  # the SVG picture too
    typed = UNICODE_LATEX[char].strip()  # the character typed on a phone
    assert typed == "\\" + greek.FROM_UNICODE[char]
    assert typed.lstrip("\\") in (command, command.removeprefix("var"))


def test_tex_has_no_omicron_and_no_latin_capitals() -> None:
    assert "omicron" not in greek.COMMANDS and "Alpha" not in greek.COMMANDS
    assert greek.LETTERS["epsilon"] == "\u03f5" and greek.LETTERS["varepsilon"] == "\u03b5"
