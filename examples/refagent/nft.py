"""Run ``nft`` in the current network namespace (the only module here that does)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from refagent.ruleset import TABLE


class NftError(RuntimeError):
    """nft is missing or refused a command; the message carries nft's own words."""


def _nft(args: list[str], script: str | None = None) -> str:
    exe = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if exe is None:
        raise NftError("nft is not installed (apt-get install nftables)")
    proc = subprocess.run(
        [exe, *args], input=script, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise NftError(f"nft {' '.join(args)}: {lines[0] if lines else 'failed'}")
    return proc.stdout


def apply(script: str) -> None:
    """Apply a script as one transaction."""
    _nft(["-f", "-"], script)


def remove_table() -> bool:
    """Delete the agent's table; False when there was none."""
    try:
        _nft(["delete", "table", "inet", TABLE])
    except NftError as exc:
        if "No such file" in str(exc) or "does not exist" in str(exc):
            return False
        raise
    return True


def table_present() -> bool:
    """Whether the agent's table is there (terse: its sets' elements are not listed)."""
    try:
        _nft(["-t", "list", "table", "inet", TABLE])
    except NftError as exc:
        if "No such file" in str(exc) or "does not exist" in str(exc):
            return False
        raise
    return True


@dataclass(frozen=True, slots=True)
class TableSummary:
    present: bool
    rules: int
    set_elements: dict[str, int]
    rejected: int = 0  # packets the reject rule answered since the table was made


def summary() -> TableSummary:
    try:
        data = json.loads(_nft(["-j", "list", "table", "inet", TABLE]))
    except NftError as exc:
        if "No such file" in str(exc) or "does not exist" in str(exc):
            return TableSummary(False, 0, {})
        raise
    rules = rejected = 0
    sets: dict[str, int] = {}
    for item in data.get("nftables", []):
        if "rule" in item:
            rules += 1
            exprs = item["rule"].get("expr", [])
            if any("reject" in e for e in exprs):
                rejected += sum(
                    int(e["counter"].get("packets", 0)) for e in exprs if "counter" in e
                )
        elif "set" in item:
            sets[item["set"]["name"]] = len(item["set"].get("elem", []))
    return TableSummary(True, rules, sets, rejected)


def peer_counts() -> dict[str, int]:
    """Visibility mode: new flows counted per peer address since the table was applied."""
    out: dict[str, int] = {}
    for name in ("peers4", "peers6"):
        try:
            data = json.loads(_nft(["-j", "list", "set", "inet", TABLE, name]))
        except NftError:
            continue
        for item in data.get("nftables", []):
            for elem in item.get("set", {}).get("elem", []):
                addr, packets = _elem(elem)
                if addr is not None:
                    out[addr] = out.get(addr, 0) + packets
    return out


def _elem(elem: Any) -> tuple[str | None, int]:
    if isinstance(elem, dict) and "elem" in elem:
        inner = elem["elem"]
        counter = inner.get("counter", {})
        return str(inner.get("val")), int(counter.get("packets", 0))
    if isinstance(elem, str):
        return elem, 0
    return None, 0
