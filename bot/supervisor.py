"""Keep `make run`'s servers running: start each, restart one that dies (with back-off) while the others keep
serving, and stop them all cleanly on SIGTERM / SIGINT / SIGHUP.

    python -m bot.supervisor [--log FILE] [--grace S] [--exit-with-parent] \\
        ::: NAME LOG CHECK COMMAND... ::: NAME LOG CHECK COMMAND...

Each server is a group after `:::`: its name (for the log), the file its output goes to, a readiness check
(`http://…` answered with any status below 500, `tcp://host:port` accepting a connection, or `-` for none: then
"up 3 s" counts as ready) and its command. scripts/serve.sh runs it; it keeps preparing the environment and secrets
and printing where to chat.

Why a small Python supervisor and not bash, systemd or a package: bash's `wait -n` cannot say *which* server died
or how (the 2026-12-05 fault trial: the action server was SIGKILLed and the script stopped the whole assistant,
leaving 26 of 40 disclosures with no reply), and restart timers, signal forwarding and process-group clean-up in
bash are hard to test; `make run` must work for an ordinary user on any machine, so systemd (which production
uses, config/deploy/systemd/, with the same policy) is not assumed; supervisord or circus would be another
dependency in the lock for ~250 lines of standard library. This one is single-threaded, polls every 0.2 s and is
unit-tested with tiny fake servers (tests/test_supervisor.py).

The policy:
  * a server that exits before it was ever ready (first start) is a start-up failure, not a crash: restarting a
    bad configuration in a loop helps nobody, so everything stops and the exit status is 1;
  * after that, a server that dies is restarted after 1 s, then 2, 4, 8, 16, 30, 30 … s while it keeps dying; a
    run that stayed up 60 s starts the count again. The others are never touched;
  * each server runs in its own session (so a terminal's Ctrl-C reaches only the supervisor, which stops them in
    order) and gets SIGTERM should the supervisor itself die; a dead server's process group is swept with SIGKILL
    before its restart, so nothing it forked holds its port;
  * stopping sends SIGTERM to every server's process group, SIGKILL to what is left after `--grace` seconds (10),
    and exits 0: bounded, nothing left behind.

The log says which server died and how (exit status or signal) and how long it had been up; never anything from
its output or a message (disclosures): a server's own output goes only to its own log file.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, Callable, Sequence
from urllib.parse import urlsplit

#: Separates the servers on the command line (a lone `--` may be one of a command's own arguments).
GROUP_SEPARATOR = ":::"
#: With no readiness check, a server that has stayed up this long counts as started.
SETTLE_S = 3.0
#: Linux prctl option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


class SupervisorConfigError(ValueError):
    """The command line or settings describe no runnable set of servers."""


@dataclass(frozen=True)
class BackOff:
    """The delay before restarting a server that died: `first_s`, doubled per consecutive death, at most `max_s`;
    a run that lasted `stable_s` or more resets the count."""

    first_s: float = 1.0
    max_s: float = 30.0
    stable_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.first_s > 0:
            raise SupervisorConfigError(f"the first restart delay must be positive, not {self.first_s:g} s")
        if self.max_s < self.first_s:
            raise SupervisorConfigError(
                f"the longest restart delay ({self.max_s:g} s) is shorter than the first ({self.first_s:g} s)")
        if self.stable_s < 0:
            raise SupervisorConfigError(f"the stable time must not be negative, not {self.stable_s:g} s")

    def delay(self, deaths: int) -> float:
        """The delay before the restart that follows the `deaths`-th consecutive death (1, 2, …)."""
        if deaths < 1:
            raise SupervisorConfigError(f"deaths counts from 1, not {deaths}")
        return min(self.max_s, self.first_s * 2 ** min(deaths - 1, 62))


@dataclass(frozen=True)
class ServerSpec:
    """One server: a name for the log, its command, where its output goes, and how to tell it is ready."""

    name: str
    command: tuple[str, ...]
    log: Path | None = None
    check: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise SupervisorConfigError(f"a server's name must be letters, digits, - or _, not {self.name!r}")
        if not self.command:
            raise SupervisorConfigError(f"server {self.name} has no command")
        if self.check is not None and urlsplit(self.check).scheme not in ("http", "https", "tcp"):
            raise SupervisorConfigError(
                f"server {self.name}: the readiness check must be http://…, https://…, tcp://host:port or -, "
                f"not {self.check!r}")


def parse_servers(words: Sequence[str]) -> list[ServerSpec]:
    """`::: NAME LOG CHECK COMMAND... ::: …` (LOG and CHECK may be `-`) into server specs."""
    if not words or words[0] != GROUP_SEPARATOR:
        raise SupervisorConfigError(f"expected servers as '{GROUP_SEPARATOR} NAME LOG CHECK COMMAND...'")
    groups: list[list[str]] = []
    for word in words:
        if word == GROUP_SEPARATOR:
            groups.append([])
        else:
            groups[-1].append(word)
    specs: list[ServerSpec] = []
    for group in groups:
        if len(group) < 4:
            raise SupervisorConfigError(
                f"a server needs NAME LOG CHECK COMMAND (got {len(group)} word{'s' if len(group) != 1 else ''} "
                f"after '{GROUP_SEPARATOR}')")
        name, log, check, *command = group
        specs.append(ServerSpec(name, tuple(command), None if log == "-" else Path(log),
                                None if check == "-" else check))
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SupervisorConfigError(f"two servers are named {duplicates[0]}")
    return specs


def describe_exit(returncode: int) -> str:
    """`exit status 1` or `killed by SIGKILL`: how a process ended, from Popen's returncode."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def probe(check: str, timeout_s: float = 1.0) -> bool:
    """True when the check answers: an HTTP status below 500, or a TCP connection accepted."""
    parts = urlsplit(check)
    if parts.scheme == "tcp":
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=timeout_s):
                return True
        except OSError:
            return False
    try:
        with urllib.request.urlopen(check, timeout=timeout_s) as response:
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except (OSError, ValueError):
        return False


def _prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, else None. Looked up in the parent: the child between fork and exec does little."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _set_parent_death_signal(sig: int, prctl: Callable[..., int] | None = None) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (nothing elsewhere)."""
    prctl = prctl or _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _child_setup(parent: int) -> Callable[[], None]:
    prctl = _prctl()

    def setup() -> None:  # runs in the child between fork and exec
        _set_parent_death_signal(signal.SIGTERM, prctl)
        if os.getppid() != parent:  # the supervisor died before prctl took effect
            os._exit(1)
    return setup


@dataclass
class _Server:
    spec: ServerSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    #: True once the first run passed its readiness check: later deaths are crashes, not start-up failures.
    ever_ready: bool = False
    #: The current run has passed its readiness check (or has no check and has settled).
    ready: bool = False
    deaths: int = 0
    restarts: int = 0
    died_at: float | None = None
    restart_at: float | None = None
    next_probe: float = 0.0


@dataclass
class Supervisor:
    """Runs `specs` and keeps them running; `run()` until a signal, or `start()` / `step()` / `stop()` by hand."""

    specs: Sequence[ServerSpec]
    backoff: BackOff = field(default_factory=BackOff)
    grace_s: float = 10.0
    poll_s: float = 0.2
    log_file: Path | None = None
    #: Where log lines go besides `log_file` (stderr by default).
    echo: IO[str] | None = None
    clock: Callable[[], float] = time.monotonic
    env: dict[str, str] | None = None
    cwd: Path | None = None
    #: With no readiness check, a run this long counts as started.
    settle_s: float = SETTLE_S
    servers: list[_Server] = field(default_factory=list, init=False)
    failed: bool = field(default=False, init=False)
    _stopping: bool = field(default=False, init=False)
    _stopped: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if not self.specs:
            raise SupervisorConfigError("no servers to supervise")
        if self.grace_s < 0:
            raise SupervisorConfigError(f"the stop grace must not be negative, not {self.grace_s:g} s")
        self.servers = [_Server(spec) for spec in self.specs]

    # ------------------------------------------------------------------------------------------------- running
    def run(self, install_signals: bool = True) -> int:
        """Start every server and supervise until a stop signal (exit 0) or a start-up failure (exit 1)."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
        try:
            self.start()
            while not self._stopping:
                self.step()
                if not self._stopping:
                    time.sleep(self.poll_s)
        finally:
            self.stop()
        return 1 if self.failed else 0

    def request_stop(self) -> None:
        self._stopping = True

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stopping:
            self.say(f"{signal.Signals(signum).name}: stopping every server")
        self._stopping = True

    def start(self) -> None:
        names = ", ".join(server.spec.name for server in self.servers)
        self.say(f"starting {names} (pid {os.getpid()}); a server that dies is restarted after "
                 f"{self.backoff.first_s:g} s, doubling to {self.backoff.max_s:g} s")
        for server in self.servers:
            self._launch(server)

    def step(self) -> None:
        """One look at every server: note readiness, notice deaths, restart those whose back-off has passed."""
        now = self.clock()
        for server in self.servers:
            if self._stopping:
                return
            process = server.process
            if process is None:
                if server.restart_at is not None and now >= server.restart_at:
                    server.restarts += 1
                    self._launch(server)
                continue
            returncode = process.poll()
            if returncode is None:
                self._check_ready(server, now)
                continue
            self._on_death(server, returncode, now)

    def _check_ready(self, server: _Server, now: float) -> None:
        if server.ready or now < server.next_probe:
            return
        check = server.spec.check
        ready = (now - server.started_at >= self.settle_s) if check is None else probe(check)
        server.next_probe = now + min(0.5, self.poll_s)
        if not ready:
            return
        server.ready = True
        if server.ever_ready and server.died_at is not None:
            what = "answers its check" if check is not None else f"has stayed up {self.settle_s:g} s"
            self.say(f"{server.spec.name} {what} again, {now - server.died_at:.1f} s after it died")
        server.ever_ready = True

    def _on_death(self, server: _Server, returncode: int, now: float) -> None:
        up = now - server.started_at
        name, how = server.spec.name, describe_exit(returncode)
        assert server.process is not None
        _sweep(server.process.pid)
        server.process = None
        server.died_at = now
        server.ready = False
        if not server.ever_ready:
            self.say(f"{name} failed to start ({how}, after {up:.1f} s); stopping every server "
                     f"(see {server.spec.log or 'its output'})")
            self.failed = True
            self._stopping = True
            return
        server.deaths = 1 if up >= self.backoff.stable_s else server.deaths + 1
        delay = self.backoff.delay(server.deaths)
        server.restart_at = now + delay
        self.say(f"{name} died ({how}, up {up:.1f} s); restarting in {delay:g} s "
                 f"({server.deaths} death{'s' if server.deaths != 1 else ''} in a row); the others keep serving")

    def _launch(self, server: _Server) -> None:
        spec = server.spec
        output: IO[bytes] | int = subprocess.DEVNULL
        if spec.log is not None:
            spec.log.parent.mkdir(parents=True, exist_ok=True)
            output = spec.log.open("ab" if server.restarts else "wb")
        try:
            server.process = subprocess.Popen(
                spec.command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_child_setup(os.getpid()), env=self.env, cwd=self.cwd)
        except OSError as error:
            # A command that cannot even be run: like a server that died at once.
            self.say(f"{spec.name} could not be started ({type(error).__name__}: {error.strerror or error})")
            server.process = None
            server.started_at = self.clock()
            if not server.ever_ready:
                self.failed = True
                self._stopping = True
            else:
                server.deaths += 1
                server.restart_at = self.clock() + self.backoff.delay(server.deaths)
            return
        finally:
            if not isinstance(output, int):
                output.close()  # the child has its own copy
        server.started_at = self.clock()
        server.restart_at = None
        server.ready = False
        server.next_probe = server.started_at
        if server.restarts:
            self.say(f"{spec.name} restarted (pid {server.process.pid}, restart {server.restarts})")

    # ------------------------------------------------------------------------------------------------ stopping
    def stop(self) -> None:
        """SIGTERM every server's process group, SIGKILL what is left after `grace_s`; returns within about
        `grace_s` + 5 s. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping = True
        running = [s for s in self.servers if s.process is not None and s.process.poll() is None]
        for server in reversed(running):  # the front door (Rasa, the proxy) first
            assert server.process is not None
            _signal_group(server.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for server in running:
            assert server.process is not None
            try:
                server.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{server.spec.name} did not stop within {self.grace_s:g} s of SIGTERM; killing it")
        for server in self.servers:
            if server.process is None:
                continue
            _sweep(server.process.pid)
            try:
                server.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # unkillable for now (in the kernel): nothing more to do
                self.say(f"{server.spec.name} (pid {server.process.pid}) is still there after SIGKILL")
        self.say("every server stopped")

    # ----------------------------------------------------------------------------------------------------- log
    def say(self, line: str) -> None:
        """A log line: which server, what happened; never a server's output or a message."""
        stamped = f"{datetime.now().isoformat(sep=' ', timespec='seconds')} supervisor: {line}\n"
        echo = self.echo if self.echo is not None else sys.stderr
        echo.write(stamped)
        echo.flush()
        if self.log_file is not None:
            with self.log_file.open("a", encoding="utf-8") as log:
                log.write(stamped)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # each server leads its own session, so its group id is its pid
    except (ProcessLookupError, PermissionError):
        pass


def _sweep(pid: int) -> None:
    """SIGKILL whatever is left in a server's process group (its leader may have gone already)."""
    _signal_group(pid, signal.SIGKILL)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index(GROUP_SEPARATOR) if GROUP_SEPARATOR in argv else len(argv)
    parser = argparse.ArgumentParser(prog="python -m bot.supervisor", description=__doc__.split("\n\n")[0],
                                     epilog=f"then the servers: {GROUP_SEPARATOR} NAME LOG CHECK COMMAND... "
                                            f"(LOG and CHECK may be -)")
    parser.add_argument("--log", type=Path, help="also append the supervisor's own lines to this file")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL (10)")
    parser.add_argument("--first-delay", type=float, default=1.0, help="the first restart delay (1 s)")
    parser.add_argument("--max-delay", type=float, default=30.0, help="the longest restart delay (30 s)")
    parser.add_argument("--stable", type=float, default=60.0,
                        help="a run this long resets the delay to the first (60 s)")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop every server when the process that started this one dies (scripts/serve.sh)")
    args = parser.parse_args(argv[:split])
    try:
        specs = parse_servers(argv[split:])
        supervisor = Supervisor(specs, BackOff(args.first_delay, args.max_delay, args.stable), grace_s=args.grace,
                                log_file=args.log)
    except SupervisorConfigError as problem:
        parser.exit(2, f"supervisor: {problem}\n")
    if args.exit_with_parent:
        _set_parent_death_signal(signal.SIGTERM)
    return supervisor.run()


if __name__ == "__main__":
    raise SystemExit(main())
