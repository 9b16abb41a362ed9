"""Reading the project's YAML data files, with one kind of error for a missing, unreadable or invalid file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, what: str) -> Any:
    """The parsed contents of `path`; a ValueError naming `what` and the file when it is missing or unreadable, or
    the file and line when it is not valid YAML."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except OSError as problem:
        raise ValueError(f"cannot read {what} {path}: {problem.strerror}") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path} is not valid YAML{where}: {getattr(problem, 'problem', problem)}") from None
