"""The action server, closed: rasa-sdk's app with the shared secret checked on every call, bound to loopback, and an
error reply that never echoes the tracker.

`rasa run actions` would listen on every interface and run any action for anyone who can reach it: a POST with a
made-up tracker and `next_action: action_dsl_handoff` created a real concern record and a DSL email. Rasa sends the
secret as `Authorization: Bearer …` (endpoints.yml `action_endpoint.headers`, from POLICYBOT_ACTION_TOKEN); without
it every path but /health is 401 and nothing runs. rasa-sdk's own error handler answers a failing action with the
whole request body (the tracker, children's words included), which Rasa then logs; this one says only which action
failed. It checks the safeguarding configuration before it listens, and starts the notification outbox with the
server.

Run: python -m channels.action_server --port 5055   (POLICYBOT_ACTION_TOKEN and POLICYBOT_BIND_HOST from the
environment; scripts/serve.sh and the test harness set them).
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import MutableMapping, Sequence

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.core import logredact
from channels.bearer import bearer_matches

log = logging.getLogger(__name__)

TOKEN_ENV = "POLICYBOT_ACTION_TOKEN"
BIND_ENV = "POLICYBOT_BIND_HOST"
#: Long enough that guessing is hopeless; scripts/serve.sh makes a 43-character one.
MIN_TOKEN_CHARS = 32
OPEN_PATHS = frozenset({"/health"})


#: numpy's OpenBLAS (and faiss's) start a worker thread per core, and an idle worker busy-waits after every call. A
#: turn here makes only one-query products (a question against a school's passages and sentences), far too small to
#: share out, so the spinning was pure waste: with the question's embedding carried from the Rasa server (issue 15),
#: most of this server's CPU per turn, and a core taken from the Rasa server beside it. Read when the library loads,
#: so set before anything imports numpy; an operator's own value wins.
ONE_THREAD_MATH = ("OPENBLAS_NUM_THREADS",)


def single_threaded_math(environ: MutableMapping[str, str] | None = None) -> None:
    """Give the math libraries one thread each unless the environment already says otherwise."""
    target = os.environ if environ is None else environ
    for name in ONE_THREAD_MATH:
        target.setdefault(name, "1")


class ActionServerConfigError(ValueError):
    """The action server cannot start safely (no secret, or one too short to be a secret)."""


def required_token(environ: dict[str, str] | None = None) -> str:
    token = (environ if environ is not None else os.environ).get(TOKEN_ENV, "").strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise ActionServerConfigError(
            f"{TOKEN_ENV} must hold the shared secret Rasa sends to the action server (at least {MIN_TOKEN_CHARS} "
            f"characters; `make run` makes one in artifacts/action-token)")
    return token


def create_app(token: str, actions_package: str = "actions") -> Sanic:
    """rasa-sdk's app for `actions_package`, behind the shared secret, with a reply-safe error handler."""
    from rasa_sdk.endpoint import create_app as sdk_app

    if len(token) < MIN_TOKEN_CHARS:
        raise ActionServerConfigError(f"the action server's secret must be at least {MIN_TOKEN_CHARS} characters")
    app = sdk_app(actions_package, cors_origins=None)

    @app.middleware("request")
    async def require_secret(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or bearer_matches(request.headers.get("authorization"), token):
            return None
        log.warning("action server: refused a %s to %s without the shared secret", request.method, request.path)
        return response.json({"error": "unauthorised"}, status=401)

    @app.exception(Exception)
    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        # The request body is the tracker: never in the reply, never in the log. The action and the error's type
        # are enough to find the fault.
        if isinstance(exception, SanicException):  # not found, bad method: no action ran
            return response.json({"error": type(exception).__name__}, status=exception.status_code)
        try:
            body = request.json if isinstance(request.json, dict) else {}
        except Exception:  # noqa: BLE001 - an unreadable body names no action
            body = {}
        action = str(body.get("next_action", "?"))
        log.error("action %s failed: %s", action, type(exception).__name__)
        return response.json({"error": "the action failed", "action_name": action}, status=500)

    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m channels.action_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions", help="the package of actions to serve")
    args = parser.parse_args(argv)
    single_threaded_math()  # before the actions import numpy
    # rasa-sdk and Sanic log what they handle; no message text may reach this log (bot/core/logredact.py).
    logredact.install()
    # LOG_LEVEL is Rasa's own variable: both servers follow it.
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    logging.basicConfig(level=level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO",
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        token = required_token()
    except ActionServerConfigError as problem:
        parser.exit(2, f"action server: {problem}\n")
    try:
        # A bad safeguarding.yml stops the start here, with the file and the school named, rather than at the
        # first disclosure, when a child is waiting for the reply.
        from actions import services

        services.concern_store()
    except ValueError as problem:
        parser.exit(2, f"action server: {problem}\n")
    host = os.environ.get(BIND_ENV, "127.0.0.1")
    app = create_app(token, args.actions)

    @app.listener("after_server_start")
    async def deliver_notifications(*_: object) -> None:
        # Notifications still pending from before a restart go out now, not at the next disclosure.
        services.outbox_worker()
    log.info("action server on http://%s:%d (every call but /health needs the shared secret)", host, args.port)
    app.run(host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
