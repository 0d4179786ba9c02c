"""A fake /proc and /sys/fs/cgroup tree, so the sampler is tested with exact known numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SNMP_HEAD = (
    "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails "
    "EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors"
)
NETSTAT_HEAD = "TcpExt: SyncookiesSent ListenOverflows ListenDrops"
NET_DEV_HEAD = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
)


@dataclass
class FakeHost:
    root: Path
    cores: int = 2
    cpu: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.proc = self.root / "proc"
        self.cg = self.root / "cgroup"
        self.netns_dir = self.root / "netns"
        (self.proc / "self" / "net" / "stat").mkdir(parents=True, exist_ok=True)
        self.netns_dir.mkdir(exist_ok=True)
        self.cpu = [[100, 0, 50, 1000, 0, 0, 10, 0] for _ in range(self.cores)]
        self.write_cpu()
        self.write_meminfo(total=8 << 30, available=6 << 30)
        self.write_net(self.proc / "self" / "net", active=0, passive=0, estab=0, tw=0)

    def write_cpu(self) -> None:
        total = [sum(col) for col in zip(*self.cpu, strict=True)]
        lines = ["cpu  " + " ".join(map(str, total)) + " 0 0"]
        lines += [f"cpu{n} " + " ".join(map(str, c)) + " 0 0" for n, c in enumerate(self.cpu)]
        lines.append("intr 0\nctxt 0")
        (self.proc / "stat").write_text("\n".join(lines) + "\n")

    def advance_cpu(self, core: int, *, busy: int, idle: int, softirq: int = 0) -> None:
        """Add jiffies to one core: ``busy`` to system, ``softirq`` to softirq, idle to idle."""
        self.cpu[core][2] += busy
        self.cpu[core][3] += idle
        self.cpu[core][6] += softirq
        self.write_cpu()

    def write_meminfo(self, total: int, available: int) -> None:
        (self.proc / "meminfo").write_text(
            f"MemTotal: {total // 1024} kB\nMemFree: 1 kB\nMemAvailable: {available // 1024} kB\n"
        )

    def write_net(
        self,
        net: Path,
        *,
        active: int,
        passive: int,
        estab: int,
        tw: int,
        rx: int = 0,
        conntrack: int | None = None,
        drops: int = 0,
        inserts: int = 0,
    ) -> None:
        net.mkdir(parents=True, exist_ok=True)
        (net / "snmp").write_text(
            f"{SNMP_HEAD}\nTcp: 1 200 120000 -1 {active} {passive} 3 4 {estab} 0 0 5 0 0 0\n"
        )
        (net / "netstat").write_text(f"{NETSTAT_HEAD}\nTcpExt: 0 0 7\n")
        (net / "sockstat").write_text(
            f"sockets: used 5\nTCP: inuse {estab} orphan 0 tw {tw} alloc 3 mem 1\n"
        )
        (net / "dev").write_text(
            NET_DEV_HEAD
            + "    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n"
            + f"  veth0: {rx} 10 0 2 0 0 0 0 {rx // 2} 5 0 1 0 0 0 0\n"
        )
        if conntrack is not None:
            (net / "stat").mkdir(exist_ok=True)
            values = (conntrack, 0, 0, 0, 0, 0, 0, 0, inserts, 1, drops, 0)
            row = " ".join(f"{v:08x}" for v in values)
            (net / "stat" / "nf_conntrack").write_text(
                "entries clashres found new invalid ignore delete chainlength insert "
                f"insert_failed drop early_drop\n{row}\n{row}\n"
            )

    def add_process(
        self,
        pid: int,
        comm: str,
        *,
        utime: int,
        stime: int,
        rss_pages: int,
        start: int = 1000,
        argv: tuple[str, ...] | None = None,
    ) -> Path:
        base = self.proc / str(pid)
        base.mkdir(parents=True, exist_ok=True)
        fields = ["S"] + ["0"] * 10 + [str(utime), str(stime)] + ["0"] * 6 + [str(start)]
        tail = f" 0 {rss_pages} 0\n"  # vsize, rss (pages), rsslim
        (base / "stat").write_text(f"{pid} ({comm}) " + " ".join(fields) + tail)
        (base / "comm").write_text(comm + "\n")
        (base / "cmdline").write_bytes(b"\0".join(a.encode() for a in (argv or (comm,))) + b"\0")
        return base
