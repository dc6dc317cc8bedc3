"""An assignment's answer key and students' sheet as documents (`derive.document`).

The key: per question its prompt and points, the network (equations, shapes, picture), the
chain-rule steps as every derivation shows them (`derive.document.parts`), the boxed final
answer and one line of evidence (`derive.assignment.evidence`). The sheet: the same questions
and networks, the due date and the "how to type your answer" box, and no answer, no step. A key
of spec files has a section per network and every gradient of each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

from derive import expr as E
from derive.api import Network
from derive.assignment.evidence import Evidence, EvidenceCache
from derive.assignment.model import Assignment, Question
from derive.assignment.typing_help import notations
from derive.document.model import (
    Block,
    Box,
    BulletList,
    Code,
    Document,
    Equation,
    Final,
    Inline,
    Math,
    Paragraph,
    Section,
    Strong,
    Text,
    symbol_of,
)
from derive.document.parts import convention, network_blocks, picture_names
from derive.document.parts import gradient_blocks as derivation_blocks
from derive.spec import Spec

EvidenceOf = Callable[[Path, str], Evidence]


def _points(p: Decimal) -> str:
    return f"{p} point" + ("" if p == 1 else "s")


def _subtitle(hw: Assignment, sheet: bool) -> tuple[tuple[Inline, ...], ...]:
    lines: list[tuple[Inline, ...]] = []
    if hw.course:
        lines.append((Text(hw.course),))
    if hw.due:
        lines.append((Text(f"Due {hw.due.isoformat()}"),))
    count = len(hw.questions)
    lines.append(
        (Text(f"{count} question{'s' if count != 1 else ''}, {_points(hw.total_points)}"),)
    )
    return tuple(lines)


def prompt_inline(q: Question) -> tuple[Inline, ...]:
    """The prompt: its text as text; a $…$ span that reads as a name or ∂A/∂B by the spec's name
    grammar as math, any other shown as typed (an assignment's LaTeX reaches TeX only through
    that grammar, and is never read as an answer: reading ∂J/∂W would substitute the gradient);
    the default prompt names the variable with the printer."""
    if q.prompt is None:
        spec = q.network.spec
        var = E.Var(q.wrt, spec.shape_of(q.wrt))
        return (
            Text("Derive the gradient of the loss with respect to "),
            Math(spec, var),
            Text("."),
        )
    parts: list[Inline] = []
    for kind, s in q.prompt_parts():
        parts.append(Text(s) if kind == "text" else (symbol_of(s) or Code(s)))
    return tuple(parts)


def _question_head(q: Question) -> tuple[Inline, ...]:
    spec = q.network.spec
    grad = E.GradRef(q.wrt, spec.shape_of(q.wrt))
    return (Text(f"Question {q.id} ({_points(q.points)}): "), Math(spec, grad))


def gradient_blocks(net: Network, name: str, evidence: Evidence | None) -> list[Block]:
    """The steps and where-lines, then the boxed answer and its evidence."""
    deriv = net.derivation
    blocks = derivation_blocks(deriv, name)
    blocks.append(Paragraph((Strong("Answer"),)))
    blocks.append(Equation(Final(deriv, name)))
    if evidence is not None:
        blocks.append(Paragraph((Strong("Evidence."), Text(" " + evidence.line()))))
    return blocks


def build_key(hw: Assignment, evidence: EvidenceOf | None = None) -> Document:
    """The answer key of an assignment; `evidence` runs the checks (an `EvidenceCache` unless
    given)."""
    ev = evidence or EvidenceCache()
    pictures = picture_names([q.spec for q in hw.questions])
    blocks: list[Block] = [convention([q.network.spec for q in hw.questions])]
    for q in hw.questions:
        parts: list[Block] = [Paragraph(prompt_inline(q))]
        parts += network_blocks(q.network.spec, pictures[q.spec])
        parts += gradient_blocks(q.network, q.wrt, ev(q.spec, q.wrt))
        blocks.append(Section(_question_head(q), tuple(parts)))
    return Document(f"{hw.title}: answer key", _subtitle(hw, False), tuple(blocks), "answer-key")


def build_sheet(hw: Assignment) -> Document:
    """The students' sheet: networks, shapes, questions and points, how to type an answer."""
    pictures = picture_names([q.spec for q in hw.questions])
    specs = list({q.spec: q.network.spec for q in hw.questions}.values())
    blocks: list[Block] = [convention(specs), typing_box(specs)]
    for q in hw.questions:
        parts: list[Block] = [Paragraph(prompt_inline(q))]
        parts += network_blocks(q.network.spec, pictures[q.spec])
        blocks.append(Section(_question_head(q), tuple(parts)))
    return Document(hw.title, _subtitle(hw, True), tuple(blocks), "sheet")


def typing_box(specs: list[Spec]) -> Box:
    """How to type an answer, with examples written in the networks' own names."""
    items: list[tuple[Inline, ...]] = []
    for n in notations(specs):
        parts: list[Inline] = [Text(n.what + ": ")]
        for i, example in enumerate(n.examples):
            parts += [Text(", ")] if i else []
            parts.append(Code(example))
        items.append(tuple(parts))
    intro = Paragraph(
        (
            Text(
                "Type each answer in LaTeX; it is read by gradproof check, which keeps the "
                "order of matrix products and knows the transpose. For example:"
            ),
        )
    )
    return Box("How to type your answer", (intro, BulletList(tuple(items))))


def build_spec_key(paths: Sequence[str | Path], evidence: EvidenceOf | None = None,
             networks: Sequence[Network] | None = None) -> Document:  # fmt: skip
    """A key of every gradient (intermediates and parameters) of each spec file's network."""
    ev = evidence or EvidenceCache()
    nets = list(networks) if networks is not None else [Network.from_file(p) for p in paths]
    files = [Path(p).resolve() for p in paths]
    pictures = picture_names(files)
    blocks: list[Block] = [convention([n.spec for n in nets])]
    for path, net in zip(files, nets, strict=True):
        parts: list[Block] = list(network_blocks(net.spec, pictures[path]))
        for name in net.resolve(None):
            shape = net.spec.shape_of(name)
            head = (Text("The gradient with respect to "), Math(net.spec, E.Var(name, shape)))
            body = gradient_blocks(net, name, ev(path, name))
            parts.append(Section(head, tuple(body), level=2))
        blocks.append(Section((Text(net.spec.title),), tuple(parts)))
    title = "Answer key" if len(nets) != 1 else f"{nets[0].spec.title}: answer key"
    return Document(title, (), tuple(blocks), "answer-key")
