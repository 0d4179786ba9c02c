"""Graphite names built from labels that come from config files, hosts and processes.

A label may hold anything (spaces, dots, semicolons, newlines); in a Graphite path each of
those would split a line, add a path level or inject a tag. Every label goes through
``label`` before it becomes part of a path, and through ``tag_value`` before it becomes a tag.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_COMPONENT = re.compile(r"^[A-Za-z0-9_-]+$")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.:+-]+")
MAX_LABEL = 120


def label(value: object) -> str:
    """One path component: letters, digits, '-' and '_' only; never empty."""
    text = _UNSAFE.sub("_", str(value)).strip("_")
    return (text or "_")[:MAX_LABEL]


def is_label(value: str) -> bool:
    """True when ``value`` is one safe path component (as ``label`` makes, or two of them
    joined by '_', like a nightly path's ``<factor>_<level>``)."""
    return bool(_COMPONENT.match(value))


def tag_value(value: object) -> str:
    """A tag value without ';', '~', '=', '!', space or newline; never empty."""
    text = _TAG_UNSAFE.sub("_", str(value)).strip("_")
    return (text or "_")[:MAX_LABEL]


def join(*parts: object) -> str:
    """A dotted path from labels, each sanitized; a part may itself be a dotted safe path."""
    out: list[str] = []
    for part in parts:
        text = str(part)
        out.append(text if _PATH.match(text) else label(text))
    return ".".join(out)


def is_safe_path(path: str) -> bool:
    return bool(_PATH.match(path))
