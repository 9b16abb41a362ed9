"""`scripts/serve.sh` for the tests that need the start script itself (tools/serve_run.py starts it): skipped
without a trained model, and yielding the dict the tests read."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tools.serve_run import ROOT, serve_run

__all__ = ["ROOT", "serve_script"]


@contextmanager
def serve_script(scratch: Path, cluster: bool = False) -> Iterator[dict]:
    """Start it and wait until every server answers; yields ports, process, scratch, began (epoch seconds), output
    (path), pgdata and cluster. With `cluster`, `make cluster`'s way (POLICYBOT_CLUSTER=1)."""
    model = os.environ.get("POLICYBOT_E2E_MODEL")
    if not model:
        pytest.skip("set POLICYBOT_E2E_MODEL to a trained model (make test does) to run the end-to-end tests")
    with serve_run(scratch, model, cluster=cluster) as running:
        yield {field.name: getattr(running, field.name) for field in dataclasses.fields(running)}
