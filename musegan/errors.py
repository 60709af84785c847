"""The one exception type that reaches users as a one-line message."""


class MuseganError(Exception):
    """A problem with the user's input (a file, a flag, a checkpoint).

    The CLI prints ``musegan: error: <message>`` on one line and exits non-zero;
    the message names the file or value and the reason.
    """


def warn(message: str) -> None:
    """A warning for the user: one line on stderr."""
    import sys

    print(f"musegan: warning: {message}", file=sys.stderr)
