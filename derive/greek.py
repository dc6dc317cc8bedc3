"""The Greek letters as TeX names them: the one table every reader and printer uses.

`SMALL` and `CAPITAL` are TeX's own letter commands (TeX has no \\omicron and no \\Alpha: those
are the Latin o and A); `VARIANTS` are the amsmath variant shapes. `LETTERS` gives each command
the character TeX prints for it (\\epsilon is the lunate ϵ, \\varepsilon the open ε; \\phi is ϕ,
\\varphi φ). `FROM_UNICODE` reads a Greek letter typed as a character (from a phone or a PDF) as
the command of the same Unicode name, the variant shapes (ϵ ε, ϕ φ, ϑ, ς) as the plain command.
"""

from __future__ import annotations

import unicodedata

SMALL = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega",
)  # fmt: skip
CAPITAL = ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi",
           "Omega")  # fmt: skip
VARIANTS = {"varepsilon": "\u03b5", "vartheta": "\u03d1", "varphi": "\u03c6", "varsigma": "\u03c2"}
# TeX's glyph where it is not the letter of the same Unicode name
_TEX_SHAPES = {"epsilon": "\u03f5", "phi": "\u03d5"}


def _unicode(command: str) -> str:
    """The Unicode letter whose name is the command's (Unicode spells lambda 'lamda')."""
    case = "CAPITAL" if command[0].isupper() else "SMALL"
    return unicodedata.lookup(f"GREEK {case} LETTER {command.upper().replace('LAMBDA', 'LAMDA')}")


LETTERS: dict[str, str] = {
    **{c: _TEX_SHAPES.get(c) or _unicode(c) for c in (*SMALL, *CAPITAL)},
    **VARIANTS,
}
COMMANDS = frozenset(LETTERS)

FROM_UNICODE: dict[str, str] = {
    _unicode(name): name
    for small in SMALL
    for name in (small, small.capitalize())
}
FROM_UNICODE |= {"\u03f5": "epsilon", "\u03d5": "phi", "\u03d1": "theta", "\u03c2": "sigma"}
