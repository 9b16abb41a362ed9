"""`policybot bench-e2e`: the whole assistant measured as people meet it, through Rasa and the action server.

(a) Training time of the full-size model (`rasa train` with config.yml), which (b) is then served.
(b) REST turn latency on loopback, p50/p95, at 1 user and at N concurrent users, each user a short conversation
    with school/role metadata (policy questions, a follow-up, a who-is question, small talk).
(c) Resident memory of both servers after the load.
(d) NLU cross-validation intent F1 (`rasa test nlu --cross-validation`).
Rasa runs as subprocesses; results and logs go under artifacts/bench-e2e/.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot import settings
from bot.schools import SchoolDirectory
from bot.servers import VENV_BIN, AssistantServers, post_json

#: One user's conversation: metadata picks the school and role; turns mix the kinds of message people send.
CONVERSATION: tuple[str, ...] = (
    "hi",
    "can I use my phone in lessons?",
    "what about staff?",
    "who is the DSL?",
    "can teachers be friends with pupils on instagram?",
    "what happens if I break the rules?",
    "thanks",
)
ROLES: tuple[str, ...] = ("pupil", "staff", "parent")


@dataclass(frozen=True)
class LatencyFigures:
    """Per-turn latency of one load level, in milliseconds."""

    users: int
    turns: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    failures: int
    turns_per_s: float


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation), so p95 is a latency someone actually waited."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def run_conversations(webhook: str, users: int, repeats: int, tag: str) -> LatencyFigures:
    """Each of `users` concurrent users has `repeats` conversations; every REST turn is timed."""
    slugs = [profile.slug for profile in SchoolDirectory.load()]

    def one_user(user: int) -> tuple[list[float], int]:
        timings: list[float] = []
        failures = 0
        for repeat in range(repeats):
            sender = f"bench-{tag}-{user}-{repeat}"
            metadata = {"school": slugs[(user + repeat) % len(slugs)], "role": ROLES[(user + repeat) % 3]}
            for message in CONVERSATION:
                started = time.perf_counter()
                status, replies = post_json(webhook, {"sender": sender, "message": message, "metadata": metadata})
                timings.append((time.perf_counter() - started) * 1000)
                if status != 200 or not replies:
                    failures += 1
        return timings, failures

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        results = list(pool.map(one_user, range(users)))
    elapsed = time.perf_counter() - started
    timings = [t for user_timings, _ in results for t in user_timings]
    return LatencyFigures(users=users, turns=len(timings), p50_ms=percentile(timings, 0.50),
                          p95_ms=percentile(timings, 0.95), max_ms=max(timings),
                          failures=sum(f for _, f in results), turns_per_s=len(timings) / elapsed)


def train_full_model(out_dir: Path, log: Path) -> tuple[Path, float]:
    """Train config.yml from scratch (no cache) and return (model path, seconds)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cache = out_dir / "cache"
    env["RASA_CACHE_DIRECTORY"] = str(cache)  # an empty cache, so every component really trains
    started = time.perf_counter()
    with log.open("w") as sink:
        subprocess.run([str(VENV_BIN / "rasa"), "train", "--domain", "domain", "--data", "data/nlu", "data/rules",
                        "data/stories", "--config", "config.yml", "--out", str(out_dir),
                        "--fixed-model-name", "bench"],
                       cwd=settings.PROJECT_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, check=True)
    seconds = time.perf_counter() - started
    shutil.rmtree(cache, ignore_errors=True)
    return out_dir / "bench.tar.gz", seconds


def nlu_cross_validation(out_dir: Path, folds: int, log: Path) -> dict[str, float]:
    """Run `rasa test nlu --cross-validation` and return weighted intent F1, accuracy and per-intent F1."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with log.open("w") as sink:
        subprocess.run([str(VENV_BIN / "rasa"), "test", "nlu", "--nlu", "data/nlu", "--config", "config.yml",
                        "--cross-validation", "--folds", str(folds), "--out", str(out_dir)],
                       cwd=settings.PROJECT_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, check=True)
    report = json.loads((out_dir / "intent_report.json").read_text())
    figures = {"weighted F1": report["weighted avg"]["f1-score"], "accuracy": report.get("accuracy", 0.0)}
    for intent, row in report.items():
        if isinstance(row, dict) and "f1-score" in row and intent not in ("weighted avg", "macro avg", "micro avg"):
            figures[f"F1 {intent}"] = row["f1-score"]
    return figures


def _cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (falls back to the architecture)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def run(out: TextIO, *, users: int = 20, repeats_single: int = 10, repeats_concurrent: int = 2, folds: int = 5,
        model: Path | None = None, skip_cv: bool = False) -> int:
    """Measure everything and print a report; returns a process exit code."""
    work = settings.artifacts_dir() / "bench-e2e"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"machine: {_cpu_model()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}", file=out)

    if model is None:
        print("training the full-size model from scratch ...", file=out, flush=True)
        model, train_s = train_full_model(work / "model", work / "train.log")
        print(f"training time (config.yml, empty cache): {train_s:.0f} s", file=out, flush=True)

    with AssistantServers(model, work / "servers") as servers:
        run_conversations(servers.webhook_url, users=1, repeats=1, tag="warm")  # load models, fill caches
        for level, repeats in ((1, repeats_single), (users, repeats_concurrent)):
            figures = run_conversations(servers.webhook_url, users=level, repeats=repeats, tag=f"u{level}")
            print(f"REST turn latency, {figures.users} user(s): p50 {figures.p50_ms:.0f} ms, "
                  f"p95 {figures.p95_ms:.0f} ms, max {figures.max_ms:.0f} ms over {figures.turns} turns "
                  f"({figures.turns_per_s:.1f} turns/s, {figures.failures} failed)", file=out, flush=True)
        for name, megabytes in servers.rss_mb().items():
            print(f"RSS {name}: {megabytes:.0f} MB", file=out)

    if not skip_cv:
        print(f"NLU {folds}-fold cross-validation ...", file=out, flush=True)
        figures = nlu_cross_validation(work / "cv", folds, work / "cv.log")
        print(f"NLU intent F1 (weighted): {figures.pop('weighted F1'):.3f}, accuracy "
              f"{figures.pop('accuracy'):.3f}", file=out)
        weakest = sorted(figures.items(), key=lambda item: item[1])[:5]
        print("weakest intents: " + ", ".join(f"{name[3:]} {value:.2f}" for name, value in weakest), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.bench_e2e [--model PATH] [--users N] [--folds K] [--skip-cv]` (what `make bench-e2e` runs)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m bot.bench_e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="serve this trained model instead of training one (no train time)")
    parser.add_argument("--users", type=int, default=20, help="concurrent users for the load run (default 20)")
    parser.add_argument("--folds", type=int, default=5, help="NLU cross-validation folds (default 5)")
    parser.add_argument("--skip-cv", action="store_true", help="skip the NLU cross-validation")
    args = parser.parse_args(argv)
    if args.users < 1 or args.folds < 2:
        parser.error("--users must be at least 1 and --folds at least 2")
    return run(sys.stdout, users=args.users, folds=args.folds, model=args.model, skip_cv=args.skip_cv)


if __name__ == "__main__":
    raise SystemExit(main())
