"""Progress: a live line on a terminal, plain lines otherwise."""

from __future__ import annotations

import io
import time

from harness.progress import Progress


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(2, 30, out, live=False)
    p.start(1, "baseline 1000/s r1")
    p.finish("done, 1000/s achieved")
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("run 1/2: baseline 1000/s r1")
    assert lines[1].endswith("[1/2] baseline 1000/s r1: done, 1000/s achieved")
    assert "\r" not in out.getvalue()


def test_live_line_on_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(4, 30, out, live=True)
    p.start(2, "enforced 5000/s r1")
    time.sleep(0.7)
    p.finish("done")
    text = out.getvalue()
    assert "\r\033[K[2/4] enforced 5000/s r1" in text
    assert "campaign left ~" in text
    assert text.endswith("[2/4] enforced 5000/s r1: done\n")
