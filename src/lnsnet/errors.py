"""The package's one rule for bad arguments: a value of the wrong kind raises
:class:`ArgumentTypeError`, which is a ``TypeError`` (Python's convention) and a
``ValueError`` (so one ``except ValueError`` catches every bad argument); a value of the
right kind out of its range raises ``ValueError``."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind (a string for a number, a list for an array)."""


def bad_argument(value, kind, message: str) -> Exception:
    """The error to raise for a bad argument ``value``: ``ValueError`` when it is of the
    right ``kind`` (a class such as ``numbers.Integral``; a bool never is) and so out of
    range, :class:`ArgumentTypeError` when it is not."""
    right = isinstance(value, kind) and not isinstance(value, bool)
    return ValueError(message) if right else ArgumentTypeError(message)
