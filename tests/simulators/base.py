"""A threaded HTTP server on a free loopback port that hands each request to `handle` and records
it, with queued faults (status, headers, body) a test injects to make the next requests fail."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class JsonServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[tuple[str, Reply]] = []  # (path prefix, reply) served before the real answer
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                reply = server.dispatch(request)
                data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> JsonServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, path_prefix: str, reply: Reply, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([(path_prefix, reply)] * times)

    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            for i, (prefix, reply) in enumerate(self.faults):
                if request.path.startswith(prefix):
                    del self.faults[i]
                    return reply
        return self.handle(request)

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def seen(self, path_prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]
