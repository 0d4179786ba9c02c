"""The harness stage's errors: one base, each error with its kind (``contracts.errors``)."""

from __future__ import annotations

from contracts.errors import ErrorKind, TareError


class HarnessError(TareError):
    kind = ErrorKind.INTERNAL
