"""The action server's guard (channels/action_server.py): the secret is required to start and checked exactly."""

from __future__ import annotations

import pytest

from channels.action_server import (MIN_TOKEN_CHARS, ActionServerConfigError, bearer_matches, create_app,
                                    required_token)

SECRET = "s" * MIN_TOKEN_CHARS


@pytest.mark.parametrize("environ", [{}, {"POLICYBOT_ACTION_TOKEN": ""}, {"POLICYBOT_ACTION_TOKEN": "short"}])
def test_no_secret_or_a_short_one_stops_the_start(environ: dict[str, str]) -> None:
    with pytest.raises(ActionServerConfigError, match=r"^POLICYBOT_ACTION_TOKEN must hold the shared secret Rasa "
                                                      r"sends to the action server \(at least 32 characters"):
        required_token(environ)


def test_the_secret_is_read_from_the_environment() -> None:
    assert required_token({"POLICYBOT_ACTION_TOKEN": f" {SECRET} "}) == SECRET


@pytest.mark.parametrize("header, ok", [
    (f"Bearer {SECRET}", True), (f"bearer {SECRET}", True), (f"Bearer {SECRET}x", False), ("Bearer ", False),
    (SECRET, False), (f"Basic {SECRET}", False), (None, False), ("", False)])
def test_only_the_exact_bearer_secret_passes(header: str | None, ok: bool) -> None:
    assert bearer_matches(header, SECRET) is ok


def test_the_app_refuses_to_be_built_with_a_short_secret() -> None:
    with pytest.raises(ActionServerConfigError, match=r"^the action server's secret must be at least 32 characters$"):
        create_app("short")


def test_a_bad_safeguarding_file_stops_the_start_naming_the_file(tmp_path) -> None:
    """At start-up, not at the first disclosure: exit 2 and the file named."""
    import os
    import subprocess
    import sys

    from bot import settings

    bad = tmp_path / "safeguarding.yml"
    bad.write_text("schools: [this is not a mapping\n", encoding="utf-8")
    env = {**os.environ, "POLICYBOT_ACTION_TOKEN": SECRET, "POLICYBOT_SAFEGUARDING_CONFIG": str(bad),
           "POLICYBOT_CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path / 'concerns.db'}"}
    done = subprocess.run([sys.executable, "-m", "channels.action_server", "--port", "0"], env=env,
                          cwd=settings.PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"action server: {bad}" in done.stderr


def test_the_math_libraries_get_one_thread_unless_the_operator_says_otherwise() -> None:
    """OpenBLAS's idle workers busy-wait after each call: for one-query products that was most of the action
    server's CPU per turn."""
    from channels.action_server import single_threaded_math

    environ: dict[str, str] = {}
    single_threaded_math(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "1"}
    environ = {"OPENBLAS_NUM_THREADS": "4"}
    single_threaded_math(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "4"}


def test_openblas_starts_with_one_thread_in_the_action_server() -> None:
    """main() sets it first thing, and importing the server's module loads no numpy: so OpenBLAS starts with one
    thread (no busy-waiting worker) once the actions import it."""
    import os
    import subprocess
    import sys

    from bot import settings

    probe = ("import sys, channels.action_server as s\n"
             "assert 'numpy' not in sys.modules\n"
             "s.single_threaded_math()\n"
             "from actions import services\n"
             "import numpy, threadpoolctl\n"
             "print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'}))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=settings.PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip().splitlines()[-1] == "[1]"
