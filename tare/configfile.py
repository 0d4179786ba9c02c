"""Reading config files (campaigns, alert rules, stack settings): the file's text, and one line
per problem naming the file and the key path (``campaign.toml: load.rates[2]: must be > 0``)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from contracts.errors import BadInput

if TYPE_CHECKING:  # pydantic is imported where a file is parsed: `tare --help` never pays for it
    from pydantic import BaseModel

MAX_FILE_BYTES = 1 << 20


class ConfigError(BadInput):
    """A config file cannot be used; ``details`` holds one line per problem."""

    names_its_file = True


def format_loc(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


def pydantic_message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer, not {show(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, not {show(value)}"
    if kind in ("string_type",):
        return f"must be a string, not {show(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, not {show(value)}"
    if kind in ("list_type",):
        return f"must be a list, not {show(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a table, not {show(value)}"
    if kind == "greater_than":
        gt = ctx.get("gt")
        if gt == 0:
            whole = isinstance(value, int) and not isinstance(value, bool)
            return "must be a positive integer" if whole else "must be > 0"
        return f"must be > {gt}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}"
    if kind == "less_than":
        return f"must be < {ctx.get('lt')}"
    if kind == "less_than_equal":
        return f"must be <= {ctx.get('le')}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, not {show(value)}"
    if kind == "string_pattern_mismatch":
        return f"{show(value)} does not match {ctx.get('pattern')}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    msg = str(error["msg"])
    return msg[:1].lower() + msg[1:]


def show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_text(path: Path, label: str, what: str) -> str:
    """The text of a small UTF-8 config file; every problem a ConfigError naming the file."""
    try:
        if path.is_dir():
            raise ConfigError(f"{label}: is a directory, not a {what}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file") from None
    except PermissionError:
        raise ConfigError(f"{label}: permission denied") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{label}: larger than {MAX_FILE_BYTES} bytes; not a {what}")
    if b"\x00" in data:
        raise ConfigError(f"{label}: binary content, not a TOML text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{label}: line {line}: not UTF-8 text") from None
    if not text.strip():
        raise ConfigError(f"{label}: file is empty")
    return text


M = TypeVar("M", bound="BaseModel")


def parse_model(text: str, label: str, model: type[M]) -> M:
    """TOML text validated into ``model``; a ConfigError with one line per problem."""
    from pydantic import ValidationError

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{label}: {format_loc(err['loc']) or '(top level)'}: {pydantic_message(err)}"
            for err in exc.errors()
        ]
        raise ConfigError(lines[0], details=lines) from None
