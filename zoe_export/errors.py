"""The one exception type for user errors.

Anything the user can fix (a wrong variant name, a missing or corrupt checkpoint, an input of the
wrong shape, an unwritable path) raises :class:`ZoeExportError` with a message that says how to fix
it. The command-line tools print the message and exit with status 1, without a traceback.
"""


class ZoeExportError(Exception):
    """A problem with what the user asked for, with a message that names the fix."""
