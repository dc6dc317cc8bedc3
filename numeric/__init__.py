"""An independent NumPy backprop: no SymPy, nothing from derive/."""

from numeric.errors import (
    MissingRuleError,
    NumericError,
    NumericSpecError,
    NumericValueError,
    RuleContractError,
)
from numeric.gradcheck import (
    GradCheckResult,
    check_gradients,
    default_tolerance,
    directional_check,
    finite_difference_gradients,
    relative_error,
)
from numeric.tape import Network, VarInfo, load_network, random_values

__all__ = [
    "GradCheckResult",
    "MissingRuleError",
    "Network",
    "NumericError",
    "NumericSpecError",
    "NumericValueError",
    "RuleContractError",
    "VarInfo",
    "check_gradients",
    "default_tolerance",
    "directional_check",
    "finite_difference_gradients",
    "load_network",
    "random_values",
    "relative_error",
]
