"""The one error type that user input can raise.

The CLI turns an ``InputError`` into a one-line message and exit code 2; any
other exception is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """Bad user input: an option, a config value, a grammar or a file."""
