"""`python -m bot.dsl_inbox [--host H] [--port P]`: serve the DSL inbox (scripts/serve.sh starts it on loopback;
a reverse proxy with TLS is what a school's network reaches). The safeguarding settings are checked before it
listens, so a bad file stops the start with a message naming it."""

from __future__ import annotations

import argparse
import logging
import os
import sys

DEFAULT_PORT = 5056


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.dsl_inbox", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("POLICYBOT_BIND_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("INBOX_PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.core import logredact
    from bot.dsl_inbox.web import build_default_app

    # Sanic logs what it handles; as in the other servers, no third-party log line carries a value.
    logredact.install()

    try:
        app = build_default_app()
    except (ValueError, OSError) as problem:
        print(f"DSL inbox: cannot start: {problem}", file=sys.stderr)
        return 2
    # One worker, no access log (URLs name references), no banner; Sanic's own error pages are replaced in web.py.
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
