"""Typed exceptions raised by the numeric engine (spec, shape and backward-rule errors)."""

from __future__ import annotations


class NumericError(Exception):
    """Base class of every error the numeric package raises on purpose."""


class NumericSpecError(NumericError):
    """A spec file (TOML) is malformed: bad table, bad shape, bad expression."""


class NumericValueError(NumericError):
    """Values handed to a Network have a missing name, a wrong shape or an unusable type."""


class MissingRuleError(NumericError):
    """An op has no forward or no backward rule in the ops table."""


class RuleContractError(NumericError):
    """An op's rule returned an array of the wrong shape or dtype."""
