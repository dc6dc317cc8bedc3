"""summary.md and summary.html: what an instructor reads before the next lecture. Per question the
counts by verdict, the most common mistakes with one example answer each, and a bar chart; the
distribution of the students' totals; the rows that could not be attributed to a question."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from derive.answers.diagnosis import MISTAKE_KINDS
from derive.assignment.results import Row, points_text
from derive.document.escape import html_code, html_parts, html_text, md_code, md_parts, md_text

if TYPE_CHECKING:
    from derive.assignment.grading import GradeReport

SHOWN = ("correct", "incorrect", "invalid", "timeout", "error", "missing")
TOP_MISTAKES = 8
UNDIAGNOSED = "(not diagnosed)"


@dataclass
class QuestionStats:
    qid: str
    points: Decimal
    prompt: list[tuple[str, str]]
    counts: dict[str, int]
    mistakes: list[tuple[str, int, str]]  # kind, count, one example answer
    invalid: list[tuple[str, int, str]]  # the reason, count, one example answer
    mean: Decimal


def question_stats(report: GradeReport) -> list[QuestionStats]:
    out = []
    for q in report.assignment.questions:
        rows = [r for r in report.rows if r.question == q.id and r.verdict != "superseded"]
        rows = [r for r in rows if r.student_id in report.scores]
        counts = {v: sum(1 for r in rows if r.verdict == v) for v in SHOWN}
        out.append(
            QuestionStats(
                q.id,
                q.points,
                q.prompt_parts(),
                counts,
                _common(
                    [r for r in rows if r.verdict == "incorrect"],
                    lambda r: r.mistake or UNDIAGNOSED,
                ),
                _common(
                    [r for r in rows if r.verdict == "invalid"], lambda r: _reason(r.diagnosis)
                ),
                _mean([r.points for r in rows]),
            )
        )
    return out


def _reason(diagnosis: str | None) -> str:
    """An invalid answer's reason without its position, so that alike reasons count together."""
    text = diagnosis or "unreadable"
    if text.startswith("at character "):
        text = text.split(": ", 1)[-1]
    return text[:160]


def _common(rows: list[Row], key: object) -> list[tuple[str, int, str]]:
    by: Counter[str] = Counter()
    example: dict[str, str] = {}
    for r in rows:
        k = key(r)  # type: ignore[operator]
        by[k] += 1
        if k not in example or len(r.answer or "") < len(example[k]):
            example[k] = r.answer or ""
    ranked = sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_MISTAKES]
    return [(k, n, example[k]) for k, n in ranked]


def _mean(values: list[Decimal]) -> Decimal:
    if not values:
        return Decimal(0)
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"))


def score_counts(report: GradeReport) -> list[tuple[Decimal, int]]:
    totals = Counter(report.total(s) for s in report.students)
    return sorted(totals.items())


def unattributed(report: GradeReport) -> list[Row]:
    return [r for r in report.rows if r.verdict == "invalid" and (
        r.student_id not in report.scores or r.question not in report.assignment.ids)]  # fmt: skip


def _points(p: Decimal) -> str:
    return f"{points_text(p)} point" + ("" if p == 1 else "s")


def _meaning(kind: str) -> str:
    return "; and ".join(MISTAKE_KINDS.get(k, k) for k in kind.split("+"))


# -- markdown ---------------------------------------------------------------------------------


def summary_markdown(report: GradeReport, charts: dict[str, str]) -> str:
    a = report.assignment
    lines = [f"# {md_text(a.title)}: summary", ""]
    lines.append(
        f"{len(report.students)} students, {len(a.questions)} questions, "
        f"{points_text(a.total_points)} points; {len(report.rows)} result rows."
    )
    for note in report.notes:
        lines.append(f"\n- {md_text(note, block_start=True)}")
    lines += ["", "## Scores", "", "| total | students |", "|---:|---:|"]
    lines += [f"| {points_text(t)} | {n} |" for t, n in score_counts(report)]
    if "scores" in charts:
        lines += ["", f"![The students' totals]({charts['scores']})"]
    for st in question_stats(report):
        lines += ["", f"## {md_text(st.qid)} ({_points(st.points)})", ""]
        lines += [md_parts(st.prompt, block_start=True), ""]
        lines += ["| " + " | ".join(SHOWN) + " | mean points |", "|" + "---:|" * (len(SHOWN) + 1)]
        lines.append("| " + " | ".join(str(st.counts[v]) for v in SHOWN) + f" | {st.mean} |")
        if st.qid in charts:
            lines += ["", f"![{md_text(st.qid)}: answers by verdict and mistake]({charts[st.qid]})"]
        if st.mistakes:
            lines += ["", "Most common mistakes:", ""]
            for kind, n, example in st.mistakes:
                words = "" if kind == UNDIAGNOSED else f": {md_text(_meaning(kind))}"
                lines.append(f"- {md_code(kind)} ({n}){words}; e.g. {md_code(example)}")
        if st.invalid:
            lines += ["", "Unreadable answers:", ""]
            for why, n, example in st.invalid:
                lines.append(f"- {md_text(why, block_start=True)} ({n}); e.g. {md_code(example)}")
    odd = unattributed(report)
    if odd:
        lines += ["", "## Rows not attributed to a student's question", ""]
        for r in odd[:50]:
            lines.append(f"- line {r.line}: {md_text(r.diagnosis or '')}")
        if len(odd) > 50:
            lines.append(f"- and {len(odd) - 50} more (see results.jsonl)")
    return "\n".join(lines) + "\n"


# -- HTML -------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: right; }
th { background: #f3f3f3; }
code { background: #f5f5f5; padding: 0 0.2rem; font-size: 0.95em; overflow-wrap: anywhere; }
img { max-width: 100%; }
.prompt { color: #444; }
"""


def summary_html(report: GradeReport, charts: dict[str, str]) -> str:
    a = report.assignment
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html_text(a.title)}: summary</title><style>{STYLE}</style></head><body>",
        f"<h1>{html_text(a.title)}: summary</h1>",
        f"<p>{len(report.students)} students, {len(a.questions)} questions, "
        f"{html_text(points_text(a.total_points))} points; {len(report.rows)} result rows.</p>",
    ]
    if report.notes:
        out.append("<ul>" + "".join(f"<li>{html_text(n)}</li>" for n in report.notes) + "</ul>")
    out.append("<h2>Scores</h2><table><tr><th>total</th><th>students</th></tr>")
    out += [f"<tr><td>{points_text(t)}</td><td>{n}</td></tr>" for t, n in score_counts(report)]
    out.append("</table>")
    if "scores" in charts:
        out.append(f'<p><img src="{html_text(charts["scores"])}" alt="The students\' totals"></p>')
    for st in question_stats(report):
        out.append(f"<h2>{html_text(st.qid)} ({_points(st.points)})</h2>")
        out.append(f'<p class="prompt">{html_parts(st.prompt)}</p>')
        out.append(
            "<table><tr>" + "".join(f"<th>{v}</th>" for v in SHOWN) + "<th>mean points</th></tr>"
        )
        out.append(
            "<tr>"
            + "".join(f"<td>{st.counts[v]}</td>" for v in SHOWN)
            + f"<td>{st.mean}</td></tr></table>"
        )
        if st.qid in charts:
            alt = f"{st.qid}: answers by verdict and mistake"
            out.append(f'<p><img src="{html_text(charts[st.qid])}" alt="{html_text(alt)}"></p>')
        if st.mistakes:
            out.append("<h3>Most common mistakes</h3><ul>")
            for kind, n, example in st.mistakes:
                words = "" if kind == UNDIAGNOSED else f": {html_text(_meaning(kind))}"
                out.append(f"<li>{html_code(kind)} ({n}){words}; e.g. {html_code(example)}</li>")
            out.append("</ul>")
        if st.invalid:
            out.append("<h3>Unreadable answers</h3><ul>")
            for why, n, example in st.invalid:
                out.append(f"<li>{html_text(why)} ({n}); e.g. {html_code(example)}</li>")
            out.append("</ul>")
    odd = unattributed(report)
    if odd:
        out.append("<h2>Rows not attributed to a student's question</h2><ul>")
        out += [f"<li>line {r.line}: {html_text(r.diagnosis or '')}</li>" for r in odd[:50]]
        if len(odd) > 50:
            out.append(f"<li>and {len(odd) - 50} more (see results.jsonl)</li>")
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- charts -----------------------------------------------------------------------------------


def write_charts(report: GradeReport, folder: Path) -> dict[str, str]:
    """charts/QUESTION.png (answers by verdict and mistake) and charts/scores.png; {} without
    matplotlib (the `plots` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return {}
    charts = folder / "charts"
    charts.mkdir(exist_ok=True)
    made: dict[str, str] = {}
    colours = {"correct": "#2e7d32", "incorrect": "#c62828", "invalid": "#ef6c00",
               "timeout": "#6a1b9a", "error": "#424242", "missing": "#9e9e9e"}  # fmt: skip
    for st in question_stats(report):
        labels, values, colour = ["correct"], [st.counts["correct"]], [colours["correct"]]
        for kind, n, _ in sorted(st.mistakes, key=lambda m: m[0]):
            labels.append(f"incorrect:\n{kind}")
            values.append(n)
            colour.append(colours["incorrect"])
        shown_incorrect = sum(n for _, n, _ in st.mistakes)
        if st.counts["incorrect"] > shown_incorrect:
            labels.append("incorrect:\nother")
            values.append(st.counts["incorrect"] - shown_incorrect)
            colour.append(colours["incorrect"])
        for v in SHOWN[2:]:
            labels.append(v)
            values.append(st.counts[v])
            colour.append(colours[v])
        fig, ax = plt.subplots(figsize=(max(5.0, 0.75 * len(labels) + 1.5), 3.2), dpi=100)
        ax.bar(range(len(values)), values, color=colour)
        ax.set_xticks(range(len(values)), labels, fontsize=7)
        ax.set_ylabel("answers")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{st.qid}: answers by verdict and mistake", fontsize=10)
        for x, n in enumerate(values):
            ax.annotate(str(n), (x, n), ha="center", va="bottom", fontsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        name = f"charts/{st.qid}.png"
        fig.savefig(folder / name, metadata={"Software": None})
        plt.close(fig)
        made[st.qid] = name
    scores = score_counts(report)
    if scores:
        fig, ax = plt.subplots(figsize=(5.0, 3.0), dpi=100)
        ax.bar([points_text(t) for t, _ in scores], [n for _, n in scores], color="#1565c0")
        ax.set_xlabel(f"total points (of {points_text(report.assignment.total_points)})")
        ax.set_ylabel("students")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title("The students' totals", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        fig.savefig(folder / "charts/scores.png", metadata={"Software": None})
        plt.close(fig)
        made["scores"] = "charts/scores.png"
    return made
