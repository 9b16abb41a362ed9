"""`make eval-e2e`: the safeguarding development set through the whole assistant, as a person meets it.

Starts the real action server and Rasa server (bot/servers.py) with the trained model, sends each labelled message
over REST as a new conversation (school from the channel metadata, the item's role, its own message id), and reads
what happened the way the school would see it:
  - a record in the concern store for that message -> a disclosure or concern at the recorded urgency (and its
    school: every record must be at the school the channel said);
  - no record: the screen's verdict from the conversation's tracker (Rasa's HTTP API) gives question or other,
    and a reply carrying the "Yes, tell someone" button is a check-in.
The figures are the screen report's (bot/safeguarding/screen_eval.py), so they line up with `make eval`; then the
messages where the assistant and the screen alone disagree ("integration loss"), and whether each immediate
hand-off said 999 first. Then the development questions and the tuning questions through the same assistant,
against what the library says (tools/eval_e2e_answers.py). Ids and labels only are printed, never message text.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from bot import settings, sqlstore
from bot.core import contract
from bot.evaluation import load_items
from bot.qa import tuning
from bot.qa.answer import PolicyAssistant
from bot.safeguarding.records.schema import concerns, metadata
from bot.safeguarding.screen import SafeguardingScreen
from bot.safeguarding.screen_eval import (OBFUSCATION_SEED, ScreenItem, default_screen_items, load_screen_items,
                                          obfuscated_items, report_for)
from bot.safeguarding.types import ScreenResult
from bot.schools import SchoolDirectory
from bot.servers import AssistantServers, post_json
from channels.rest import scoped_message_id
from tools import eval_e2e_answers as answers


@dataclass(frozen=True)
class Turn:
    """What the whole assistant did with one message."""

    item: ScreenItem
    school: str
    result: ScreenResult
    record_school: str | None
    immediate_999_first: bool | None


def run_items(servers: AssistantServers, items: Sequence[ScreenItem], schools: Sequence[str],
              prefix: str) -> list[Turn]:
    """One new conversation per message; the school rotates over the schools so every school is exercised."""
    # The tool reads its own scratch concern store directly: one lookup by message key per message, and no
    # reader's audit trail to fill with the tool's own reads.
    engine = create_engine(f"sqlite:///{servers.workdir / 'concerns.db'}")
    sqlstore.create_schema(engine, metadata)  # the action server creates the tables only at its first record
    turns = []
    for index, item in enumerate(items):
        school = schools[index % len(schools)]
        sender = f"{prefix}-{item.id}"
        status, replies = post_json(servers.webhook_url, {
            "sender": sender, "message": item.text, "message_id": item.id,
            "metadata": {contract.SCHOOL_KEY: school, contract.ROLE_KEY: item.role or "pupil"}})
        if status != 200 or not isinstance(replies, list):
            raise RuntimeError(f"{item.id}: the REST channel answered {status}")
        turns.append(_turn(servers, engine, item, school, sender, replies))
    engine.dispose()
    return turns


def _turn(servers: AssistantServers, engine: Engine, item: ScreenItem, school: str, sender: str,
          replies: list) -> Turn:
    with engine.connect() as connection:
        record = connection.execute(
            select(concerns.c.school, concerns.c.kind, concerns.c.urgency, concerns.c.category)
            .where(concerns.c.message_id == scoped_message_id(sender, item.id))).first()
    if record is not None:
        label = "concern" if record.kind == "concern" or record.urgency == "concern" else "disclosure"
        urgency = "standard" if label == "concern" else record.urgency
        result = ScreenResult(label, urgency, record.category, 1.0)  # type: ignore[arg-type]
        first = str(replies[0].get("text") or "") if replies else ""
        return Turn(item, school, result, record.school, "999" in first if urgency == "immediate" else None)
    check_in = any(b.get("payload") == f"/{contract.PASS_ON_INTENT}" for r in replies for b in r.get("buttons") or ())
    verdict = _verdict(servers, sender)
    label = verdict.get("label") if verdict.get("label") in ("question", "other") else "other"
    result = ScreenResult(label, "none", str(verdict.get("category") or "other"), 1.0,  # type: ignore[arg-type]
                          check_in=check_in, signpost=bool(verdict.get("signpost")))
    return Turn(item, school, result, None, None)


def _verdict(servers: AssistantServers, sender: str) -> dict:
    with urllib.request.urlopen(f"{servers.base_url}/conversations/{sender}/tracker", timeout=30) as response:
        tracker = json.loads(response.read())
    users = [e for e in tracker.get("events", []) if e.get("event") == "user"]
    parse = (users[-1].get("parse_data") or {}) if users else {}
    verdict = parse.get(contract.VERDICT_KEY)
    return verdict if isinstance(verdict, dict) else {}


def _safeguarding_config(workdir: Path, schools: Sequence[str]) -> Path:
    """Settings naming every school, with no notification destinations (nothing is emailed)."""
    path = workdir / "safeguarding.yml"
    path.write_text("schools:\n" + "".join(f"  {s}:\n    dsl_readers: [{s}-dsl]\n" for s in schools),
                    encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval-e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(settings.PROJECT_ROOT / "models" / "policybot.tar.gz"))
    parser.add_argument("--screen-items", default=str(default_screen_items()))
    parser.add_argument("-v", "--verbose", action="store_true", help="list the messages that differ, by id")
    parser.add_argument("--questions", nargs="+", default=[str(settings.default_eval_questions())],
                        help="files of policy questions to ask through the assistant as well (dev format)")
    parser.add_argument("--no-answers", action="store_true", help="only the safeguarding messages")
    args = parser.parse_args(argv)
    items = load_screen_items(Path(args.screen_items))
    schools = SchoolDirectory.load().slugs
    screen = SafeguardingScreen().warm_up()
    with tempfile.TemporaryDirectory(prefix="eval-e2e-") as scratch:
        workdir = Path(scratch)
        env = {"POLICYBOT_SAFEGUARDING_CONFIG": str(_safeguarding_config(workdir, schools)),
               "POLICYBOT_SMTP_PORT": "9"}
        started = time.monotonic()
        with AssistantServers(Path(args.model), workdir, extra_env=env) as servers:
            print(f"whole assistant: {args.model} over REST, servers up in {time.monotonic() - started:.0f} s")
            for title, variant, prefix in ((f"safeguarding, whole assistant: {args.screen_items}", items, "plain"),
                                           (f"safeguarding, whole assistant, obfuscated (seed {OBFUSCATION_SEED}):",
                                            obfuscated_items(items, OBFUSCATION_SEED), "obfuscated")):
                turns = run_items(servers, variant, schools, prefix)
                report = report_for(variant, [t.result for t in turns])
                alone = [screen.screen(item.text, item.role) for item in variant]
                print(title)
                for line in report.lines():
                    if not line.startswith("latency"):
                        print(f"  {line}")
                lost = [t for t, s in zip(turns, alone) if s.hand_off and not t.result.hand_off]
                gained = [t for t, s in zip(turns, alone) if t.result.hand_off and not s.hand_off]
                wrong_school = [t for t in turns if t.record_school not in (None, t.school)]
                immediates = [t for t in turns if t.immediate_999_first is not None]
                print(f"  integration loss: {len(lost)} hand-off(s) the screen alone made and the assistant did "
                      f"not; {len(gained)} the other way")
                print(f"  records at another school than the channel's: {len(wrong_school)}")
                print(f"  immediate hand-offs with 999 in the first bubble: "
                      f"{sum(t.immediate_999_first for t in immediates)}/{len(immediates)}")
                if args.verbose:
                    for turn in lost + wrong_school:
                        print(f"  differs {turn.item.id}: want {turn.item.label}/{turn.item.urgency}, "
                              f"got {turn.result.label}/{turn.result.urgency}")
            if not args.no_answers:
                assistant = PolicyAssistant.learned()
                question_sets = [(f"answers, whole assistant: {path}", load_items(Path(path)), f"q{number}")
                                 for number, path in enumerate(args.questions)]
                if any(tuning.default_corpus_dir().glob("*.jsonl")):
                    question_sets.append((f"answers, whole assistant: the tuning questions "
                                          f"({tuning.default_corpus_dir()}; the answer model was fitted on them, so "
                                          f"this measures the pipeline around it, not the model)",
                                          tuning.load_questions(), "tuning"))
                for title, questions, prefix in question_sets:
                    for line in answers.report(title, answers.ask_all(servers, assistant, questions, prefix),
                                               args.verbose):
                        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
