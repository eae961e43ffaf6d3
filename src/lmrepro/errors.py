"""The one exception type a user is meant to read.

Stages catch :class:`LmreproError`, print its message (which names the file, key or
column at fault) and exit with status 2; any other exception is a bug and keeps its
traceback.
"""


class LmreproError(Exception):
    """A problem with the user's input, data or parameters, explained in the message."""


EXIT_USER_ERROR = 2
