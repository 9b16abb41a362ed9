"""`make bench-e2e`: the whole assistant measured as people meet it, started by its own script, once as `make run`
starts it and once as `make cluster` does (issue 15's table for each).

(a) Training time of the full-size model (`rasa train` with config.yml, empty cache), which (b) is then served.
(b) REST turn latency on loopback, p50/p95, a new conversation per user with school/role metadata (policy
    questions, a follow-up, a who-is question, small talk): 1 user; 50 users with no think time; saturation (20
    users, no think time: turns/s); 50 users with 5 s (±50%) think time. In cluster mode through nginx over TLS,
    each user on one kept-alive connection, as a browser or the Teams connector would be.
(c) Resident memory of every Rasa and action server after the load.
(d) NLU cross-validation intent F1 (`rasa test nlu --cross-validation`), unless --skip-cv.
Logs go under artifacts/bench-e2e/; the stores are scratch ones.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import random
import shutil
import ssl
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from bot import settings
from bot.schools import SchoolDirectory
from bot.servers import VENV_BIN
from tools.serve_run import Running, serve_run

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

    label: str
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


class Client:
    """One user's connection to the REST channel, kept alive across turns (reopened after an error)."""

    def __init__(self, running: Running) -> None:
        parts = urlsplit(running.webhook)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port, parts.path
        self.tls: ssl.SSLContext | None = running.tls()
        self.headers = {"Content-Type": "application/json", **running.rest_headers}
        self.connection: http.client.HTTPConnection | None = None

    def post(self, payload: dict) -> tuple[int, object]:
        if self.connection is None:
            self.connection = (http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=120)
                               if self.tls else http.client.HTTPConnection(self.host, self.port, timeout=120))
        try:
            self.connection.request("POST", self.path, json.dumps(payload).encode(), self.headers)
            response = self.connection.getresponse()
            body = response.read()
            return response.status, json.loads(body or b"null") if response.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            self.close()
            return 0, None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def run_conversations(running: Running, users: int, turns_each: int, tag: str, think_s: float = 0.0,
                      label: str = "") -> LatencyFigures:
    """`users` concurrent users, each a new conversation per CONVERSATION pass, `turns_each` turns in all, with
    `think_s` (±50%) between a reply and the next message; every REST turn is timed."""
    slugs = [profile.slug for profile in SchoolDirectory.load()]

    def one_user(user: int) -> tuple[list[float], int]:
        timings: list[float] = []
        failures = 0
        client = Client(running)
        randomness = random.Random(user)
        if think_s:  # users arrive spread over one think time, not all at once
            time.sleep(randomness.uniform(0, think_s))
        try:
            for turn in range(turns_each):
                conversation, step = divmod(turn, len(CONVERSATION))
                sender = f"bench-{tag}-{user}-{conversation}"
                metadata = {"school": slugs[(user + conversation) % len(slugs)],
                            "role": ROLES[(user + conversation) % 3]}
                started = time.perf_counter()
                status, replies = client.post({"sender": sender, "message": CONVERSATION[step],
                                               "metadata": metadata})
                timings.append((time.perf_counter() - started) * 1000)
                if status != 200 or not replies:
                    failures += 1
                if think_s:
                    time.sleep(randomness.uniform(0.5 * think_s, 1.5 * think_s))
        finally:
            client.close()
        return timings, failures

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        results = list(pool.map(one_user, range(users)))
    elapsed = time.perf_counter() - started
    timings = [t for user_timings, _ in results for t in user_timings]
    return LatencyFigures(label=label, users=users, turns=len(timings), p50_ms=percentile(timings, 0.50),
                          p95_ms=percentile(timings, 0.95), max_ms=max(timings),
                          failures=sum(f for _, f in results), turns_per_s=len(timings) / elapsed)


#: Issue 15's load levels: (label, users, turns per user, think time in seconds).
LOAD_LEVELS: tuple[tuple[str, int, int, float], ...] = (
    ("1 user, no think time", 1, 30, 0.0),
    ("50 users, no think time", 50, 8, 0.0),
    ("saturation: 20 users, no think time", 20, 14, 0.0),
    ("50 users, 5 s (±50%) think time", 50, 6, 5.0),
)


def measure_mode(out: TextIO, running: Running, mode: str, levels=LOAD_LEVELS) -> list[LatencyFigures]:  # type: ignore[no-untyped-def]
    """Warm up, run each load level and print issue 15's table for one way of running, then the servers' RSS."""
    run_conversations(running, users=2, turns_each=len(CONVERSATION), tag=f"{mode}-warm")  # load models, fill caches
    rows = []
    print(f"\n{mode}:\n| load | turns | p50 | p95 | max | throughput | errors |\n|---|---:|---:|---:|---:|---:|---:|",
          file=out, flush=True)
    for label, users, turns_each, think_s in levels:
        figures = run_conversations(running, users, turns_each, f"{mode}-u{users}-t{think_s:g}", think_s, label)
        rows.append(figures)
        print(f"| {label} | {figures.turns} | {figures.p50_ms:,.0f} ms | {figures.p95_ms:,.0f} ms | "
              f"{figures.max_ms:,.0f} ms | {figures.turns_per_s:.1f} turns/s | {figures.failures} |", file=out, flush=True)
    rss = running.server_rss_mb()
    print("RSS after the load: " + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in sorted(rss.items()))
          + f" (in all {sum(rss.values()):,.0f} MB)", file=out, flush=True)
    return rows


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


def run(out: TextIO, *, folds: int = 5, model: Path | None = None, skip_cv: bool = False,
        modes: tuple[str, ...] = ("make run", "make cluster")) -> int:
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

    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="bench-e2e-", dir=work) as scratch:
            began = time.perf_counter()
            with serve_run(Path(scratch), model, cluster=mode == "make cluster") as running:
                print(f"\n{mode} started in {time.perf_counter() - began:.0f} s", file=out, flush=True)
                measure_mode(out, running, mode)

    if not skip_cv:
        print(f"\nNLU {folds}-fold cross-validation ...", file=out, flush=True)
        figures = nlu_cross_validation(work / "cv", folds, work / "cv.log")
        print(f"NLU intent F1 (weighted): {figures.pop('weighted F1'):.3f}, accuracy "
              f"{figures.pop('accuracy'):.3f}", file=out)
        weakest = sorted(figures.items(), key=lambda item: item[1])[:5]
        print("weakest intents: " + ", ".join(f"{name[3:]} {value:.2f}" for name, value in weakest), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.bench_e2e [--model PATH] [--mode run|cluster] [--folds K] [--skip-cv]` (`make bench-e2e`)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m tools.bench_e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="serve this trained model instead of training one (no train time)")
    parser.add_argument("--mode", choices=("run", "cluster"), action="append",
                        help="only this way of running (default both: make run, then make cluster)")
    parser.add_argument("--folds", type=int, default=5, help="NLU cross-validation folds (default 5)")
    parser.add_argument("--skip-cv", action="store_true", help="skip the NLU cross-validation")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    modes = tuple(f"make {mode}" for mode in (args.mode or ["run", "cluster"]))
    return run(sys.stdout, folds=args.folds, model=args.model, skip_cv=args.skip_cv, modes=modes)


if __name__ == "__main__":
    raise SystemExit(main())
