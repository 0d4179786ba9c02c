"""One error hierarchy for the whole lab, and the exit codes its kinds map to (DESIGN.md).

Every stage derives its own base from ``TareError`` and gives each error a ``kind``; the command
maps kinds to exit codes in one place (``exit_code_for``), by ``isinstance``. Anything that is
not a ``TareError`` is a bug in tare: exit 70, never 1 (1 means "regression found").
"""

from __future__ import annotations

from enum import Enum, IntEnum


class ExitCode(IntEnum):
    OK = 0
    REGRESSION = 1
    USAGE = 2
    BAD_INPUT = 3
    SERVICE_UNAVAILABLE = 4
    RUN_INVALID = 5
    INTERNAL = 70
    INTERRUPTED = 130


class ErrorKind(Enum):
    USAGE = ExitCode.USAGE  # the command was called wrongly (a flag, a missing state file)
    BAD_INPUT = ExitCode.BAD_INPUT  # a config file, a CSV, a state file cannot be used
    SERVICE_UNAVAILABLE = ExitCode.SERVICE_UNAVAILABLE  # Graphite, collectd, Slack, a tool
    RUN_INVALID = ExitCode.RUN_INVALID  # a run did not reach its load, an agent died
    REGRESSION = ExitCode.REGRESSION  # only when a verb was asked to gate
    INTERNAL = ExitCode.INTERNAL  # an error that should have been caught inside a stage


class TareError(Exception):
    """An error the user can act on; its message is one line naming what and where."""

    kind: ErrorKind = ErrorKind.INTERNAL
    names_its_file = False  # True: each line starts with the file it is about, printed as it is

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[str] = list(details) if details else []

    def lines(self) -> list[str]:
        """What the user sees: the details when there are several problems, else the message."""
        return self.details if self.details else [self.message]

    @property
    def exit_code(self) -> ExitCode:
        return self.kind.value


class UsageError(TareError):
    kind = ErrorKind.USAGE


class BadInput(TareError):
    kind = ErrorKind.BAD_INPUT


class ServiceUnavailable(TareError):
    kind = ErrorKind.SERVICE_UNAVAILABLE


class RunInvalid(TareError):
    kind = ErrorKind.RUN_INVALID


class RegressionFound(TareError):
    kind = ErrorKind.REGRESSION


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code of an exception that reached the command's one catch point."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, TareError):
        return exc.exit_code
    return ExitCode.INTERNAL
