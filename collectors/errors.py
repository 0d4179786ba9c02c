"""The collectors' errors: one base, each with its kind (``contracts.errors``)."""

from __future__ import annotations

from contracts.errors import ErrorKind, TareError


class CollectorError(TareError):
    kind = ErrorKind.SERVICE_UNAVAILABLE
