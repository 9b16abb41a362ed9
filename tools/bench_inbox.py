"""`make bench`, the DSL web inbox: page load times with N concerns in the store (default 1,000), through the real
inbox server over loopback HTTP, signed in as a DSL.

Pages timed: the list (open concerns, 100 per page; each load also writes its 'listed' audit row), the list
filtered to one urgency, and one concern (its words, chronology and 'read' audit row). Prints p50/p95/max per
page; the target is p95 <= 200 ms. A scratch folder holds the database; artifacts/ is not touched. No content.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence

import httpx
import pyotp

from bot.dsl_inbox.accounts import InboxAccounts
from bot.safeguarding.records import RECORD_URGENCIES, ConcernStore, SafeguardingConfig
from bot.safeguarding.types import CATEGORIES
from bot.schools import SchoolDirectory
from bot.servers import InboxServer

SCHOOL, READER, PASSWORD = "ken-stimpson", "bench-dsl", "bench inbox passphrase"
TARGET_P95_MS = 200.0


def _seed(store: ConcernStore, count: int) -> str:
    """`count` concerns over the past year at one school (a busy secondary's several years' worth); returns one
    reference to open."""
    rng = random.Random(7)
    start = datetime.now(timezone.utc) - timedelta(days=365)
    reference = ""
    for number in range(count):
        moment = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        store._clock = lambda moment=moment: moment  # noqa: SLF001 - backdating is what a benchmark needs
        reference = store.record(message_id=f"bench-{number}", school=SCHOOL, role="pupil", channel="webchat",
                                 urgency=rng.choice(RECORD_URGENCIES), category=rng.choice(CATEGORIES),
                                 kind="disclosure", words="benchmark words " * 20,
                                 excerpt=("an earlier turn",) * 4).reference
        if number % 3 == 0:
            store.acknowledge(reference, SCHOOL, READER)
    return reference


def _cookie(client: httpx.Client, response: httpx.Response, jar: dict[str, str]) -> None:
    for name, value in response.headers.multi_items():
        if name == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key] = rest.split(";", 1)[0]
    client.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items() if v)


def _sign_in(client: httpx.Client, secret: str) -> None:
    jar: dict[str, str] = {}
    page = client.get("/dsl/sign-in")
    _cookie(client, page, jar)
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    reply = client.post("/dsl/sign-in", data={"csrf": csrf, "username": READER, "password": PASSWORD})
    _cookie(client, reply, jar)
    page = client.get("/dsl/sign-in/code")
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    reply = client.post("/dsl/sign-in/code", data={"csrf": csrf, "code": pyotp.TOTP(secret).now()})
    if reply.status_code != 302:
        raise RuntimeError(f"bench sign-in failed with HTTP {reply.status_code}")
    _cookie(client, reply, jar)


def _time(client: httpx.Client, path: str, repeats: int) -> list[float]:
    client.get(path)  # warm
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        reply = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        if reply.status_code != 200:
            raise RuntimeError(f"{path.split('?')[0]} answered HTTP {reply.status_code}")
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_inbox", description=__doc__)
    parser.add_argument("--concerns", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-inbox-") as scratch:
        workdir = Path(scratch)
        config = workdir / "safeguarding.yml"
        config.write_text(f"schools:\n  {SCHOOL}:\n    dsl_readers: [{READER}]\n"
                          f"    notify_email: [dsl@bench.example]\n", encoding="utf-8")
        schools = SchoolDirectory.load()
        settings_ = SafeguardingConfig.load(config, schools=schools)
        url = f"sqlite:///{workdir / 'concerns.db'}"
        store = ConcernStore(url, schools=schools, config=settings_)
        secret = InboxAccounts(url, schools=schools, config=settings_).enrol(SCHOOL, READER, PASSWORD).secret
        began = time.perf_counter()
        reference = _seed(store, args.concerns)
        print(f"DSL inbox bench: {args.concerns} concerns at one school (seeded in "
              f"{time.perf_counter() - began:.0f} s), {args.repeats} loads per page, loopback HTTP")
        with InboxServer(workdir, env={"POLICYBOT_SAFEGUARDING_CONFIG": str(config)}) as server:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                _sign_in(client, secret)
                pages = {"list (open, page 1 of 100s)": "/dsl/concerns",
                         "list (all, immediate only)": "/dsl/concerns?status=all&urgency=immediate",
                         "one concern": f"/dsl/concerns/{reference}"}
                worst = 0.0
                for name, path in pages.items():
                    times = _time(client, path, args.repeats)
                    p95 = statistics.quantiles(times, n=20)[18]
                    worst = max(worst, p95)
                    print(f"  {name:<30} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   "
                          f"max {max(times):6.1f} ms")
        verdict = "meets" if worst <= TARGET_P95_MS else "MISSES"
        print(f"  worst p95 {worst:.1f} ms: {verdict} the target (p95 <= {TARGET_P95_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
