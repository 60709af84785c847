"""The one exception type that reaches users as a one-line message."""


class MuseganError(Exception):
    """A problem with the user's input (a file, a flag, a checkpoint).

    The CLI prints ``musegan: error: <message>`` on one line and exits non-zero;
    the message names the file or value and the reason.
    """
