"""A local HTTP server standing in for Slack's cloud, so slack_sdk's real client can be tested.

It answers the incoming-webhook path (``/services/...``: ``ok``) and the Web API methods tare
uses (``/api/chat.postMessage``, ``/api/chat.update``), records every request, and can be told
to answer the next requests with scripted failures (429 with Retry-After, 5xx). ``stop()`` and
``start()`` on the same port make a real outage (connection refused).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class FakeSlack:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[Request] = []
        self.script: list[Scripted] = []
        self._lock = threading.Lock()
        self._ts = 0
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/secretwebhookpart"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def delivered(self) -> list[Request]:
        """Requests answered with success (scripted failures excluded)."""
        with self._lock:
            return [r for r in self.requests if r.headers.get("x-fake-outcome") == "ok"]

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    scripted = fake.script.pop(0) if fake.script else None
                    headers["x-fake-outcome"] = "scripted" if scripted else "ok"
                    fake.requests.append(Request(self.path, headers, body))
                    fake._ts += 1
                    ts = f"1700000000.{fake._ts:06d}"
                if scripted is not None:
                    self._answer(scripted.status, scripted.body, scripted.headers)
                elif self.path.startswith("/services/"):
                    self._answer(200, "ok", {"Content-Type": "text/html"})
                elif self.path.startswith("/api/chat."):
                    channel = body.get("channel", "C0")
                    payload = {"ok": True, "channel": channel, "ts": body.get("ts", ts)}
                    self._answer(200, json.dumps(payload), {"Content-Type": "application/json"})
                else:
                    self._answer(404, json.dumps({"ok": False, "error": "unknown_method"}), {})

            def _answer(self, status: int, body: str, headers: dict[str, str]) -> None:
                data = body.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
