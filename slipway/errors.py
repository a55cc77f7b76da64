"""Domain errors that the CLI turns into one clear line and a documented exit code."""


class SlipwayError(Exception):
    """A user-facing failure: printed as one line (no traceback unless --debug).

    >>> raise SlipwayError("stack 'qa' has no Pulumi.qa.yaml", exit_code=2)
    """

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(SlipwayError):
    """The command line or an input file cannot be used at all (exit code 2)."""

    exit_code = 2
