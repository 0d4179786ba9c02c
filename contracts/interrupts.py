"""SIGINT, SIGTERM and SIGHUP all stop a verb the same way: as ``KeyboardInterrupt``.

systemd, Jenkins, ``timeout`` and the scheduler stop jobs with SIGTERM; a closed terminal sends
SIGHUP. Each raises ``Interrupted`` (a ``KeyboardInterrupt``) in the main thread, so the one
path that Ctrl-C takes (the run marked interrupted, the lab torn down, exit 130) is the path of
every stop. A second signal while that teardown runs is noted and ignored: the lab comes down
whole (a supervisor that will not wait sends SIGKILL, and ``tare lab down`` cleans up after it).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def signal_name(exc: BaseException) -> str:
    return exc.name if isinstance(exc, Interrupted) else "SIGINT"


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the stop signals raise ``Interrupted`` once; handlers restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal raised
        if raised:
            print(
                f"tare: {signal.Signals(signum).name} again: still stopping cleanly",
                file=sys.stderr,
                flush=True,
            )
            return
        raised = True
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
