"""Shared fixtures: a tiny two-school data folder, a deterministic embedder and a throwaway index store."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

# spaCy (imported by bot.text on first use) warns about pkg_resources at import; not ours to fix.
warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)

from bot.qa.answer import PolicyAssistant  # noqa: E402
from bot.core.embedder import FakeEmbedder  # noqa: E402
from bot.qa.index import IndexStore  # noqa: E402
from bot.qa.retrieval import Retriever  # noqa: E402
from bot.schools import SchoolDirectory  # noqa: E402

#: A primary school's phones policy: markdown + numbered headings, a lead-in list, a tick-matrix table.
ALDER_POLICY = (
    "## 1. Mobile Phones\n"
    "\n"
    "1.1 Pupils' use of phones\n"
    "\n"
    "Pupils must hand their mobile phones to the class teacher at the start of the school day.\n"
    "\n"
    "School staff should ensure that:\n"
    "- phones are kept in a locked drawer\n"
    "- lost phones are reported to the school office\n"
    "\n"
    "Communication Technologies\tStaff & other adults\t\t\t\tStudents / Pupils\t\t\t\n"
    "\tAllowed\tAllowed at certain times\tAllowed for selected staff\tNot allowed\tAllowed\t"
    "Allowed at certain times\tAllowed with staff permission\tNot allowed\n"
    "Use of mobile phones in lessons\t\t✓\t✓\t?\t\t\t✓\t\n"
    "\n"
    "## 2. Passwords\n"
    "\n"
    "Passwords must be kept private and changed every term.\n"
)

#: A secondary school's policy: a bare title heading, bullets (one continued), a header table, a key-value row.
BIRCH_POLICY = (
    "Students:\n"
    "\n"
    "Students may use their phones at lunchtime in the canteen only.\n"
    "\n"
    "Social Media\n"
    "\n"
    "- Students must not contact staff on social media sites\n"
    "- Staff must not accept friend requests from students\n"
    "  or from their parents\n"
    "\n"
    "Nature of Incident\tSchool Response\tFollow-up and Monitoring\n"
    "Student shares an image of another student without consent\tHead of Year informed and parents contacted\t"
    "Review with the pastoral team after two weeks\n"
    "\n"
    "Issue date\tSeptember 2023\n"
)

#: Same layout as data/schools.yml.
SCHOOLS_YML = """\
# Tiny test schools, same layout as data/schools.yml.
schools:
  alder:
    name: Alder Primary School
    short_name: Alder
    aliases: [alder, alder primary]
    reference_prefix: APS
    phase: primary
    trust: null
    local_authority: null
    policy_file: alder.txt
    policy_title: Online Safety Policy
    policy_date: "2021-03"
    policy_date_label: Approved March 2021
    next_review: "2022-03"
    headteacher: Mary Oak
    dsl: [Mary Oak]
    deputy_dsl: []
    online_safety_lead:
      name: Jane Hollis
      title: Online Safety Lead
    governor: null
    data_protection_officer: null
    technical_lead: null
    filtering_system: null
    other_contacts: []
    ask_first: online_safety_lead

  birch:
    name: Birch Academy
    short_name: Birch
    aliases: [birch, birch academy]
    reference_prefix: BA
    phase: secondary
    trust: Woodland Trust
    local_authority: null
    policy_file: birch.txt
    policy_title: E-Safety Policy
    policy_date: "2023-09-01"
    policy_date_label: Issued 1 September 2023
    next_review: "2024"
    headteacher: null
    dsl: [Tom Reed]
    deputy_dsl: []
    online_safety_lead: null
    governor: null
    data_protection_officer: null
    technical_lead: null
    filtering_system: null
    other_contacts: []
    ask_first: dsl
"""

#: Before either school's review date, so answers carry no review note unless a test says otherwise.
BEFORE_REVIEWS = date(2021, 6, 1)

_ENV = ("POLICYBOT_DATA_DIR", "POLICYBOT_ARTIFACTS_DIR", "POLICYBOT_EMBEDDING_MODEL")


def write_data_dir(root: Path, policies: dict[str, str], schools_yml: str = SCHOOLS_YML) -> Path:
    """Write `schools.yml` and `policies/<file>` under `root`; returns `root`."""
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "schools.yml").write_text(schools_yml, encoding="utf-8")
    for file_name, text in policies.items():
        (root / "policies" / file_name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _no_policybot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from the defaults, whatever the calling shell exports."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny two-school data folder (alder, birch).

    `SchoolProfile.policy_path` resolves policy files through settings, so POLICYBOT_DATA_DIR points here too.
    """
    root = write_data_dir(tmp_path / "data", {"alder.txt": ALDER_POLICY, "birch.txt": BIRCH_POLICY})
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(root))
    return root


@pytest.fixture
def schools(data_dir: Path) -> SchoolDirectory:
    """The tiny directory, loaded from an explicit path."""
    return SchoolDirectory.load(data_dir / "schools.yml")


@pytest.fixture
def embedder() -> FakeEmbedder:
    """The deterministic hashing embedder."""
    return FakeEmbedder()


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    """An empty index store under tmp_path."""
    return IndexStore(tmp_path / "artifacts" / "index")


@pytest.fixture
def retriever(schools: SchoolDirectory, store: IndexStore, embedder: FakeEmbedder) -> Retriever:
    """A retriever over the tiny schools that builds indexes on first use."""
    return Retriever(schools=schools, store=store, embedder=embedder, auto_build=True)


@pytest.fixture
def assistant(retriever: Retriever) -> PolicyAssistant:
    """The answering service, with `today` fixed before either review date."""
    return PolicyAssistant(retriever, today=BEFORE_REVIEWS)


@pytest.fixture
def cli_env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Environment for `bot.cli.main`: tiny data, artifacts under tmp_path, the fake embedder."""
    artifacts = tmp_path / "artifacts"
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(artifacts))
    monkeypatch.setenv("POLICYBOT_EMBEDDING_MODEL", "fake")
    yield artifacts


# ------------------------------------------------------------------------------------------------ safeguarding screen


@pytest.fixture(scope="session")
def fake_screen_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A screen model trained once per test session on the project's corpus with the fake embedder (3 grouped
    folds for its thresholds): real plumbing, instant embeddings. Tests copy it where they need it."""
    from bot import settings
    from bot.safeguarding.screen import training

    folder = tmp_path_factory.mktemp("screen-model") / "fake"
    trained = training.train(FakeEmbedder(), settings.PROJECT_ROOT / "data" / "safeguarding" / "training", folds=3)
    training.save_atomically(trained.model, folder)
    return folder


@pytest.fixture
def fake_screen_artifacts(fake_screen_model: Path, data_dir: Path, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> Path:
    """POLICYBOT_ARTIFACTS_DIR under tmp_path with the fake-embedder screen model in place, and the fake embedder
    configured, so `SafeguardingScreen()` and the CLI find a model without training one; the tiny data folder gets
    the screen's backstop phrases and language files (its own safeguarding data, as a deployment's would)."""
    import shutil

    from bot import settings
    from bot.safeguarding.screen import training

    source, target = settings.PROJECT_ROOT / "data" / "safeguarding", data_dir / "safeguarding"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "backstop.yml", target / "backstop.yml")
    shutil.copytree(source / "languages", target / "languages", dirs_exist_ok=True)
    artifacts = tmp_path / "artifacts"
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(artifacts))
    monkeypatch.setenv("POLICYBOT_EMBEDDING_MODEL", "fake")
    shutil.copytree(fake_screen_model, training.model_dir(FakeEmbedder().name))
    return artifacts


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Redis server for the whole run (tests/redis_process.py)."""
    from redis_process import running_redis  # tests/ is on sys.path (rootdir conftest)

    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The session's Redis, emptied before each test that uses it."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    yield redis_server
