"""slipway: a deployment kit that takes a machine-learning model from demo to production.

Only what every part shares lives here: the CLI entry point, the error type every command
maps to an exit code, and output helpers.
"""

from slipway.errors import SlipwayError, UsageError

__all__ = ["SlipwayError", "UsageError"]
__version__ = "0.1.0"
