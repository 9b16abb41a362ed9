"""Trained models on disk, one folder per embedding model: written beside their folder and swapped in, read back
with exact errors. Shared by the safeguarding screen and the answer model."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np


def embedder_folder(parent: Path, embedder_name: str) -> Path:
    """`parent/<embedder>-<hash>`: one model per embedding model, so a test's fake embedder never replaces the
    real one (the hash keeps two long names that share a prefix apart)."""
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in embedder_name)[:60]
    return parent / f"{slug}-{hashlib.sha256(embedder_name.encode()).hexdigest()[:8]}"


def save_atomically(save: Callable[[Path], None], directory: Path) -> None:
    """Run `save` into a folder next to `directory` and swap it in, so a reader never sees half a model and two
    processes training at once do not mix their files."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        save(staging)
        old = directory.with_name(directory.name + f".old-{os.getpid()}")
        if directory.exists():
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_model_files(folder: Path, meta_file: str, arrays_file: str, what: str,
                     error: type[Exception]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON and numpy halves of a saved model; missing or unreadable is `error` naming `what` and the folder."""
    try:
        raw = json.loads((folder / meta_file).read_text(encoding="utf-8"))
        with np.load(folder / arrays_file, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        raise error(f"no {what} in {folder}; run `make index` (policybot build-index trains it)") from None
    except (ValueError, OSError) as problem:
        raise error(f"the {what} in {folder} cannot be read ({type(problem).__name__}); "
                    f"run `make index` to rebuild it") from None
    return raw, arrays
