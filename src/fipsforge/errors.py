"""The one error type users see: a single line naming the file or field and the problem."""


class FipsforgeError(Exception):
    """A user-facing failure. The CLI prints `error: <message>` and exits 2, without a traceback."""
