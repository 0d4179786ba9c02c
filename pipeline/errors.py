"""The pipeline stage's errors: one base, each error with its kind (``contracts.errors``)."""

from __future__ import annotations

from contracts.errors import ErrorKind, TareError


class PipelineError(TareError):
    kind = ErrorKind.INTERNAL
