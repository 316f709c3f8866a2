"""The package's one rule for bad arguments: a value of the wrong kind raises
:class:`ArgumentTypeError`, which is a ``TypeError`` (Python's convention) and a
``ValueError`` (so one ``except ValueError`` catches every bad argument); a value of the
right kind out of its range raises ``ValueError``."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind (a string for a number, a list for an array)."""


def bad_argument(right_kind: bool, message: str) -> Exception:
    """The error to raise for a bad argument: ``ValueError`` when it is of the right kind
    (out of range), :class:`ArgumentTypeError` when it is not."""
    return ValueError(message) if right_kind else ArgumentTypeError(message)
