"""A page opened in a real browser (Debian's headless Chromium): what its console said, whether
every image decoded, and a screenshot at a laptop's width. The page itself is never changed: a
copy with a probe script in front of everything is what reports back, through the DOM Chromium
dumps once the page has loaded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAPTOP = (1366, 768)
PROBE = """<script>
window.__tare = {errors: []};
window.addEventListener("error", function (e) {
  var t = e.target;
  var what = (t && t !== window && t.tagName) ? ("failed to load " + t.tagName + " " + (t.id || ""))
    : String(e.message);
  window.__tare.errors.push(what);
}, true);
(function () {
  var error = console.error;
  console.error = function () {
    window.__tare.errors.push(Array.prototype.join.call(arguments, " "));
    error.apply(console, arguments);
  };
})();
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var out = {
    errors: window.__tare.errors,
    images: imgs.length,
    undecoded: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
      .map(function (i) { return i.id; }),
    sizes: imgs.map(function (i) { return [i.id, i.naturalWidth, i.naturalHeight]; }),
    width: document.documentElement.scrollWidth
  };
  document.documentElement.setAttribute("data-probe", JSON.stringify(out));
});
</script>"""


@dataclass(frozen=True, slots=True)
class Opened:
    errors: list[str]  # page errors, failed loads and console.error calls
    images: int
    undecoded: list[str]  # ids of images that did not decode
    sizes: list[tuple[str, int, int]]
    width: int  # the page's scroll width at the laptop's window width
    console: list[str]  # what Chromium logged from the console (stderr)
    screenshot: Path


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "scripts/bootstrap.sh installs Debian's chromium for the browser tests"
    return found


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    base += ["--disable-extensions", "--hide-scrollbars", "--mute-audio"]
    return subprocess.run(
        [*base, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def open_page(page: Path, out_dir: Path) -> Opened:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = page.read_text()
    probe = out_dir / f"probe-{page.name}"
    probe.write_text(text.replace("<head>", "<head>" + PROBE, 1))
    size = f"--window-size={LAPTOP[0]},{LAPTOP[1]}"
    flags = ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom"]
    dumped = _run([size, *flags, probe.resolve().as_uri()])
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', dumped.stdout)
    assert found, f"the probe did not report (the page never loaded?): {dumped.stderr[-2000:]}"
    data: dict[str, Any] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    console = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line]
    shot = out_dir / f"{page.stem}-{LAPTOP[0]}px.png"
    tall = f"--window-size={LAPTOP[0]},{LAPTOP[1] * 3}"
    taken = _run([tall, f"--screenshot={shot}", page.resolve().as_uri()])
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    return Opened(
        list(data["errors"]),
        int(data["images"]),
        list(data["undecoded"]),
        [(str(a), int(b), int(c)) for a, b, c in data["sizes"]],
        int(data["width"]),
        console,
        shot,
    )
