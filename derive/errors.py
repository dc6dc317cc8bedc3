"""Every error gradproof raises on purpose, in one place; the CLI maps them to exit codes."""

from __future__ import annotations


class GradproofError(Exception):
    """Base class: a one-line message meant for the user, and the exit code the CLI uses."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SpecError(GradproofError):
    """A spec (a file, or one built in code) is malformed: bad TOML, unknown name, bad shapes."""

    def __init__(self, source: str, message: str, where: str | None = None) -> None:
        prefix = f"{source}: {where}: " if where else f"{source}: "
        super().__init__(prefix + message)
        self.source = source
        self.where = where
        self.detail = message


class OptionError(GradproofError):
    """A command's option or argument has a value it cannot take (an unknown scheme, a size < 1)."""


class UnknownVariableError(GradproofError):
    """A variable was asked for (--wrt, an API call) that the spec does not define."""


class VerificationError(GradproofError):
    """A cross-check could not be carried out at all (not a failed check: that is a result)."""

    exit_code = 3


class AnswerError(GradproofError):
    """A LaTeX answer cannot be read: the verdict `invalid`, with the place in the answer."""

    def __init__(self, message: str, position: int | None = None, hint: str | None = None) -> None:
        where = f"at character {position + 1}: " if position is not None else ""
        super().__init__(where + message + (f" ({hint})" if hint else ""))
        self.position = position
        self.detail = message
        self.hint = hint


class TooLargeError(GradproofError):
    """A limit of `derive.limits.Limits` was exceeded: says which, by how much, how to raise it."""


class AssignmentError(GradproofError):
    """An assignment file is malformed: names the file, the question and the field."""

    def __init__(
        self, source: str, message: str, question: str | None = None, field: str | None = None
    ) -> None:
        where = "".join(
            [f"question {question}: " if question else "", f"{field}: " if field else ""]
        )
        super().__init__(f"{source}: {where}{message}")
        self.source = source
        self.question = question
        self.field = field
        self.detail = message


class SubmissionsError(GradproofError):
    """A submissions file cannot be read at all (no header, not text, over its size limit)."""


class GradeStateError(GradproofError):
    """An output folder holds another run's results (a changed assignment or submissions file)."""
