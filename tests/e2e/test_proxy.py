"""The reverse proxy (issue 14): nginx from Debian, configured by `make deploy-config` and run by scripts/proxy.sh,
exposes over HTTPS only the web chat (/chat, socket.io), the Teams webhook and the DSL inbox.

Nginx is installed with the project's own script (scripts/install-nginx.sh) when missing, configured with a
self-signed certificate, and put in front of two stub upstreams on free loopback ports (small HTTP servers that
record every request they get) in place of Rasa and the DSL inbox, so no model is needed. Each test checks what
reached which upstream. The proxy's process group is stopped after the module, within a bounded time.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot import settings
from bot.servers import AssistantServers, free_port, run_within

ROOT = settings.PROJECT_ROOT
NGINX = Path("/usr/sbin/nginx")
CANARY = "quokka-canary-5512"
#: The CSP the stub Rasa sends with its chat pages (the real one lists the schools' websites in frame-ancestors).
CHAT_CSP = "default-src 'self'; frame-ancestors https://www.school.example"
INBOX_CSP = "default-src 'self'; frame-ancestors 'none'"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STARTUP_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0


# ---------------------------------------------------------------------------------------------- stub upstreams

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """A loopback HTTP server standing in for Rasa or the DSL inbox: records each request and answers with its name."""

    name: str
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> "Upstream":
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # nginx keeps upstream connections alive

            def log_message(self, *_args: object) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body))
                if "boom" in self.path:  # no reply at all: nginx answers 502 and would log the request line
                    self.close_connection = True
                    return
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    self.switch_protocols()
                    return
                reply = json.dumps({"upstream": upstream.name, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                if upstream.name == "rasa" and self.path.startswith("/chat"):
                    self.send_header("Content-Security-Policy", CHAT_CSP)
                    self.send_header("X-Content-Type-Options", "nosniff")
                    self.send_header("Referrer-Policy", "no-referrer")
                if upstream.name == "inbox":
                    self.send_header("Content-Security-Policy", INBOX_CSP)
                    self.send_header("X-Frame-Options", "SAMEORIGIN")
                    self.send_header("Referrer-Policy", "same-origin")  # the inbox's own (see web.py)
                self.end_headers()
                self.wfile.write(reply)

            def switch_protocols(self) -> None:
                """101, then echo the first bytes the client sends through the tunnel and close."""
                accept = base64.b64encode(hashlib.sha1(
                    (self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest()).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.end_headers()
                self.wfile.flush()
                self.connection.settimeout(10)
                try:
                    data = self.connection.recv(1024)
                    self.connection.sendall(b"echo:" + data)
                except OSError:
                    pass
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any  # noqa: N815 - http.server's names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name=f"stub {self.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            run_within(self.server.shutdown, 10, f"stopping the stub {self.name}")
            self.server.server_close()


# ---------------------------------------------------------------------------------------------- the proxy

@dataclass
class Proxy:
    https_port: int
    http_port: int
    deploy_dir: Path
    log_dir: Path
    rasa: Upstream
    inbox: Upstream

    @property
    def cert(self) -> Path:
        return self.deploy_dir / "tls" / "selfsigned.crt"

    def forget(self) -> None:
        self.rasa.seen.clear()
        self.inbox.seen.clear()

    def reached(self) -> list[tuple[str, str]]:
        return [(u.name, s.path) for u in (self.rasa, self.inbox) for s in u.seen]

    def connection(self) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.cert))  # the self-signed certificate, for localhost
        return http.client.HTTPSConnection("localhost", self.https_port, context=context, timeout=15)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                host: str | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One HTTPS request through the proxy (the path is sent exactly as given)."""
        connection = self.connection()
        try:
            connection.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
            if host is not None:
                connection.putheader("Host", host)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


def ensure_nginx() -> None:
    if NGINX.exists():
        return
    try:
        result = subprocess.run([str(ROOT / "scripts" / "install-nginx.sh")], capture_output=True, text=True,
                                timeout=240)
    except subprocess.TimeoutExpired:
        pytest.skip("nginx is not installed and scripts/install-nginx.sh did not finish within 240 s")
    if result.returncode != 0 or not NGINX.exists():
        pytest.skip("nginx is not installed and scripts/install-nginx.sh could not install it (apt as root or "
                    f"sudo is needed): {(result.stderr or result.stdout).strip()[-400:]}")


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM nginx's process group (master and workers), SIGKILL it if anything is left after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers too, should the master have gone without them
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def wait_until_listening(process: subprocess.Popen, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"scripts/proxy.sh exited ({process.returncode}):\n{output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the proxy was not listening on {port} within {STARTUP_TIMEOUT_S:.0f} s")


@contextmanager
def running_proxy(work: Path, rasa_port: int, inbox_port: int) -> Iterator[tuple[int, int]]:
    """`scripts/deploy-config.sh` (no certificate: self-signed, for localhost; on loopback, free ports) and then
    `scripts/proxy.sh`, as `make deploy-config` and `make proxy` run them; yields (HTTPS port, HTTP port). Stops
    nginx's process group afterwards and checks it is gone."""
    ensure_nginx()
    https_port, http_port = free_port(), free_port()
    env = {**os.environ, "SERVER_NAME": "localhost", "HTTPS_PORT": str(https_port), "HTTP_PORT": str(http_port),
           "PROXY_BIND": "127.0.0.1", "RASA_PORT": str(rasa_port), "INBOX_PORT": str(inbox_port),
           "DEPLOY_DIR": str(work / "deploy"), "PROXY_LOG_DIR": str(work / "logs")}
    for name in ("TLS_CERT", "TLS_KEY", "PUBLIC_HTTPS_PORT", "MAX_BODY"):
        env.pop(name, None)
    made = subprocess.run([str(ROOT / "scripts" / "deploy-config.sh")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    assert "SELF-SIGNED CERTIFICATE" in made.stderr and "school's own certificate" in made.stderr
    process = subprocess.Popen([str(ROOT / "scripts" / "proxy.sh")], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        wait_until_listening(process, https_port, deadline)
        wait_until_listening(process, http_port, deadline)
        yield https_port, http_port
    finally:
        stop_process_group(process)
        assert process.poll() is not None, "nginx did not stop"
        assert not (work / "deploy" / "run" / "nginx.pid").exists(), "nginx did not shut down cleanly (pid file left)"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The proxy in front of two stub upstreams (Rasa, the DSL inbox) that record what reaches them."""
    ensure_nginx()
    work = tmp_path_factory.mktemp("proxy")
    rasa, inbox = Upstream("rasa").start(), Upstream("inbox").start()
    try:
        with running_proxy(work, rasa.port, inbox.port) as (https_port, http_port):
            yield Proxy(https_port, http_port, work / "deploy", work / "logs", rasa, inbox)
    finally:
        rasa.stop()
        inbox.stop()


# ---------------------------------------------------------------------------------------------- what gets through

@pytest.mark.parametrize(("method", "path", "upstream"), [
    ("GET", "/chat/ken-stimpson", "rasa"),
    ("GET", "/chat/ken-stimpson?role=parent&embed=1", "rasa"),
    ("GET", "/chat/embed.js", "rasa"),
    ("GET", "/chat", "rasa"),
    ("GET", "/socket.io/?EIO=4&transport=polling", "rasa"),
    ("POST", "/socket.io/?EIO=4&transport=polling&sid=abc", "rasa"),
    ("POST", "/webhooks/teams/webhook", "rasa"),
    ("GET", "/dsl/health", "inbox"),
    ("POST", "/dsl/login", "inbox"),
])
def test_the_chat_teams_and_the_inbox_reach_their_server_over_https(proxy: Proxy, method: str, path: str,
                                                                     upstream: str) -> None:
    proxy.forget()
    body = b'{"type": "message"}' if method == "POST" else None
    status, _headers, reply = proxy.request(method, path, body,
                                            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil"})
    assert status == 200, reply
    assert json.loads(reply) == {"upstream": upstream, "path": path}
    assert proxy.reached() == [(upstream, path)]
    seen = (proxy.rasa if upstream == "rasa" else proxy.inbox).seen[0]
    assert seen.method == method and seen.body == (body or b"")
    # The servers see the public name and scheme and nginx's view of the client, not what the client claimed.
    assert seen.headers["host"] == f"localhost:{proxy.https_port}"
    assert seen.headers["x-forwarded-host"] == f"localhost:{proxy.https_port}"
    assert seen.headers["x-forwarded-proto"] == "https"
    assert seen.headers["x-forwarded-for"] == "127.0.0.1"
    assert "upgrade" not in seen.headers


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/webhooks/rest/webhook"),
    ("GET", "/webhooks/rest/"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("GET", "/conversations/x/tracker"),
    ("POST", "/conversations/x/messages"),
    ("GET", "/status"),
    ("GET", "/version"),
    ("GET", "/"),
    ("POST", "/webhook"),                      # the action server's path
    ("GET", "/health"),
    ("GET", "/webhooks/webchat_webhook/"),     # the web chat channel's own health route
    ("GET", "/webhooks/teams/webhook"),        # Teams only POSTs
    ("POST", "/chat/ken-stimpson"),            # the chat pages are only read
    ("DELETE", "/dsl/concerns/KMS-2026-0001"),
    ("GET", "/chat/../webhooks/rest/webhook"),
    ("GET", "/chat/..%2Fwebhooks/rest/webhook"),
    ("GET", "/chat/%2e%2e/status"),
    ("GET", "/socket.io/..%2f..%2fconversations/x/tracker"),
    ("GET", "/dsl/..%5c..%5cstatus"),
    ("GET", "//webhooks/rest/webhook"),
    ("GET", "/CHAT/x"),
    ("GET", "/chatx"),
    ("GET", "/dslx"),
])
def test_nothing_else_reaches_any_server(proxy: Proxy, method: str, path: str) -> None:
    proxy.forget()
    body = json.dumps({"sender": "x", "message": CANARY}).encode() if method in ("POST", "PUT") else None
    status, headers, _reply = proxy.request(method, path, body)
    assert status in (400, 403, 404), (method, path, status)
    assert proxy.reached() == []
    assert "Strict-Transport-Security" in headers  # the proxy's own refusals carry its headers too


def test_a_request_for_another_host_name_is_refused(proxy: Proxy) -> None:
    proxy.forget()
    status, _headers, _reply = proxy.request("GET", "/chat/ken-stimpson", host="attacker.example")
    assert status == 421
    assert proxy.reached() == []


def test_a_body_larger_than_the_limit_is_refused(proxy: Proxy) -> None:
    proxy.forget()
    status, _headers, _reply = proxy.request("POST", "/socket.io/?EIO=4&transport=polling&sid=abc",
                                             b"x" * (300 * 1024))
    assert status == 413
    assert proxy.reached() == []


def test_dsl_without_its_slash_redirects_to_the_inbox(proxy: Proxy) -> None:
    proxy.forget()
    status, headers, _reply = proxy.request("GET", "/dsl")
    assert (status, headers["Location"]) == (301, f"https://localhost:{proxy.https_port}/dsl/")
    assert proxy.reached() == []


def test_plain_http_only_redirects_to_https(proxy: Proxy) -> None:
    proxy.forget()
    for method, path in (("GET", "/chat/ken-stimpson?role=parent"), ("POST", "/webhooks/rest/webhook"),
                         ("GET", "/status")):
        connection = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=15)
        try:
            connection.request(method, path, body=b"{}" if method == "POST" else None)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        assert response.status == 301
        assert response.headers["Location"] == f"https://localhost:{proxy.https_port}{path}"
    assert proxy.reached() == []


# ---------------------------------------------------------------------------------------------- headers

def test_security_headers_are_set_and_the_apps_csp_is_kept(proxy: Proxy) -> None:
    _status, chat, _ = proxy.request("GET", "/chat/ken-stimpson")
    assert chat.get_all("Strict-Transport-Security") == ["max-age=31536000"]
    assert chat.get_all("X-Content-Type-Options") == ["nosniff"]  # once, though the app sends it too
    assert chat.get_all("Referrer-Policy") == ["no-referrer"]  # once
    assert chat.get_all("Content-Security-Policy") == [CHAT_CSP]  # the schools' websites may still frame the chat
    assert chat.get_all("X-Frame-Options") is None
    assert chat["Server"] == "nginx"  # no version

    _status, inbox, _ = proxy.request("GET", "/dsl/health")
    assert inbox.get_all("Content-Security-Policy") == [INBOX_CSP]
    assert inbox.get_all("X-Frame-Options") == ["DENY"]  # the inbox is never framed, whatever it sent
    # Kept: under no-referrer a browser's form posts say `Origin: null`, which the inbox's CSRF check refuses.
    assert inbox.get_all("Referrer-Policy") == ["same-origin"]

    # A reply without a CSP of its own (here a socket.io poll) gets a strict one.
    _status, poll, _ = proxy.request("GET", "/socket.io/?EIO=4&transport=polling")
    assert "frame-ancestors 'none'" in poll["Content-Security-Policy"]
    assert poll.get_all("X-Content-Type-Options") == ["nosniff"]
    assert poll.get_all("Referrer-Policy") == ["no-referrer"]


def test_only_modern_tls(proxy: Proxy) -> None:
    context = ssl.create_default_context(cafile=str(proxy.cert))
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", proxy.https_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost"):
                pass
    context = ssl.create_default_context(cafile=str(proxy.cert))
    with socket.create_connection(("127.0.0.1", proxy.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


# ---------------------------------------------------------------------------------------------- websocket

def test_a_websocket_upgrade_is_passed_through_to_rasa(proxy: Proxy) -> None:
    proxy.forget()
    key = base64.b64encode(os.urandom(16)).decode()
    path = "/socket.io/?EIO=4&transport=websocket"
    context = ssl.create_default_context(cafile=str(proxy.cert))
    with socket.create_connection(("127.0.0.1", proxy.https_port), timeout=15) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall((f"GET {path} HTTP/1.1\r\nHost: localhost:{proxy.https_port}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                         f"Origin: https://localhost:{proxy.https_port}\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = tls.recv(4096)
                assert chunk, f"the proxy closed the connection: {head!r}"
                head += chunk
            status_line, _, rest = head.partition(b"\r\n")
            assert status_line.startswith(b"HTTP/1.1 101"), head
            # The tunnel is open: bytes go to the stub Rasa and back.
            tls.sendall(b"ping")
            echoed = rest.partition(b"\r\n\r\n")[2]
            deadline = time.monotonic() + 10
            while b"echo:ping" not in echoed and time.monotonic() < deadline:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                echoed += chunk
            assert echoed == b"echo:ping"
    [seen] = proxy.rasa.seen
    assert seen.path == path
    assert seen.headers["upgrade"].lower() == "websocket"
    assert seen.headers["connection"].lower() == "upgrade"
    assert seen.headers["sec-websocket-key"] == key
    assert seen.headers["x-forwarded-proto"] == "https"
    assert proxy.inbox.seen == []


# ---------------------------------------------------------------------------------------------- logs and files

def test_no_query_string_or_body_reaches_the_logs(proxy: Proxy) -> None:
    proxy.request("GET", f"/chat/ken-stimpson?role=parent&q={CANARY}")
    proxy.request("POST", f"/socket.io/?EIO=4&transport=polling&sid={CANARY}", f'42["user_uttered",'
                  f'{{"message":"{CANARY}"}}]'.encode())
    proxy.request("POST", "/webhooks/teams/webhook", json.dumps({"text": CANARY}).encode())
    proxy.request("GET", f"/dsl/concerns/KMS-2026-0001?note={CANARY}")
    proxy.request("GET", f"/chat/boom?q={CANARY}")  # a 502: nginx's error line would quote the request line
    proxy.request("GET", f"/status?{CANARY}")
    access = (proxy.log_dir / "nginx-access.log").read_text()
    error = (proxy.log_dir / "nginx-error.log").read_text()
    assert '"GET /chat/ken-stimpson" 200' in access  # the log is written, paths only
    assert '"GET /dsl/..." 200' in access and "KMS-2026-0001" not in access
    assert " 502 " in access
    assert CANARY not in access and "?" not in access
    assert CANARY not in error


def test_the_generated_files_are_private(proxy: Proxy) -> None:
    for path in (proxy.deploy_dir / "nginx.conf", proxy.deploy_dir / "deploy.env",
                 proxy.deploy_dir / "tls" / "selfsigned.key", proxy.log_dir / "nginx-access.log"):
        assert path.stat().st_mode & 0o077 == 0, path
    conf = (proxy.deploy_dir / "nginx.conf").read_text()
    assert "@@" not in "\n".join(line for line in conf.splitlines() if not line.lstrip().startswith("#"))
    assert "$request_uri" not in conf.split("log_format", 1)[1].split(";", 1)[0]


def test_deploy_config_refuses_a_key_that_is_not_the_certificates(tmp_path: Path) -> None:
    def make(name: str) -> tuple[Path, Path]:
        cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=chat.school.example", "-addext",
                        "subjectAltName=DNS:chat.school.example", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=30)
        return cert, key
    cert, key = make("a")
    _other_cert, other_key = make("b")
    env = {**os.environ, "SERVER_NAME": "chat.school.example", "DEPLOY_DIR": str(tmp_path / "deploy"),
           "PROXY_LOG_DIR": str(tmp_path / "logs")}
    script = str(ROOT / "scripts" / "deploy-config.sh")
    wrong = subprocess.run([script], env={**env, "TLS_CERT": str(cert), "TLS_KEY": str(other_key)},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0 and "not the private key" in wrong.stderr
    bad_name = subprocess.run([script], env={**env, "SERVER_NAME": "chat.school.example;evil", "TLS_CERT": str(cert),
                                             "TLS_KEY": str(key)}, capture_output=True, text=True, timeout=60)
    assert bad_name.returncode != 0 and "SERVER_NAME" in bad_name.stderr
    right = subprocess.run([script], env={**env, "TLS_CERT": str(cert), "TLS_KEY": str(key)},
                           capture_output=True, text=True, timeout=60)
    assert right.returncode == 0, right.stderr
    assert "SELF-SIGNED" not in right.stderr
    assert f"ssl_certificate     {cert};" in (tmp_path / "deploy" / "nginx.conf").read_text()
    assert "expires within 30 days" in right.stderr  # a 2-day certificate


# ---------------------------------------------------------------------------------------------- the real Rasa

@pytest.mark.e2e
def test_the_real_web_chat_works_through_the_proxy(servers: AssistantServers,
                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    """The real Rasa server behind the proxy: the chat page keeps its own CSP, and the socket's origin check accepts
    the public https origin the proxy forwards (Host, X-Forwarded-Proto) and refuses another site's."""
    work = tmp_path_factory.mktemp("proxy-real")
    with running_proxy(work, servers.rasa_port, free_port()) as (https_port, _http_port):
        context = ssl.create_default_context(cafile=str(work / "deploy" / "tls" / "selfsigned.crt"))

        def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
            connection = http.client.HTTPSConnection("localhost", https_port, context=context, timeout=30)
            try:
                connection.request("GET", path, headers=headers or {})
                response = connection.getresponse()
                return response.status, response.headers, response.read()
            finally:
                connection.close()

        status, headers, _page = get("/chat/ken-stimpson")
        assert status == 200
        assert "frame-ancestors" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]  # the app's own, not the proxy's default
        handshake = "/socket.io/?EIO=4&transport=polling"
        status, _headers, body = get(handshake, {"Origin": f"https://localhost:{https_port}"})
        assert status == 200 and b'"sid"' in body
        status, _headers, _body = get(handshake, {"Origin": "https://attacker.example"})
        assert status == 400
        assert get("/status")[0] == 404 and get("/version")[0] == 404
