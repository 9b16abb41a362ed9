"""`policybot`: ask questions, build indexes, evaluate and benchmark from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, TextIO

if TYPE_CHECKING:
    from bot.core.embedder import Embedder

from bot import cli_support
from bot.cli_support import EXIT_USAGE
from bot.dsl_inbox import cli as dsl_cli
from bot.induction import cli as induction_cli
from bot.retention import cli as retention_cli
from bot.safeguarding import inbox_cli

# Quieten TensorFlow's start-up chatter (spaCy's thinc imports it when Rasa's stack is installed).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# spaCy 3.4 (pinned by Rasa 3.6) imports the deprecated pkg_resources; the warning means nothing to a user.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


def _assistant():
    from bot.qa.answer import PolicyAssistant
    from bot.qa.retrieval import Retriever

    return PolicyAssistant.learned(Retriever())


def _print_answer(answer, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(answer.text + "\n")


def cmd_ask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot.schools import SchoolDirectory

    if args.batch:
        return _ask_batch(Path(args.batch), out, err)
    if not args.school:
        err.write(f"policybot ask: --school is required (one of: {', '.join(SchoolDirectory.load().slugs)})\n")
        return EXIT_USAGE
    question = " ".join(args.question or [])
    assistant = _assistant()
    try:
        answer = assistant.answer(args.school, question, args.role)
    except ValueError as problem:
        err.write(f"policybot ask: {problem}\n")
        return EXIT_USAGE
    _print_answer(answer, args.json, out)
    return 0


def _run_batch(path: Path, command: str, verb: str, handle_item: Callable[[dict], dict], out: TextIO,
               err: TextIO) -> int:
    """One JSON line out per line in, same order; a bad line gets an error line naming its number, and the rest
    still run. `handle_item` turns one input object into its output object (ValueError = a bad line)."""
    try:
        handle = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    except OSError as problem:
        err.write(f"policybot {command}: cannot read batch file {path}: {problem.strerror}\n")
        return EXIT_USAGE
    failures = 0
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            item_id = None
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict):
                    raise ValueError("expected a JSON object")
                item_id = raw.get("id")
                out.write(json.dumps(handle_item(raw), ensure_ascii=False) + "\n")
            except ValueError as problem:
                failures += 1
                reason = "not valid JSON" if isinstance(problem, json.JSONDecodeError) else str(problem)
                out.write(json.dumps({"id": item_id, "line": number, "error": f"line {number}: {reason}"}) + "\n")
            out.flush()
    if failures:
        err.write(f"policybot {command}: {failures} line(s) could not be {verb}; see their error lines\n")
    return 0


def _ask_batch(path: Path, out: TextIO, err: TextIO) -> int:
    """`ask --batch`: {"id","school","role"?,"question"} in, the answer as JSON out."""
    assistant = _assistant()

    def answer_item(raw: dict) -> dict:
        missing = [key for key in ("school", "question") if key not in raw]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        answer = assistant.answer(str(raw["school"]), str(raw["question"]), raw.get("role") or "any")
        return answer.to_dict(raw.get("id"), include_id=True)

    return _run_batch(path, "ask", "answered", answer_item, out, err)


def cmd_schools(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot.schools import SchoolDirectory

    directory = SchoolDirectory.load()
    if args.json:
        out.write(json.dumps([{"slug": p.slug, "name": p.name, "phase": p.phase, "policy": p.policy_title,
                               "policy_date": p.policy_date, "next_review": p.next_review,
                               "dsl": list(p.dsl)} for p in directory], indent=2) + "\n")
        return 0
    for p in directory:
        overdue = " (review overdue)" if p.review_overdue() else ""
        dsl = ", ".join(p.dsl) or "not named in policy"
        out.write(f"{p.slug:14} {p.name} — {p.phase}; {p.policy_title}, {p.policy_date_label}{overdue}; DSL: {dsl}\n")
    return 0


def cmd_build_index(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot.core.embedder import default_embedder
    from bot.qa.index import IndexStore
    from bot.schools import SchoolDirectory

    directory = SchoolDirectory.load()
    profiles = [directory.get(s) for s in args.school] if args.school else list(directory)
    store, embedder = IndexStore(), default_embedder()
    if args.check:
        states = [(p.slug, store.status(p, embedder)) for p in profiles]
        if not args.school:
            from bot.safeguarding.screen import training

            from bot.qa import training as answer_training
            from bot.qa.retrieval import Retriever

            state = training.model_state(embedder.name)
            states.append(("screen", "ok" if state == "ready" else state))
            if not any(answer_training.default_corpus_dir().glob("*.jsonl")):
                answer_state = "no corpus"
            elif all(store.status(p, embedder) == "ok" for p in profiles):
                answer_state = answer_training.model_state(Retriever(directory, store, embedder, auto_build=False))
            else:
                answer_state = "missing"  # it is trained over the indexes, after them
            states.append(("answer model", "ok" if answer_state == "ready" else answer_state))
        for slug, state in states:
            out.write(f"{slug:14} {state}\n")
        # A data folder without a safeguarding corpus has no screen model to build: nothing is missing.
        return 0 if all(state in ("ok", "no corpus") for _, state in states) else 1
    for slug, outcome in store.build_all(profiles, embedder, force=args.force, progress=not args.quiet):
        out.write(f"{slug:14} {outcome}\n")
    if not args.school:
        # The safeguarding screen's model is built from its corpus with the same embedder, like an index.
        from bot.safeguarding.screen import training

        out.write(f"{'screen':14} {training.build(embedder, force=args.force)}\n")
        # The answer model's features are this embedder's cosines over these indexes: built after them.
        from bot.qa import training as answer_training
        from bot.qa.retrieval import Retriever

        built = answer_training.build(Retriever(directory, store, embedder), force=args.force)
        out.write(f"{'answer model':14} {built}\n")
    return 0


def cmd_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot import settings
    from bot.evaluation import evaluate, load_items
    from bot.safeguarding.screen_eval import default_screen_items

    path = Path(args.questions) if args.questions else settings.default_eval_questions()
    if not path.exists():
        err.write(f"policybot eval: question file not found: {path} (pass --questions FILE)\n")
        return EXIT_USAGE
    screen_path = Path(args.screen_items) if args.screen_items else default_screen_items()
    if args.screen_items and not screen_path.exists():
        err.write(f"policybot eval: screen file not found: {screen_path} (pass --screen-items FILE)\n")
        return EXIT_USAGE
    assistant = _assistant()
    report = evaluate(load_items(path), lambda item: assistant.answer(item.school, item.question, item.role))
    out.write(f"dev set: {path}\n")
    for line in report.lines():
        out.write(line + "\n")
    if args.sweep:
        from bot.evaluation import abstention_sweep

        items = load_items(path)

        def signals(item):
            hits = assistant.retriever.retrieve(item.school, item.question, item.role, k=3)
            return assistant.evidence_strength(item.school, item.question, hits)

        out.write("abstention accuracy by threshold (min_dense, min_dense_unseen):\n")
        for low, high, accuracy in abstention_sweep(items, signals, [0.15, 0.2, 0.22, 0.25, 0.3, 0.35],
                                                    [0.4, 0.45, 0.5, 0.55, 0.6]):
            mark = "  <- current" if (low, high) == (assistant.rule.min_dense, assistant.rule.min_dense_unseen) else ""
            out.write(f"  {low:.2f}  {high:.2f}  {accuracy:.3f}{mark}\n")
    if args.verbose:
        for miss in report.misses:
            out.write(f"  miss {miss['id']}: {miss['why']} (confidence {miss['confidence']})\n")
    if not args.no_corpus:
        _eval_answer_corpus(assistant, out)
    # The screen shares the retriever's embedder: the same model, loaded once.
    _eval_screen(screen_path, args.verbose, out, assistant.retriever.embedder)
    if not args.no_corpus:
        from bot.safeguarding.screen.corpus import default_corpus_dir
        from bot.safeguarding.screen.crossval import corpus_figures

        if any(default_corpus_dir().glob("*.yml")):
            for line in corpus_figures(assistant.retriever.embedder).lines():
                out.write(line + "\n")
        else:
            out.write(f"safeguarding screen corpus: skipped, no training corpus in {default_corpus_dir()}\n")
    return 0


def _eval_answer_corpus(assistant, out: TextIO) -> None:
    """The answer model's grouped cross-validation (by school and policy section) on the tuning questions."""
    from bot.qa import training

    if not any(training.default_corpus_dir().glob("*.jsonl")):
        out.write(f"answer model corpus: skipped, no tuning questions in {training.default_corpus_dir()}\n")
        return
    trained = training.train(assistant.retriever)
    for crossval, title in ((trained.crossval, "answer model"),
                            (trained.unremembered, "answer model for a school without remembered questions")):
        if crossval is None:
            continue
        figures = crossval.figures()
        out.write(f"{title}, grouped {training.FOLDS}-fold CV by policy section on "
                  f"{training.default_corpus_dir()} ({figures['questions']:.0f} questions, "
                  f"{figures['answerable']:.0f} answerable; threshold {crossval.threshold:.2f}):\n")
        for name in ("evidence_at_1", "evidence_at_3", "abstention_accuracy", "unanswerable_abstained",
                     "answerable_answered", "rerank_at_1", "ended_right"):
            out.write(f"  {name.replace('_', ' ')}: {figures[name]:.3f}\n")
        out.write("  by kind (evidence@1, or abstention for the unanswerable kinds): "
                  + ", ".join(f"{kind} {share:.2f}" for kind, share in crossval.by_kind().items()) + "\n")
        out.write("  by question set (ended right): "
                  + ", ".join(f"{source} {share:.2f}" for source, share in crossval.by_source().items()) + "\n")


def _eval_screen(path: Path, verbose: bool, out: TextIO, embedder: Embedder | None = None) -> None:
    """The safeguarding screen's figures on the labelled messages, plain and obfuscated (fixed seed)."""
    from bot.safeguarding.screen import SafeguardingScreen
    from bot.safeguarding.screen_eval import (OBFUSCATION_SEED, evaluate_screen, load_screen_items,
                                              obfuscated_items)

    if not path.exists():
        out.write(f"safeguarding screen: skipped, {path} not found (pass --screen-items FILE)\n")
        return
    items = load_screen_items(path)
    screen = SafeguardingScreen(embedder)
    for title, variant in ((f"safeguarding screen: {path}", items),
                           (f"safeguarding screen, obfuscated (seed {OBFUSCATION_SEED}):",
                            obfuscated_items(items, OBFUSCATION_SEED))):
        report = evaluate_screen(variant, screen)
        out.write(title + "\n")
        for line in report.lines():
            out.write(f"  {line}\n")
        if verbose:
            for miss in report.misses:
                out.write(f"  miss {miss.id}: {miss.why} (want {miss.want}, got {miss.got})\n")


def cmd_screen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Screen one message, or a JSONL batch, with the safeguarding screen."""
    from bot.safeguarding.screen import SafeguardingScreen

    if args.batch:
        return _screen_batch(Path(args.batch), out, err)
    text = " ".join(args.text or [])
    if not text.strip():
        err.write("policybot screen: give a message to screen, or --batch FILE.jsonl\n")
        return EXIT_USAGE
    result = SafeguardingScreen().screen(text, args.role)
    if args.json:
        out.write(json.dumps(result.to_dict()) + "\n")
    else:
        extra = "" if result.hand_off else "; check in first" if result.check_in else "; signpost" if result.signpost \
            else ""
        language = f"; language {result.language}" if result.language != "en" else ""
        out.write(f"{result.label} (urgency {result.urgency}, category {result.category}{extra}{language})\n")
    return 0


def _screen_batch(path: Path, out: TextIO, err: TextIO) -> int:
    """`screen --batch`: {"id","text","role"?} in, {"id","label","urgency","category"} out (other tools read
    these lines: keep their keys)."""
    from bot.safeguarding.screen import SafeguardingScreen

    screen = SafeguardingScreen()

    def screen_item(raw: dict) -> dict:
        if "text" not in raw:
            raise ValueError("missing text")
        if not isinstance(raw["text"], str):
            raise ValueError("text must be a string")
        result = screen.screen(raw["text"], raw.get("role") or None)
        return {"id": raw.get("id"), "label": result.label, "urgency": result.urgency, "category": result.category}

    return _run_batch(path, "screen", "screened", screen_item, out, err)


def cmd_bench(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot.bench import run_benchmarks

    return run_benchmarks(out, scale_schools=args.scale_schools, questions=args.questions)


def cmd_chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A terminal conversation over the retrieval core (until the Rasa assistant is running)."""
    from bot.schools import SchoolDirectory

    directory = SchoolDirectory.load()
    school = args.school
    while school not in directory:
        out.write("Which school are you from? " + ", ".join(directory.slugs) + "\n> ")
        out.flush()
        line = sys.stdin.readline()
        if not line:
            return 0
        school = line.strip().lower()
    role = args.role or "any"
    assistant = _assistant()
    profile = directory.get(school)
    out.write(f"Hi! Ask me about {profile.name}'s {profile.policy_title}. Type 'quit' to stop.\n")
    while True:
        out.write("> ")
        out.flush()
        line = sys.stdin.readline()
        if not line or line.strip().lower() in {"quit", "exit", "bye"}:
            out.write("Bye!\n")
            return 0
        if not line.strip():
            continue
        try:
            out.write(assistant.answer(school, line.strip(), role).text + "\n")
        except ValueError as problem:
            out.write(f"Sorry — {problem}.\n")


def cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Questions the policy did not answer (abstained) or that people marked unhelpful: text only."""
    from bot.qa.feedback import FeedbackStore
    from bot.schools import SchoolDirectory

    profile = SchoolDirectory.load().get(args.school)
    gaps = FeedbackStore().gaps(profile.slug)
    if args.json:
        out.write(json.dumps([{"question": g.question, "reason": g.reason, "asked_at": g.asked_at.isoformat()}
                              for g in gaps], indent=2, ensure_ascii=False) + "\n")
        return 0
    if not gaps:
        out.write(f"No unanswered or unhelpful questions recorded for {profile.name} yet.\n")
        return 0
    out.write(f"Questions {profile.name}'s {profile.policy_title} did not answer well ({len(gaps)}):\n")
    for gap in gaps:
        out.write(f"  [{gap.reason}] {gap.question}\n")
    return 0


def _register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add this module's own sub-commands (ask, schools, build-index, eval, screen, bench, report, chat)."""
    ask = sub.add_parser("ask", help="answer a question from one school's policy, or a JSONL batch")
    ask.add_argument("--school", help="school slug (see `policybot schools`)")
    ask.add_argument("--role", default="any", help="pupil, staff, parent, governor, visitor or any")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--batch", help='JSONL file of {"id","school","role","question"} lines ("-" for stdin)')
    ask.add_argument("question", nargs="*")
    ask.set_defaults(func=cmd_ask)

    schools = sub.add_parser("schools", help="list the schools and their policy dates")
    schools.add_argument("--json", action="store_true")
    schools.set_defaults(func=cmd_schools)

    build = sub.add_parser("build-index", help="build the per-school indexes (and the safeguarding screen's model) "
                                              "that are missing or stale")
    build.add_argument("--school", action="append", help="only this school (repeatable)")
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.add_argument("--check", action="store_true", help="only report which indexes are missing or stale")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=cmd_build_index)

    ev = sub.add_parser("eval", help="evidence@1/@3, abstention accuracy and wrong-school citations")
    ev.add_argument("--questions", help="JSONL questions with evidence spans (default: the shared dev set)")
    ev.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    ev.add_argument("--sweep", action="store_true", help="also print abstention accuracy over a threshold grid")
    ev.add_argument("--screen-items", help="JSONL labelled messages for the safeguarding screen figures "
                                           "(default: the shared dev set)")
    ev.add_argument("--no-corpus", action="store_true",
                    help="skip the screen's grouped cross-validation on its training corpus (a minute or two)")
    ev.set_defaults(func=cmd_eval)

    screen = sub.add_parser("screen", help="safeguarding screen: disclosure, concern, question or other")
    screen.add_argument("--role", help="pupil, staff, parent, governor, visitor or any")
    screen.add_argument("--json", action="store_true", help="print label, urgency, category, confidence, signals")
    screen.add_argument("--batch", help='JSONL file of {"id","text","role"} lines ("-" for stdin)')
    screen.add_argument("text", nargs="*")
    screen.set_defaults(func=cmd_screen)

    bench = sub.add_parser("bench", help="quality and speed: BM25 vs dense vs fused, latency, scale")
    bench.add_argument("--questions", help="JSONL questions (default: the shared dev set)")
    bench.add_argument("--scale-schools", type=int, default=1000, help="synthetic schools for the scale test")
    bench.set_defaults(func=cmd_bench)

    report = sub.add_parser("report", help="reports for the policy owner")
    report.add_argument("kind", choices=["unanswered"], help="unanswered: abstained and thumbs-down questions")
    report.add_argument("--school", required=True)
    report.add_argument("--json", action="store_true")
    report.set_defaults(func=cmd_report)

    chat = sub.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--school")
    chat.add_argument("--role")
    chat.set_defaults(func=cmd_chat)


def build_parser() -> argparse.ArgumentParser:
    """Every `policybot` sub-command: this module's, then the DSL inbox's, induction's and retention's."""
    return cli_support.build_parser(
        __doc__, _register,
        inbox_cli.register,  # concerns list|show|export|ack|close|verify-audit, outbox, mailcatcher
        dsl_cli.register,  # dsl add-user|remove-user|unlock|users (the web inbox's accounts)
        induction_cli.register,  # induction report
        retention_cli.register)  # retention


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one `policybot` command line; returns the exit code."""
    return cli_support.run(build_parser(), argv, out, err)


if __name__ == "__main__":
    raise SystemExit(main())
