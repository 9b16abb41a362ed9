"""No message text in any log: a record from code outside this repository keeps its logger, level, place and the
message as written in its source code, and loses every value.

Why from the source: Rasa writes messages through f-strings and structlog JSON, so what reaches a handler has the
person's words baked into one string (tests/e2e/test_log_redaction.py found `processor.message.parse` carrying
every message at DEBUG, the rule policy's slot dump, and a "/" payload's words in a UserWarning at any level). No
pattern can tell words from wording in such a string; the library's source can. The line that logged a record
holds the call, and the call's message argument is the static template: a literal stays, an f-string keeps its
literal parts with `{expression}` where a value was, a %-template gets its arguments' expressions, structlog's
event name gets its keys. Exceptions keep their type and stack, not their message. This repository's own code
(bot/, actions/, channels/, components/, tools/) is trusted as it is: its tests check it never logs content.

`install()` puts it in a process: at record creation (so the handlers Rasa, coloredlogs and Sanic add after
start-up are covered too), for `warnings` (shown, not logged, by Python) and for uncaught exceptions.
"""

from __future__ import annotations

import ast
import functools
import linecache
import logging
import os
import re
import sys
import threading
import traceback
import warnings
from types import FrameType, TracebackType
from typing import Any, Callable, TextIO

from bot import settings

HIDDEN = "<hidden>"
#: Where the records of unknown origin say what they were: the place is in the record already.
UNKNOWN_MESSAGE = "<message hidden>"
TRUSTED_DIRS: tuple[str, ...] = tuple(str(settings.PROJECT_ROOT / name) + os.sep
                                      for name in ("bot", "actions", "channels", "components", "tools"))

#: Calls whose first argument is the message: logging's, structlog's and warnings' (Rasa wraps `warnings.warn`).
_MESSAGE_FIRST = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "msg",
                            "raise_warning", "raise_deprecation_warning"})
#: Calls whose second argument is the message: `logger.log(level, msg, ...)`.
_MESSAGE_SECOND = frozenset({"log"})
_PERCENT_SPEC = re.compile(r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conv>[a-zA-Z%])")
_REDACTED = "_policybot_redacted"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def trusted(path: str) -> bool:
    """Code of this repository (not its virtualenv): its log messages are written never to hold content."""
    return os.path.abspath(path).startswith(TRUSTED_DIRS)


# ------------------------------------------------------------------------------------------ templates from source


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


@functools.lru_cache(maxsize=512)
def _calls_by_line(path: str) -> dict[int, tuple[ast.Call, ...]] | None:
    """Every message-taking call in the file, under each line it spans; None when the source cannot be read."""
    source = "".join(linecache.getlines(path))
    if not source:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    found: dict[int, list[ast.Call]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in _MESSAGE_FIRST | _MESSAGE_SECOND:
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                found.setdefault(line, []).append(node)
    return {line: tuple(calls) for line, calls in found.items()}


def _message_call(path: str, lineno: int) -> ast.Call | None:
    """The innermost message-taking call spanning `lineno` (Python 3.11 reports a call by its first line)."""
    calls = (_calls_by_line(path) or {}).get(lineno)
    if not calls:
        return None
    return min(calls, key=lambda call: ((call.end_lineno or call.lineno) - call.lineno, call.lineno != lineno))


def _expression(node: ast.AST) -> str:
    return "{" + ast.unparse(node) + "}"


def _render(node: ast.AST, args: list[ast.expr]) -> tuple[str, bool]:
    """(template, whether any of it is literal text) for a message expression and the call's other positional
    arguments (a %-template's values)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if not args:
            return node.value, bool(node.value)
        values = iter(args)

        def spec(match: re.Match[str]) -> str:
            if match["conv"] == "%":
                return "%"
            if match["key"] is not None:
                return "{" + match["key"] + "}"
            value = next(values, None)
            return _expression(value) if value is not None else "{…}"

        return _PERCENT_SPEC.sub(spec, node.value), bool(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = [str(part.value) if isinstance(part, ast.Constant) else
                 _expression(part.value) if isinstance(part, ast.FormattedValue) else "{…}" for part in node.values]
        return "".join(parts), any(isinstance(part, ast.Constant) and part.value for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _render(node.left, []), _render(node.right, [])
        return left[0] + right[0], left[1] or right[1]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # "..." % values
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        return _render(node.left, list(values))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)):
        return str(node.func.value.value), True
    return _expression(node), False


def static_message(path: str, lineno: int) -> tuple[str, bool] | None:
    """The message template written at `path`:`lineno` and whether it has literal text; None when that line holds
    no logging or warning call (or the file cannot be read)."""
    call = _message_call(path, lineno)
    if call is None:
        return None
    position = 1 if _call_name(call) in _MESSAGE_SECOND else 0
    positional = [arg for arg in call.args if not isinstance(arg, ast.Starred)]
    if len(positional) <= position:
        return None
    template, literal = _render(positional[position], positional[position + 1:])
    # structlog: the first argument is the event's name and the values are keywords; their names say what it held.
    keys = [keyword.arg for keyword in call.keywords
            if keyword.arg and keyword.arg not in ("exc_info", "stack_info", "stacklevel", "extra")]
    if keys and "%" not in template and "{" not in template:
        template += " " + " ".join(f"{key}={{…}}" for key in keys)
    return template, literal


# ------------------------------------------------------------------------------------------ exceptions


def _hide_messages(exception: traceback.TracebackException, seen: set[int]) -> None:
    if id(exception) in seen:
        return
    seen.add(id(exception))
    # TracebackException keeps the message it prints in `_str` (so since Python 3.5); notes and a SyntaxError's
    # line can hold values too.
    exception._str = HIDDEN  # type: ignore[attr-defined]
    exception.__notes__ = None  # type: ignore[attr-defined]
    if getattr(exception, "text", None) is not None:
        exception.text, exception.msg = None, HIDDEN  # type: ignore[attr-defined]
    for linked in (exception.__cause__, exception.__context__, *(getattr(exception, "exceptions", None) or ())):
        if linked is not None:
            _hide_messages(linked, seen)


def redacted_traceback(exc_info: ExcInfo) -> str:
    """The traceback as Python prints it (stack, source lines of the code, exception types, the chain), with each
    exception's message shown as <hidden>: an exception's text may quote what it was handling."""
    exception = traceback.TracebackException(*exc_info, compact=True)
    _hide_messages(exception, set())
    return "".join(exception.format()).rstrip("\n")


# ------------------------------------------------------------------------------------------ records


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Make `record` safe to write, in place (once), unless it comes from this repository's code; returns it."""
    if getattr(record, _REDACTED, False):
        return record
    setattr(record, _REDACTED, True)
    if trusted(record.pathname):
        return record
    found = static_message(record.pathname, record.lineno)
    if found is not None:
        record.msg = found[0]
    elif record.msg != "" or record.args:  # Sanic's access line is "" with its fields in `extra`: nothing to hide
        record.msg = UNKNOWN_MESSAGE
    record.args = ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redacted_traceback(record.exc_info)  # type: ignore[arg-type]
    record.exc_info = None
    return record


class RedactFilter(logging.Filter):
    """The same as a handler or logger filter, for a handler `install()` cannot reach (another process's setup)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


# ------------------------------------------------------------------------------------------ warnings


def _warning_template(filename: str, lineno: int, frame: FrameType | None) -> str:
    """The warning's message as written in source: at the warn call, or, when that passes a variable on (Rasa's
    `raise_warning` does), at the nearest caller whose call has literal text."""
    fallback = None
    while frame is not None and (frame.f_code.co_filename, frame.f_lineno) != (filename, lineno):
        frame = frame.f_back
    places = [(filename, lineno)]
    for _ in range(5):
        if frame is None:
            break
        frame = frame.f_back
        if frame is not None:
            places.append((frame.f_code.co_filename, frame.f_lineno))
    for path, line in places:
        found = static_message(path, line)
        if found is None:
            continue
        if found[1]:
            return found[0]
        fallback = fallback or found[0]
    return fallback or UNKNOWN_MESSAGE


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
    """`warnings.showwarning`, through logging (so it lands in the same log with a time): the category, the place
    and the message as written in source."""
    text = str(message) if trusted(filename) else _warning_template(filename, lineno, sys._getframe(1))
    record = logging.LogRecord("py.warnings", logging.WARNING, filename, lineno,
                               f"{category.__name__} at {os.path.basename(filename)}:{lineno}: {text}", (), None)
    setattr(record, _REDACTED, True)
    logging.getLogger("py.warnings").handle(record)


# ------------------------------------------------------------------------------------------ installing


def _redacting_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    factory.redacting = True  # type: ignore[attr-defined]
    return factory


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write(redacted_traceback((kind, value, tb)) + "\n")


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n"
                     + redacted_traceback((args.exc_type, args.exc_value, args.exc_traceback)) + "\n")


def install() -> None:
    """Redact every log record this process makes from now on, every warning shown and every uncaught exception.
    Safe to call twice. Call it before the server starts (channels/action_server.py, channels/rasa_server.py)."""
    previous = logging.getLogRecordFactory()
    if not getattr(previous, "redacting", False):
        logging.setLogRecordFactory(_redacting_factory(previous))
    warnings.showwarning = show_warning
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
