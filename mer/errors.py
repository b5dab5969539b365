"""The one exception type that reaches users for bad input."""


class InputError(ValueError):
    """Bad input from a user: the message says what was wrong and what to do.

    Raised for unreadable or unsupported clips, missing dataset files, malformed sheet rows, bad checkpoints.
    The CLI prints it as one ``error: ...`` line (exit status 2); the demo shows it as a ``gr.Error``.
    """
