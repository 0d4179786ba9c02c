"""One error hierarchy for the whole command; ``tare.cli`` maps it to exit codes.

Exit codes are a contract (docs/cli.md): 0 ok, 1 regression found (when gating), 2 usage,
3 bad config or input, 4 an external service unavailable, 5 a run invalid, 130 interrupted.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    REGRESSION = 1
    USAGE = 2
    BAD_INPUT = 3
    SERVICE_UNAVAILABLE = 4
    RUN_INVALID = 5
    INTERRUPTED = 130


class TareError(Exception):
    """An error the user can act on; its message is one line naming what and where."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[str] = list(details) if details else []

    def lines(self) -> list[str]:
        """What the user sees: the details when there are several problems, else the message."""
        return self.details if self.details else [self.message]


class UsageError(TareError):
    exit_code = ExitCode.USAGE


class ConfigError(TareError):
    exit_code = ExitCode.BAD_INPUT


class ServiceUnavailable(TareError):
    exit_code = ExitCode.SERVICE_UNAVAILABLE


class RunInvalid(TareError):
    exit_code = ExitCode.RUN_INVALID


class RegressionFound(TareError):
    exit_code = ExitCode.REGRESSION
