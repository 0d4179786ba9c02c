"""The end-of-suite check (tests/leftovers.py): what was added since the snapshot is named, one
line each; what was there before, or is gone, is not."""

from __future__ import annotations

from collections.abc import Iterable

from tests.leftovers import Snapshot, added


def snap(
    netns: Iterable[str] = (),
    cgroups: Iterable[str] = (),
    nft: Iterable[str] = (),
    procs: Iterable[tuple[int, str]] = (),
) -> Snapshot:
    return Snapshot(frozenset(netns), frozenset(cgroups), frozenset(nft), frozenset(procs))


def test_only_what_was_added_is_named() -> None:
    before = snap({"host-ns"}, {"/sys/fs/cgroup/memory/tare"}, {"table inet host"}, {(1, "init")})
    assert added(before, before) == []
    after = snap(
        {"host-ns", "tare-w-ab12"},
        {"/sys/fs/cgroup/memory/tare", "/sys/fs/cgroup/memory/tare/ab12"},
        {"table inet host", "table inet tare"},
        {(1, "init"), (4242, "h2load --h1 -c 12000 http://169.254.213.1:8080/")},
    )
    assert added(before, after) == [
        "network namespace tare-w-ab12",
        "cgroup /sys/fs/cgroup/memory/tare/ab12",
        "nft table inet tare (root namespace)",
        "process 4242: h2load --h1 -c 12000 http://169.254.213.1:8080/",
    ]
    gone = snap()  # removed since: not a leftover
    assert added(before, gone) == []
