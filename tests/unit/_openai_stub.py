"""A tiny OpenAI-compatible HTTP server on 127.0.0.1 for the openai sampler's unit tests.

It answers ``/v1/chat/completions`` and ``/v1/completions`` with text made from the body
it got (so tests can see what was sent), and can be scripted to fail: a queue of status
codes to answer first, to ignore ``n``, or to have no chat endpoint. Bounded: it serves
only while a test holds it, on a port of its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    fail_with: list[int] = field(default_factory=list)  # statuses to answer first, in order
    ignore_n: bool = False
    chat: bool = True
    bodies: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with script.lock:
                script.bodies.append(body)
                script.headers.append({k.lower(): v for k, v in self.headers.items()})
                status = script.fail_with.pop(0) if script.fail_with else 200
            chat = self.path.endswith("/chat/completions")
            if chat and not script.chat:
                status = 404
            if status != 200:
                self._send(status, {"error": {"message": f"scripted {status}", "type": "test"}},
                           {"Retry-After": "0"} if status == 429 else {})
                return
            n = 1 if script.ignore_n else int(body.get("n") or 1)
            said = f"seed={body.get('seed')} t={body.get('temperature')}"
            choices = [
                {"index": i, "finish_reason": "stop",
                 **({"message": {"role": "assistant", "content": f"{said} i={i}"}} if chat else {"text": f"{said} i={i}"})}
                for i in range(n)
            ]
            self._send(200, {"id": "x", "object": "chat.completion" if chat else "text_completion", "created": 0,
                             "model": body.get("model"), "choices": choices,
                             "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}})

        def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def stub_server(script: Script) -> Iterator[str]:
    """Serve ``script`` on 127.0.0.1 (a free port); yields the base URL (``.../v1``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
