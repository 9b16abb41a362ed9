"""The `policybot` parser and sub-command dispatch, shared by bot/cli.py and the modules that add sub-commands.

Apart from bot/cli.py because that imports bot/induction/cli.py and bot/safeguarding/inbox_cli.py, which use
this too. Imports only the standard library, so building a parser stays cheap (a test checks SQLAlchemy is not
loaded by it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence, TextIO

EXIT_USAGE = 2

#: Adds sub-commands to the `add_subparsers()` action it is given; each sets `func`, a handler
#: `(args, out, err) -> int`.
Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def build_parser(description: str | None, *registers: Register) -> argparse.ArgumentParser:
    """A `policybot` parser whose sub-commands are added by `registers`, in order (the order --help lists)."""
    parser = argparse.ArgumentParser(prog="policybot", description=description)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for register in registers:
        register(subparsers)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Parse `argv` and run the chosen sub-command's handler; a ValueError it raises becomes one
    `policybot COMMAND: problem` line on stderr and exit 2."""
    out, err = out or sys.stdout, err or sys.stderr
    args = parser.parse_args(argv)
    try:
        return args.func(args, out, err)
    except ValueError as problem:
        err.write(f"policybot {args.command}: {problem}\n")
        return EXIT_USAGE
