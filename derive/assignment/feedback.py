"""feedback/STUDENT.md: what one student receives, per question the verdict, points, what went
wrong and how to fix it; the expected answer only with `reveal`."""

from __future__ import annotations

from derive.answers.diagnosis import MISTAKE_KINDS
from derive.assignment.results import VERDICTS, Row, points_text
from derive.document.escape import md_code, md_text

# How to fix each kind of mistake (a kind added to MISTAKE_KINDS later falls back to its meaning).
FIX_HINTS: dict[str, str] = {
    "symmetric": "do not treat a matrix as equal to its transpose: keep Aᵀ where the chain rule "
    "puts it, and both terms of (A + Aᵀ)x",
    "fanout": "a name used in more than one place gets one term per use: add the gradient along "
    "every path, each path once",
    "activation_derivative": "check the activation's derivative: σ′(a) = σ(a)(1 − σ(a)), "
    "tanh′(a) = 1 − tanh²(a), ReLU′(a) = 𝟙[a > 0]",
    "activation_missing": "multiply (⊙) by the activation's derivative at the layer's "
    "pre-activation",
    "softmax_jacobian": "softmax's Jacobian is diag(s) − s sᵀ, not diag(s ⊙ (1 − s)): every "
    "output depends on every input; with the cross-entropy the two parts add up to ŷ − y",
    "activation_argument": "take the activation's derivative at its own input, the "
    "pre-activation with its bias, not at its output or another layer's",
    "transpose": "a gradient has the shape of its variable (denominator layout): check each "
    "factor's shape and where each transpose goes",
    "hadamard": "where two same-shape factors meet elementwise, write ⊙ (\\odot), not a matrix "
    "product",
    "order": "matrix products do not commute: put the factors in the order their shapes require",
    "wrong_variable": "check which variable each factor is: the layer's input or its output, the "
    "right layer's weights",
    "missing_factor": "follow the chain rule from the loss down to the variable: one factor per "
    "link",
    "missing_term": "the loss depends on the variable through every term of the sum: keep each",
    "factor": "check the constant: the derivative of a square brings a 2, a mean a 1/B",
    "sign": "check the sign: the derivative of (ŷ − y) with respect to y is −1",
    "shape": "the gradient has the shape of its variable: check the shape of each factor",
}


def fix_hint(mistake: str) -> str:
    """How to fix a mistake kind (or a pair joined by +)."""
    parts = [FIX_HINTS.get(k) or MISTAKE_KINDS.get(k, "") for k in mistake.split("+")]
    return "; and ".join(p for p in parts if p)


def student_feedback(
    title: str,
    student: str,
    questions: list[tuple[str, str, str]],
    rows: dict[str, Row],
    total: str,
    out_of: str,
    keys: dict[str, str] | None = None,
) -> str:
    """The markdown for one student: questions as (id, prompt in markdown, points), their counted
    rows, and with `keys` the expected answer of each question."""
    lines = [
        f"# {md_text(title)}",
        "",
        f"Feedback for {md_code(student)}: **{total} of {out_of} points**.",
    ]
    for qid, prompt, points in questions:
        row = rows[qid]
        lines += [
            "",
            f"## {md_text(qid)}: {points_text(row.points)} of {points} points, {row.verdict}",
        ]
        lines += ["", prompt, ""]
        if row.answer is not None:
            lines.append(f"- Your answer: {md_code(row.answer)}")
        if row.parsed is not None:
            lines.append(f"- Read as: {md_code(row.parsed)}")
        if row.verdict == "correct":
            lines.append("- Correct.")
        elif row.diagnosis:
            lines.append(f"- What went wrong: {md_text(row.diagnosis)}")
        if row.verdict in ("timeout", "error", "missing"):
            lines.append(f"- {md_text(VERDICTS[row.verdict].capitalize(), block_start=True)}.")
        if row.mistake:
            lines.append(f"- How to fix it: {md_text(fix_hint(row.mistake))}.")
        if row.counterexample and row.verdict == "incorrect":
            lines.append(f"- {md_text(_counterexample(row.counterexample), block_start=True)}")
        for w in row.warnings:
            lines.append(f"- Note: {md_text(w)}")
        if keys is not None and qid in keys:
            lines.append(f"- The expected answer: {md_code(keys[qid])}")
    return "\n".join(lines) + "\n"


def _counterexample(c: dict[str, object]) -> str:
    """One line: where the answer and the gradient differ (one entry of each)."""
    dims = c.get("dims") or {}
    at = ", ".join(f"{k} = {v}" for k, v in dims.items()) if isinstance(dims, dict) else ""
    want, have = c.get("expected"), c.get("answer")
    entry = ""
    if isinstance(want, list) and isinstance(have, list) and want and have:
        w, h = want[0], have[0]
        if isinstance(w, list) and isinstance(h, list) and w and h:
            one = len(want) == 1 and len(w) == 1
            what = "the gradient is" if one else "the gradient's top-left entry is"
            entry = f": {what} {w[0]} where your answer gives {h[0]}"
    where = f" with dims {at}" if at else ""
    return f"At random values{where}{entry}."
