"""bot/supervisor.py with tiny fake servers (sh and python one-liners): restart with back-off while the others keep
running, a start-up failure stops everything, and stopping is clean and bounded, grandchildren included."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import settings
from bot.supervisor import (BackOff, ServerSpec, Supervisor, SupervisorConfigError, describe_exit, parse_servers,
                            probe)

CANARY = "wombat-canary-5521"


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _drive(supervisor: Supervisor, seconds: float, until: object = None) -> None:
    """Call step() for `seconds` (or until `until()` is true), as run() would, without signal handlers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (callable(until) and until()):
        supervisor.step()
        time.sleep(0.02)


def _sh(script: str) -> tuple[str, ...]:
    return ("sh", "-c", script)


# ------------------------------------------------------------------------------------------------ the policy
def test_the_delay_doubles_from_one_second_to_thirty() -> None:
    assert [BackOff().delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert BackOff(0.2, 0.5).delay(1000) == 0.5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"first_s": 0}, r"^the first restart delay must be positive, not 0 s$"),
    ({"first_s": 2, "max_s": 1}, r"^the longest restart delay \(1 s\) is shorter than the first \(2 s\)$"),
    ({"stable_s": -1}, r"^the stable time must not be negative, not -1 s$"),
])
def test_a_back_off_that_makes_no_sense_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(SupervisorConfigError, match=message):
        BackOff(**kwargs)


def test_deaths_count_from_one() -> None:
    with pytest.raises(SupervisorConfigError, match=r"^deaths counts from 1, not 0$"):
        BackOff().delay(0)


def test_how_a_server_ended_is_named() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(0) == "exit status 0"


# -------------------------------------------------------------------------------------------- the command line
def test_servers_are_read_from_groups() -> None:
    specs = parse_servers([":::", "actions", "logs/a.log", "http://127.0.0.1:5055/health", "python", "-m", "x",
                           ":::", "mail", "-", "-", "sleep", "--", "9"])
    assert specs == [
        ServerSpec("actions", ("python", "-m", "x"), Path("logs/a.log"), "http://127.0.0.1:5055/health"),
        ServerSpec("mail", ("sleep", "--", "9"), None, None),
    ]


@pytest.mark.parametrize(("words", "message"), [
    ([], r"^expected servers as '::: NAME LOG CHECK COMMAND\.\.\.'$"),
    (["a", "-", "-", "true"], r"^expected servers as '::: NAME LOG CHECK COMMAND\.\.\.'$"),
    ([":::", "a", "-", "-"], r"^a server needs NAME LOG CHECK COMMAND \(got 3 words after ':::'\)$"),
    ([":::", "a", "-", "-", "true", ":::"], r"^a server needs NAME LOG CHECK COMMAND \(got 0 words after ':::'\)$"),
    ([":::", "a", "-", "-", "true", ":::", "a", "-", "-", "false"], r"^two servers are named a$"),
    ([":::", "a b", "-", "-", "true"], r"^a server's name must be letters, digits, - or _, not 'a b'$"),
    ([":::", "a", "-", "ftp://x", "true"],
     r"^server a: the readiness check must be http://…, https://…, tcp://host:port or -, not 'ftp://x'$"),
])
def test_a_bad_command_line_is_refused(words: list[str], message: str) -> None:
    with pytest.raises(SupervisorConfigError, match=message):
        parse_servers(words)


def test_no_servers_no_supervisor() -> None:
    with pytest.raises(SupervisorConfigError, match=r"^no servers to supervise$"):
        Supervisor([])


def test_probes_answer_false_when_nothing_listens() -> None:
    from bot.servers import free_port

    port = free_port()
    assert probe(f"tcp://127.0.0.1:{port}", 0.5) is False
    assert probe(f"http://127.0.0.1:{port}/health", 0.5) is False


# -------------------------------------------------------------------------------------------------- restarts
def test_a_server_that_dies_is_restarted_with_back_off_and_the_others_keep_running(tmp_path: Path) -> None:
    log = io.StringIO()
    crashing = ServerSpec("crashy", _sh(f"echo {CANARY}; sleep 0.3; exit 3"), tmp_path / "crashy.log")
    steady = ServerSpec("steady", ("sleep", "60"), tmp_path / "steady.log")
    supervisor = Supervisor([crashing, steady], BackOff(0.2, 0.8, 30), echo=log, log_file=tmp_path / "sup.log",
                            poll_s=0.02, settle_s=0.1)
    supervisor.start()
    steady_pid = supervisor.servers[1].process.pid  # type: ignore[union-attr]
    try:
        _drive(supervisor, 8, until=lambda: supervisor.servers[0].deaths >= 4)
        assert supervisor.servers[1].process is not None and supervisor.servers[1].process.pid == steady_pid
        assert supervisor.servers[1].process.poll() is None
    finally:
        supervisor.stop()
    lines = log.getvalue()
    delays = re.findall(r"crashy died \(exit status 3, up [\d.]+ s\); restarting in ([\d.]+) s", lines)
    assert delays[:4] == ["0.2", "0.4", "0.8", "0.8"]
    assert "crashy restarted (pid " in lines and "steady died" not in lines
    assert "crashy has stayed up 0.1 s again" in lines
    # The log names servers and how they ended, never what they printed; their output is in their own logs.
    assert CANARY not in lines and CANARY not in (tmp_path / "sup.log").read_text()
    assert (tmp_path / "crashy.log").read_text().count(CANARY) >= 4
    assert not _alive(steady_pid)


def test_a_run_that_stayed_up_resets_the_delay(tmp_path: Path) -> None:
    log = io.StringIO()
    supervisor = Supervisor([ServerSpec("slow", _sh("sleep 0.4; exit 1"))], BackOff(0.2, 5, stable_s=0.3),
                            echo=log, poll_s=0.02, settle_s=0.1)
    supervisor.start()
    try:
        _drive(supervisor, 8, until=lambda: supervisor.servers[0].restarts >= 3)
    finally:
        supervisor.stop()
    assert re.findall(r"restarting in ([\d.]+) s \((\d+) deaths? in a row\)", log.getvalue())[:3] == [
        ("0.2", "1"), ("0.2", "1"), ("0.2", "1")]


def test_a_killed_server_is_named_with_its_signal(tmp_path: Path) -> None:
    log = io.StringIO()
    supervisor = Supervisor([ServerSpec("actions", ("sleep", "60"))], BackOff(0.1, 1), echo=log, poll_s=0.02,
                            settle_s=0.1)
    supervisor.start()
    try:
        _drive(supervisor, 5, until=lambda: supervisor.servers[0].ready)
        first = supervisor.servers[0].process.pid  # type: ignore[union-attr]
        os.kill(first, signal.SIGKILL)
        _drive(supervisor, 5, until=lambda: supervisor.servers[0].ready and supervisor.servers[0].restarts == 1)
        assert supervisor.servers[0].process.pid != first  # type: ignore[union-attr]
    finally:
        supervisor.stop()
    assert re.search(r"actions died \(killed by SIGKILL, up [\d.]+ s\); restarting in 0.1 s", log.getvalue())


def test_a_server_that_fails_to_start_stops_everything_with_status_1(tmp_path: Path) -> None:
    log = io.StringIO()
    other = ServerSpec("steady", ("sleep", "60"))
    broken = ServerSpec("actions", _sh("exit 2"), tmp_path / "actions.log")
    supervisor = Supervisor([other, broken], echo=log, poll_s=0.02, grace_s=2)
    began = time.monotonic()
    assert supervisor.run(install_signals=False) == 1
    assert time.monotonic() - began < 5
    assert "actions failed to start (exit status 2, after" in log.getvalue()
    assert f"(see {tmp_path / 'actions.log'})" in log.getvalue()
    assert not _alive(supervisor.servers[0].process.pid)  # type: ignore[union-attr]


def test_a_command_that_cannot_run_is_a_start_up_failure(tmp_path: Path) -> None:
    log = io.StringIO()
    supervisor = Supervisor([ServerSpec("ghost", (str(tmp_path / "no-such-program"),))], echo=log, poll_s=0.02)
    assert supervisor.run(install_signals=False) == 1
    assert "ghost could not be started (FileNotFoundError: No such file or directory)" in log.getvalue()


# ---------------------------------------------------------------------------------------------------- stopping
def test_stop_is_bounded_and_leaves_nothing_behind(tmp_path: Path) -> None:
    stubborn = ServerSpec("stubborn", (sys.executable, "-c",
                                       "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                       "time.sleep(60)"))
    pidfile = tmp_path / "grandchild.pid"
    forking = ServerSpec("forking", _sh(f"sleep 60 & echo $! > {pidfile}; wait"))
    log = io.StringIO()
    supervisor = Supervisor([stubborn, forking], echo=log, grace_s=0.5, poll_s=0.02)
    supervisor.start()
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the stubborn one has installed its SIGTERM handler
    grandchild = int(pidfile.read_text())
    pids = [server.process.pid for server in supervisor.servers]  # type: ignore[union-attr]
    began = time.monotonic()
    supervisor.stop()
    assert time.monotonic() - began < 3
    assert "stubborn did not stop within 0.5 s of SIGTERM; killing it" in log.getvalue()
    assert not any(_alive(pid) for pid in [*pids, grandchild])
    supervisor.stop()  # twice is harmless


def test_the_command_stops_cleanly_on_sigterm_and_restarts_a_killed_server(tmp_path: Path) -> None:
    """`python -m bot.supervisor` as scripts/serve.sh runs it: restart after SIGKILL, SIGTERM -> exit 0."""
    marker = tmp_path / "pids"
    command = [sys.executable, "-m", "bot.supervisor", "--first-delay", "0.2", "--grace", "2",
               "--log", str(tmp_path / "supervisor.log"),
               ":::", "worker", str(tmp_path / "worker.log"), "-",
               "sh", "-c", f"echo $$ >> {marker}; echo {CANARY}; exec sleep 60",
               ":::", "steady", "-", "-", "sleep", "60"]
    process = subprocess.Popen(command, cwd=settings.PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "supervisor.log").exists() or "worker" not in (tmp_path / "supervisor.log").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        while not marker.exists() or not marker.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(3.5)  # ready: no check, so after 3 s up
        first = int(marker.read_text().split()[0])
        os.kill(first, signal.SIGKILL)
        while len(marker.read_text().split()) < 2:
            assert time.monotonic() < deadline, "the killed worker was not restarted"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - began < 5
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    stderr = process.stderr.read().decode()  # type: ignore[union-attr]
    assert re.search(r"supervisor: worker died \(killed by SIGKILL, up [\d.]+ s\); restarting in 0.2 s", stderr)
    assert "supervisor: SIGTERM: stopping every server" in stderr and "every server stopped" in stderr
    assert stderr.count("\n") == (tmp_path / "supervisor.log").read_text().count("\n")
    assert CANARY not in stderr
    assert not any(_alive(int(pid)) for pid in marker.read_text().split())


def test_the_command_refuses_a_bad_command_line_with_status_2() -> None:
    result = subprocess.run([sys.executable, "-m", "bot.supervisor", ":::", "a", "-", "-"],
                            cwd=settings.PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr == "supervisor: a server needs NAME LOG CHECK COMMAND (got 3 words after ':::')\n"


def test_with_exit_with_parent_everything_stops_when_the_start_script_is_killed(tmp_path: Path) -> None:
    """scripts/serve.sh SIGKILLed (no trap runs): the supervisor gets SIGTERM from the kernel and stops its servers."""
    child_pid, supervisor_pid = tmp_path / "child.pid", tmp_path / "supervisor.pid"
    script = (f"{sys.executable} -m bot.supervisor --exit-with-parent --grace 2 ::: server - - "
              f"sh -c 'echo $$ > {child_pid}; exec sleep 60' & echo $! > {supervisor_pid}; wait")
    shell = subprocess.Popen(["bash", "-c", script], cwd=settings.PROJECT_ROOT, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (child_pid.exists() and child_pid.read_text().strip()):
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        pids = [int(supervisor_pid.read_text()), int(child_pid.read_text())]
        shell.kill()
        shell.wait(timeout=5)
        while any(_alive(pid) for pid in pids):
            assert time.monotonic() < deadline + 10, "the supervisor or its server outlived the start script"
            time.sleep(0.05)
    finally:
        if shell.poll() is None:
            shell.kill()
