"""Argument checks at the door, in the style of scikit-learn's
`check_scalar`: each error names the argument, the value received and the
allowed range, and nothing is silently coerced."""

import math
import numbers


def check_int(name, value, minimum=None, maximum=None):
    """Returns `value` as an int, or raises a ValueError naming `name`.

    Booleans are refused (`True` is not a count); so are floats, even
    integral ones, so that a typo like `batch_size=0.5` is never rounded.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"`{name}` must be an integer. Received: {name}={value!r}"
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(
            f"`{name}` must be >= {minimum}. Received: {name}={value}"
        )
    if maximum is not None and value > maximum:
        raise ValueError(
            f"`{name}` must be <= {maximum}. Received: {name}={value}"
        )
    return value


def check_positive_int(name, value):
    """`check_int(name, value, minimum=1)`."""
    return check_int(name, value, minimum=1)


def check_float(
    name,
    value,
    minimum=None,
    maximum=None,
    include_minimum=True,
    include_maximum=True,
):
    """Returns `value` as a finite float in the given range, or raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"`{name}` must be a number. Received: {name}={value!r}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite. Received: {name}={value}")
    if minimum is not None:
        bad = value < minimum if include_minimum else value <= minimum
        if bad:
            op = ">=" if include_minimum else ">"
            raise ValueError(
                f"`{name}` must be {op} {minimum:g}. Received: {name}={value:g}"
            )
    if maximum is not None:
        bad = value > maximum if include_maximum else value >= maximum
        if bad:
            op = "<=" if include_maximum else "<"
            raise ValueError(
                f"`{name}` must be {op} {maximum:g}. Received: {name}={value:g}"
            )
    return value


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`, else raises."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {tuple(choices)}. Received: "
            f"{name}={value!r}"
        )
    return value
