"""bot/core/logredact.py: a log record from code outside this repository keeps its logger, level, place and the
message as written in source, and loses every value; this repository's own records stay as they are.

The "library" is a module written to tmp_path (outside the repository, like site-packages), so its records are
treated as third-party ones; every test sends a canary through it and asserts where it does not appear."""

from __future__ import annotations

import importlib.util
import io
import logging
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import structlog

from bot import settings
from bot.core import logredact

CANARY = "pangolin-canary-4417 my dad hits me"

LIBRARY = '''
import json
import logging
import warnings

log = logging.getLogger("rasa.core.fake")


def f_string(text):
    log.warning(f"Received user message '{text}' with intent 'greet'")


def percent(text, size):
    log.info("got %s (%d chars, 100%%)", text, size)


def mapping(text):
    log.info("%(who)s said it", {"who": text})


def multi_line(text):
    log.error(
        "could not parse "
        f"{text!r}",
    )


def variable(text):
    log.warning(text)


def at_level(text):
    log.log(logging.WARNING, "level %s", text)


def raising(text):
    try:
        try:
            raise KeyError(text)
        except KeyError as error:
            raise ValueError(f"bad input {text}") from error
    except ValueError:
        log.exception("the action failed")


def raise_warning(message):
    warnings.warn(message, UserWarning, stacklevel=1)


def wrapped_warning(text):
    raise_warning(f"Failed to parse arguments in line '{text}'.")
'''


@pytest.fixture
def library(tmp_path: Path) -> ModuleType:
    path = tmp_path / "fakelib.py"
    path.write_text(textwrap.dedent(LIBRARY), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("fakelib", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Captured:
    """What a handler on the root logger wrote, formatted as a log file would be."""

    def __init__(self, handler: logging.Handler, stream: io.StringIO) -> None:
        self.handler, self.stream = handler, stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def _capture(redact_filter: bool) -> Iterator[Captured]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    if redact_filter:
        handler.addFilter(logredact.RedactFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield Captured(handler, stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def filtered() -> Iterator[Captured]:
    """A root handler with the filter on it."""
    yield from _capture(redact_filter=True)


@pytest.fixture
def installed() -> Iterator[Captured]:
    """logredact.install() in this process, undone afterwards; a root handler without any filter."""
    saved = (logging.getLogRecordFactory(), warnings.showwarning, sys.excepthook, threading.excepthook)
    logredact.install()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = logredact.show_warning  # catch_warnings restores the saved one on exit
            yield from _capture(redact_filter=False)
    finally:
        logging.setLogRecordFactory(saved[0])
        warnings.showwarning, sys.excepthook, threading.excepthook = saved[1:]


def test_an_f_string_message_keeps_its_wording_and_loses_the_words(library: ModuleType, filtered: Captured) -> None:
    library.f_string(CANARY)
    assert filtered.lines == ["WARNING rasa.core.fake Received user message '{text}' with intent 'greet'"]


def test_percent_arguments_become_their_expressions(library: ModuleType, filtered: Captured) -> None:
    library.percent(CANARY, 35)
    library.mapping(CANARY)
    library.at_level(CANARY)
    assert filtered.lines == ["INFO rasa.core.fake got {text} ({size} chars, 100%)",
                              "INFO rasa.core.fake {who} said it",
                              "WARNING rasa.core.fake level {text}"]


def test_a_call_over_several_lines_and_a_bare_variable(library: ModuleType, filtered: Captured) -> None:
    library.multi_line(CANARY)
    library.variable(CANARY)
    assert filtered.lines == ["ERROR rasa.core.fake could not parse {text}", "WARNING rasa.core.fake {text}"]


def test_an_exception_keeps_its_types_and_stack_and_hides_every_message(library: ModuleType,
                                                                         filtered: Captured) -> None:
    library.raising(CANARY)
    assert CANARY not in filtered.text and "pangolin" not in filtered.text
    assert filtered.lines[0] == "ERROR rasa.core.fake the action failed"
    assert "KeyError: <hidden>" in filtered.lines
    assert "ValueError: <hidden>" in filtered.lines
    assert "The above exception was the direct cause of the following exception:" in filtered.lines
    assert any(line.strip().startswith('File "') and "fakelib.py" in line and "in raising" in line
               for line in filtered.lines)


def test_structlog_events_keep_their_name_and_keys_only(library: ModuleType, filtered: Captured) -> None:
    """Rasa's structlog renders the event and its values to one JSON string before logging it."""
    structlog.configure(processors=[structlog.processors.JSONRenderer()],
                        logger_factory=structlog.stdlib.LoggerFactory(), cache_logger_on_first_use=False)
    try:
        source = library.__file__.replace("fakelib.py", "fakestruct.py")
        Path(source).write_text(textwrap.dedent('''
            import structlog
            structlogger = structlog.get_logger()

            def parse(text):
                structlogger.warning("processor.message.parse", parse_data_text=text, parse_data_entities=[])
        '''), encoding="utf-8")
        spec = importlib.util.spec_from_file_location("fakestruct", source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.parse(CANARY)
    finally:
        structlog.reset_defaults()
    assert filtered.lines == ["WARNING fakestruct processor.message.parse parse_data_text={…} "
                              "parse_data_entities={…}"]


def test_this_repositorys_own_records_are_left_as_they_are(filtered: Captured) -> None:
    """Trusted by where the code is: bot/, actions/, channels/, components/, tools/ (never the virtualenv)."""
    own = logging.LogRecord("bot.qa.feedback", logging.WARNING, str(settings.PROJECT_ROOT / "bot/qa/feedback.py"),
                            80, "feedback database: a question was not stored (%s)", ("OperationalError",), None)
    logging.getLogger("bot.qa.feedback").handle(own)
    assert filtered.lines == ["WARNING bot.qa.feedback feedback database: a question was not stored "
                              "(OperationalError)"]
    assert logredact.trusted(str(settings.PROJECT_ROOT / "channels" / "action_server.py"))
    assert not logredact.trusted(str(settings.PROJECT_ROOT / ".venv/lib/python3.11/site-packages/rasa/x.py"))


def test_a_record_whose_source_cannot_be_read_is_hidden_whole(filtered: Captured) -> None:
    stray = logging.LogRecord("sanic.error", logging.ERROR, "/nowhere/compiled.py", 7, "said %s", (CANARY,), None)
    logging.getLogger("sanic.error").handle(stray)
    access = logging.LogRecord("sanic.access", logging.INFO, "/nowhere/compiled.py", 9, "", (), None)
    logging.getLogger("sanic.access").handle(access)
    assert filtered.lines == ["ERROR sanic.error <message hidden>", "INFO sanic.access "]


def test_installed_every_record_is_redacted_whatever_handler_writes_it(library: ModuleType,
                                                                       installed: Captured) -> None:
    """Rasa and coloredlogs add their handlers after start-up: the redaction is where records are made."""
    library.f_string(CANARY)
    library.raising(CANARY)
    assert CANARY not in installed.text and "pangolin" not in installed.text
    assert installed.lines[0] == "WARNING rasa.core.fake Received user message '{text}' with intent 'greet'"


def test_installed_a_warning_shows_its_category_place_and_the_callers_wording(library: ModuleType,
                                                                              installed: Captured) -> None:
    """Rasa's raise_warning passes a variable to warnings.warn: the wording is at its caller."""
    library.wrapped_warning(CANARY)
    (line,) = installed.lines
    assert line.startswith("WARNING py.warnings UserWarning at fakelib.py:")
    assert line.endswith(": Failed to parse arguments in line '{text}'.")


def test_installing_twice_wraps_the_record_factory_once() -> None:
    saved = (logging.getLogRecordFactory(), warnings.showwarning, sys.excepthook, threading.excepthook)
    try:
        logredact.install()
        factory = logging.getLogRecordFactory()
        logredact.install()
        assert logging.getLogRecordFactory() is factory
    finally:
        logging.setLogRecordFactory(saved[0])
        warnings.showwarning, sys.excepthook, threading.excepthook = saved[1:]


def test_an_uncaught_exception_is_printed_without_its_message(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise RuntimeError(CANARY)
    except RuntimeError:
        kind, value, tb = sys.exc_info()
        assert kind is not None and value is not None
        logredact._excepthook(kind, value, tb)
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.rstrip().endswith("RuntimeError: <hidden>") and "pangolin" not in err
