"""Hybrid per-school retrieval: dense (FAISS) + lexical (BM25) fused by reciprocal rank, then role-aware.

A school's question only ever searches that school's own index, so another school's passage cannot be returned.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bot.core.roles import canonical_role
from bot.core.embedder import Embedder, TokenVectors, default_embedder, embed_query, embed_query_tokens
from bot.qa.index import IndexNotReady, IndexStore, SchoolIndex
from bot.qa.ingest import PolicyPassage
from bot.schools import SchoolDirectory, SchoolProfile
from bot.text import lemmas, normalise_query

log = logging.getLogger(__name__)


# Everyday words people use -> the words school policies use for the same thing. Domain vocabulary only.
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "phone": ("mobile", "device"), "mobile": ("phone",), "smartphone": ("mobile", "phone"),
    "iphone": ("mobile", "phone"), "ipad": ("tablet", "device"), "tablet": ("device",),
    "laptop": ("device", "equipment"), "smartwatch": ("watch", "device"), "watch": ("device",),
    "pic": ("photo", "image", "photograph"), "pics": ("photo", "image"), "picture": ("photo", "image", "photograph"),
    "photo": ("image", "photograph", "picture"), "selfie": ("photo", "image"), "video": ("image", "film"),
    "film": ("video", "image"), "camera": ("photo", "image"),
    "instagram": ("social", "media", "networking"), "snapchat": ("social", "media", "messaging"),
    "tiktok": ("social", "media"), "facebook": ("social", "media", "networking"),
    "whatsapp": ("messaging", "app"), "twitter": ("social", "media"), "youtube": ("video", "broadcasting"),
    "insta": ("social", "media"), "friend": ("contact",), "follow": ("social", "media", "contact"),
    "dm": ("message", "messaging"), "chat": ("message", "messaging", "communication"),
    "text": ("message", "messaging", "mobile"), "message": ("communication", "email"),
    "password": ("username", "login"), "login": ("password", "username", "log"), "pin": ("password",),
    "hack": ("password", "account", "access"), "account": ("username", "password"),
    "block": ("filter", "filtering"), "filter": ("filtering", "block"), "blocked": ("filter", "filtering"),
    "monitor": ("monitoring",), "spy": ("monitor", "monitoring"), "track": ("monitor", "monitoring"),
    "headteacher": ("head", "teacher", "principal"), "head": ("headteacher",), "principal": ("headteacher",),
    "dsl": ("designated", "safeguarding", "lead"), "safeguard": ("safeguarding",),
    "esafety": ("safety", "online"), "internet": ("online",), "online": ("internet",), "web": ("internet", "website"),
    "nude": ("sexting", "indecent", "image", "sexual"), "nudes": ("sexting", "indecent", "image"),
    "sext": ("sexting",), "sexting": ("indecent", "image", "sexual"),
    "bully": ("bullying", "cyberbullying"), "bullying": ("cyberbullying", "bully"), "cyberbullying": ("bully",),
    "troll": ("bully", "abuse"), "mean": ("bully", "abuse"), "harass": ("harassment", "bully"),
    "groom": ("grooming", "exploitation"), "stranger": ("contact", "adult"), "extremism": ("radicalisation",),
    "radical": ("radicalisation", "extremism"), "terrorist": ("extremism", "radicalisation"),
    "game": ("gaming",), "gaming": ("game",), "download": ("downloading", "file"),
    "teach": ("curriculum", "education", "taught", "learn"), "learn": ("curriculum", "education", "taught", "teach"),
    "lesson": ("curriculum", "lessons"), "class": ("lesson",),
    "punish": ("sanction", "disciplinary"),
    "punishment": ("sanction", "disciplinary"), "consequence": ("sanction", "action"),
    "break": ("breach", "misuse"), "rule": ("policy", "acceptable", "use"),
    "kid": ("child", "pupil"), "son": ("child", "pupil"), "daughter": ("child", "pupil"), "child": ("pupil",),
    "student": ("pupil",), "pupil": ("student",), "teacher": ("staff",), "ta": ("staff",),
    "mum": ("parent", "carer"), "dad": ("parent", "carer"), "parent": ("carer",),
    "visitor": ("guest",), "governor": ("governing", "body"),
    "email": ("e-mail", "mail"), "website": ("web", "site"), "site": ("website",),
    "copy": ("copyright", "plagiarism"), "plagiarise": ("copyright", "plagiarism"), "copyright": ("plagiarism",),
    "data": ("gdpr", "personal", "information"), "gdpr": ("data", "protection"), "privacy": ("personal", "data"),
    "personal": ("private",), "private": ("personal",), "share": ("sharing",), "tell": ("report",),
    "report": ("reporting", "concern"), "worry": ("concern",), "worried": ("concern", "report"),
    "virus": ("anti-virus", "malware"), "usb": ("removable", "media", "storage"), "stick": ("removable", "usb"),
    "lunch": ("lunchtime",), "break time": ("social", "time"), "lost": ("loss", "theft"), "stolen": ("theft", "loss"),
    "steal": ("theft",), "damage": ("damaged", "loss"), "wifi": ("wireless", "network"), "network": ("system",),
    "cctv": ("camera", "surveillance"), "police": ("criminal",), "illegal": ("criminal", "law"),
    "permission": ("consent",), "consent": ("permission",), "allowed": ("permit",), "ban": ("not", "allowed"),
    "vpn": ("proxy", "bypass", "filtering"), "proxy": ("bypass", "filtering"),
    "happen": ("sanction", "action", "consequence"), "misbehave": ("misuse", "behaviour", "incident"),
    "misuse": ("incident", "breach"), "problem": ("risk", "issue", "concern"), "danger": ("risk",),
    "risk": ("danger",), "ignore": ("breach", "disregard"), "quickly": ("immediately", "promptly"),
    "fast": ("immediately", "promptly"), "soon": ("immediately", "promptly"), "document": ("policy", "guidance"),
    "trouble": ("sanction", "disciplinary", "misconduct", "action"), "delete": ("destroy", "corrupt", "remove"), "mess": ("corrupt", "damage"),
    "fake": ("manipulate", "false", "untrue"), "edit": ("manipulate", "alter"), "photoshop": ("manipulate",), "responsible": ("responsibility",), "job": ("responsibility", "role"),
}

# "Who is the head?" -> the profile fields whose people we should look for in the policy text.
_PERSON_CUES: dict[str, tuple[str, ...]] = {
    "headteacher": ("headteacher", "head", "principal"),
    "dsl": ("dsl", "designated", "safeguarding", "protection"),
    "online_safety_lead": ("online", "esafety", "e-safety", "coordinator", "co-ordinator"),
    "governor": ("governor", "governing"),
    "data_protection_officer": ("dpo", "data", "gdpr"),
}


_ROLE_WORDS = {"pupil": ["pupil", "student"], "staff": ["staff", "member"], "parent": ["parent", "carer"],
               "governor": ["governor"], "visitor": ["visitor"]}


def roles_served(role: str) -> set[str]:
    """The passage audiences that answer someone asking as `role`: a parent asking about their child wants the
    pupils' rules too."""
    return {role, "pupil"} if role == "parent" else {role}


def query_tokens(question: str) -> tuple[list[str], list[str]]:
    """(lemmas of the question, expansion lemmas) for the lexical index."""
    base = lemmas(normalise_query(question))
    extra: list[str] = []
    for token in base:
        for synonym in EXPANSIONS.get(token, ()):
            extra.extend(lemmas(synonym))
    return base, [t for t in extra if t not in base]


@dataclass(frozen=True)
class SearchHit:
    """One retrieved passage with its fused score and the two signals behind it."""

    passage: PolicyPassage
    score: float
    dense: float
    lexical: float

    @property
    def school(self) -> str:
        return self.passage.school

    @property
    def section(self) -> str:
        return self.passage.section_label

    @property
    def text(self) -> str:
        return self.passage.text

    @property
    def start(self) -> int:
        return self.passage.start

    @property
    def end(self) -> int:
        return self.passage.end


@dataclass(frozen=True)
class RetrievalSettings:
    """Fusion knobs, measured on the dev set with `make bench` (see docs/benchmarks.md)."""

    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    expansion_weight: float = 0.5  # synonyms count half as much as the asker's own words
    role_boost: float = 0.05  # added (in units of the top fused score) when a passage is for the asker's role
    role_penalty: float = 0.075  # taken off a passage written for another group (e.g. staff rules, asked by a pupil)
    table_role_penalty: float = 0.10  # a table row states one group's rule exactly, so mismatch counts more
    role_words: bool = False
    person_boost: float = 10.0  # "who is the DSL?": passages naming that person come before ones naming the post
    mode: str = "hybrid"  # hybrid | dense | lexical


class Retriever:
    """Answers `retrieve(school, question, role, k)` from per-school indexes, loading them lazily."""

    def __init__(self, schools: SchoolDirectory | None = None, store: IndexStore | None = None,
                 embedder: Embedder | None = None, settings: RetrievalSettings | None = None,
                 auto_build: bool = True) -> None:
        self.schools = schools or SchoolDirectory.load()
        self.store = store or IndexStore()
        self.embedder = embedder or default_embedder()
        self.settings = settings or RetrievalSettings()
        self.auto_build = auto_build
        self._indexes: dict[str, SchoolIndex] = {}
        self._lock = threading.Lock()

    def index_for(self, school: str) -> SchoolIndex:
        """The school's index, loaded once; a missing or stale one is rebuilt (or reported) here."""
        profile = self.schools.get(school)
        with self._lock:
            if school not in self._indexes:
                self._indexes[school] = self._load_or_build(profile)
            return self._indexes[school]

    def _load_or_build(self, profile: SchoolProfile) -> SchoolIndex:
        if not profile.policy_path.exists():
            raise IndexNotReady(f"policy file for school '{profile.slug}' not found: {profile.policy_path}")
        try:
            return self.store.load(profile, self.embedder)
        except IndexNotReady as problem:
            if not self.auto_build:
                raise
            log.warning("%s; rebuilding it now", problem)
            return self.store.build(profile, self.embedder)

    def retrieve(self, school: str, question: str, role: str | None = "any", k: int = 5,
                 query_vector: np.ndarray | None = None) -> list[SearchHit]:
        """Best `k` passages of `school`'s policy for `question`, asked as `role`; best first. A caller that has
        already embedded the question passes `query_vector`."""
        role = canonical_role(role)
        index = self.index_for(school)
        n = len(index.passages)
        if n == 0 or not question.strip():
            return []
        cfg = self.settings
        # Dense similarity is computed in every mode: even BM25-only ranking reports it for the abstention rule.
        dense = index.dense.scores(self.embed_query(school, question) if query_vector is None else query_vector)
        base, extra = query_tokens(question)
        if cfg.role_words and role != "any":
            # Asking as a pupil is like saying "pupils" in the question: lexical evidence for pupils' rules.
            extra = extra + [w for w in _ROLE_WORDS[role] if w not in base and w not in extra]
        lexical = index.lexical.scores(base)
        if extra:
            lexical = lexical + cfg.expansion_weight * index.lexical.scores(extra)
        if cfg.mode == "dense":
            fused = dense.astype(np.float64)
        elif cfg.mode == "lexical":
            fused = lexical.astype(np.float64)
        else:
            # BM25 is scaled to [0, 1] by the query's best match so it weighs like a cosine similarity.
            top = float(lexical.max()) or 1.0
            fused = cfg.dense_weight * dense.astype(np.float64) + cfg.lexical_weight * lexical / top
            person = self._person_boost(school, question, index.passages)
            fused = fused + person
            if person.any():
                role = "any"  # who holds a post is the same answer whoever asks
        fused = self._apply_role(fused, index.passages, role)
        order = np.argsort(-fused, kind="stable")[:k]
        return [SearchHit(index.passages[i], float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]

    def embed_query(self, school: str, question: str) -> np.ndarray:
        """The question's vector for a search of `school`'s index: the one the Rasa server already computed for
        exactly this text when the current action carries it (bot.core.embedder.carried_embeddings), else the
        embedder's."""
        return embed_query(self.embedder, question, self.index_for(school).dense.dim)

    def embed_query_tokens(self, school: str, question: str) -> tuple[np.ndarray, TokenVectors | None]:
        """`embed_query`'s vector and the question's word pieces, from one run of the model."""
        return embed_query_tokens(self.embedder, question, self.index_for(school).dense.dim)

    def people_asked_about(self, school: str, question: str) -> list[str]:
        """For "who is the ...?" questions, the names the school's profile holds for the post asked about."""
        text = normalise_query(question)
        # Only identity questions ("who is the DSL?", "who's our head teacher"), not "who checks devices?".
        match = re.match(r"^(?:so |and |please )?who (?:is|are|was) (?:the |our |my |your )?(.+?)[\s?.!]*$", text)
        if not match or len(lemmas(match[1])) > 5:
            return []
        asked = set(lemmas(match[1])) | set(match[1].split())
        profile = self.schools.get(school)
        names: list[str] = []
        for field_name, cues in _PERSON_CUES.items():
            if not asked & set(cues):
                continue
            value = getattr(profile, field_name)
            if field_name == "dsl":
                names.extend(value)
            elif isinstance(value, str):
                names.append(value)
            elif value is not None and value.name:
                names.append(value.name)
        return names

    def _person_boost(self, school: str, question: str, passages: Sequence[PolicyPassage]) -> np.ndarray:
        """Lift passages that name the person asked about, so "who is the DSL?" quotes where they are named."""
        boost = np.zeros(len(passages))
        for name in self.people_asked_about(school, question):
            for i, passage in enumerate(passages):
                if name.lower() in passage.text.lower():
                    boost[i] = self.settings.person_boost
        return boost

    def _apply_role(self, fused: np.ndarray, passages: Sequence[PolicyPassage], role: str) -> np.ndarray:
        """Prefer passages written for the asker's role; demote ones written for another group.

        A parent asking about their child wants the pupils' rules, so parents match pupil passages too.
        """
        if role == "any" or not len(fused):
            return fused
        wanted = roles_served(role)
        scale = float(np.max(fused)) or 1.0
        adjust = np.zeros_like(fused)
        for i, passage in enumerate(passages):
            if not passage.audience:
                continue
            if wanted & passage.audience:
                adjust[i] = self.settings.role_boost * scale
            elif passage.kind == "table_row":
                adjust[i] = -self.settings.table_role_penalty * scale
            else:
                adjust[i] = -self.settings.role_penalty * scale
        return fused + adjust

