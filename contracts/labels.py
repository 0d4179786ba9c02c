"""Graphite names built from labels that come from config files, hosts and processes.

A label may hold anything (spaces, dots, semicolons, newlines); in a Graphite path each of
those would split a line, add a path level or inject a tag. Every label goes through
``label`` before it becomes part of a path, and through ``tag_value`` before it becomes a tag.

Both are injective: two distinct labels never share a path. A label that is already safe (and
at most ``MAX_LABEL`` characters) is used as written; any other is sanitized (each run of other
characters becomes ``_``, cut to fit) and gets ``_x`` and the first 10 hex digits of the SHA-256
of the original text, so ``a b`` and ``a.b`` become ``a_b_xc8687a08aa`` and ``a_b_x2e7336dc8e``, and
neither is ``a_b``. Both are idempotent (a result is itself safe, so it maps to itself). A
campaign whose cells would still share a nightly path (only a label written to look like the
hash of another) is refused when it is planned.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_COMPONENT = re.compile(r"^[A-Za-z0-9_-]+$")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.:+-]+")
_TAG_SAFE = re.compile(r"^[A-Za-z0-9_.:+-]+$")
MAX_LABEL = 120
_DIGEST = 10


def _escaped(text: str, unsafe: re.Pattern[str]) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    stem = unsafe.sub("_", text).strip("_")[: MAX_LABEL - _DIGEST - 2]
    return f"{stem}_x{digest}" if stem else f"x{digest}"


def label(value: object) -> str:
    """One path component: letters, digits, '-' and '_' only; never empty; injective."""
    text = str(value)
    if len(text) <= MAX_LABEL and _COMPONENT.fullmatch(text):
        return text
    return _escaped(text, _UNSAFE)


def is_label(value: str) -> bool:
    """True when ``value`` is one safe path component (as ``label`` makes, or two of them
    joined by '_', like a nightly path's ``<factor>_<level>``)."""
    return bool(_COMPONENT.fullmatch(value))


def tag_value(value: object) -> str:
    """A tag value without ';', '~', '=', '!', space or newline; never empty; injective."""
    text = str(value)
    if len(text) <= MAX_LABEL and _TAG_SAFE.fullmatch(text):
        return text
    return _escaped(text, _TAG_UNSAFE)


def join(*parts: object) -> str:
    """A dotted path from labels, each sanitized; a part may itself be a dotted safe path."""
    out: list[str] = []
    for part in parts:
        text = str(part)
        out.append(text if _PATH.fullmatch(text) else label(text))
    return ".".join(out)


def is_safe_path(path: str) -> bool:
    return bool(_PATH.fullmatch(path))
