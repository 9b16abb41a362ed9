"""Entity extractor for closed lists (school, role, post), learned from the training data instead of a neural tagger.

Everything it knows comes from data/nlu (never from the dev set):

* surface forms: every annotated entity span (its entity type, and its value after the synonym tables), every
  synonym and every lookup-table element (the lookup's name is the entity type);
* when a listed word is an entity: in some intents people use list words without meaning the entity (a "new
  teacher" asking for an induction is not setting a role); the annotators' choice is learned as the rate at which
  exact matches of each entity type are annotated per intent (smoothed towards the type's overall rate), and a
  match is emitted only where that rate is at least `min_annotation_rate`;
* which type an ambiguous form has ("governor": role or post) from the annotations per intent;
* typo tolerance: a span of up to N tokens that matches no form exactly is compared with the forms by edit
  distance (candidates found by character n-grams); the threshold is chosen at training time by leave-one-form-out
  on the training lists themselves (each form removed in turn must be recovered from the others with the right
  value, and unannotated spans of training messages must not match), maximising F1.

At inference it takes the longest case-insensitive matches on token boundaries (tokens are runs of letters/digits,
joined by apostrophes or hyphens, so "child" is not found in "child-on-child"), left to right, then fuzzy matches in
what is left. Entities come out in Rasa's format with canonical values, so EntitySynonymMapper and the actions see
what DIET gave them. The model is JSON (no pickles); it has no TensorFlow and trains in well under a second.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

MODEL_FILE = "closed_list_entities.json"
#: Rasa's key for an extracted entity's confidence (as DIET writes it).
CONFIDENCE_KEY = "confidence_entity"
TOKEN_PATTERN = re.compile(r"\w+(?:['\u2019\-]\w+)*")


def tokens(text: str) -> List[Tuple[str, int, int]]:
    """(lower-cased token, start, end) for each token of `text`; curly apostrophes become straight ones."""
    return [(m.group(0).lower().replace("\u2019", "'"), m.start(), m.end()) for m in TOKEN_PATTERN.finditer(text)]


def _real_words_run_together(toks: Sequence[Tuple[str, int, int]], window: Tuple[int, int, str, int],
                             form: str) -> bool:
    """Whether the window reaches `form` only by running correctly spelt common words together ("use on" is two
    edits from "ouston"): spaces are squeezed out so that "kings medow" can be "kingsmeadow", but a misspelling has
    a misspelt word in it. A window with as many tokens as the form ("wire forest") is compared word for word as
    before."""
    # The screen's reading of messages already knows which words are common English (spaCy's lexeme table).
    from bot.safeguarding.screen.normalise import common_word

    i, j = window[0], window[1]
    return j - i != len(form.split()) and all(common_word(toks[k][0]) for k in range(i, j))


def normalise(text: str) -> str:
    """A surface form as the matcher compares it: its tokens, lower-cased, joined by single spaces."""
    return " ".join(token for token, _s, _e in tokens(text))


class _Lexicon:
    """The learned model; plain data so it can be stored as JSON and rebuilt exactly."""

    def __init__(self, forms: Dict[str, Dict[str, Any]], gate: Dict[str, Dict[str, List[int]]],
                 threshold: Optional[float], config: Dict[str, Any],
                 non_entities: Iterable[str] = ()) -> None:
        # form -> {"value": canonical value, "types": {entity type: count}, "intent_types": {intent: {type: n}}}
        self.forms = forms
        # entity type -> {intent or "*": [annotated matches, all matches]}
        self.gate = gate
        self.threshold = threshold
        self.config = config
        # Spans of training messages that look like a form but were left unannotated ("parental", "child-on-child"):
        # the annotators saw them and said no, so they are never typo-matched.
        self.non_entities = set(non_entities)
        self.max_tokens = max((len(form.split()) for form in forms), default=0)
        self._vectorizer = None
        self._form_names: List[str] = sorted(forms)
        self._form_matrix = None
        if self._form_names:
            from sklearn.feature_extraction.text import CountVectorizer

            low, high = config["char_ngram_range"]
            self._vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=(int(low), int(high)), binary=True,
                                               dtype=np.float32)
            self._form_matrix = _l2(self._vectorizer.fit_transform(self._form_names))

    # -- matching ----------------------------------------------------------------------------------------------

    def exact_matches(self, toks: Sequence[Tuple[str, int, int]]) -> List[Tuple[int, int, str]]:
        """Longest known forms, left to right, as (first token, end token, form)."""
        found, i = [], 0
        while i < len(toks):
            for length in range(min(self.max_tokens, len(toks) - i), 0, -1):
                form = " ".join(t for t, _s, _e in toks[i:i + length])
                if form in self.forms:
                    found.append((i, i + length, form))
                    i += length
                    break
            else:
                i += 1
        return found

    def windows(self, toks: Sequence[Tuple[str, int, int]], taken: Iterable[Tuple[int, int]],
                extend: bool = True) -> List[Tuple[int, int, str, int]]:
        """Token windows (up to one token longer than the longest form) as (first, end, text, letters of exact
        matches inside). A window never cuts an exact match; with `extend` it may contain whole ones plus other
        tokens (a misspelt "ouston primayr school" contains the exact "ouston")."""
        owner = {}
        for a, b in taken:
            for k in range(a, b):
                owner[k] = (a, b)
        out = []
        for i in range(len(toks)):
            if i in owner and owner[i][0] != i:
                continue
            for length in range(1, self.max_tokens + 2):
                j = i + length
                if j > len(toks) or (j - 1 in owner and owner[j - 1][1] > j):
                    if j > len(toks):
                        break
                    continue
                inside = {owner[k] for k in range(i, j) if k in owner}
                covered = sum(b - a for a, b in inside)
                if inside and (not extend or covered == j - i):
                    if not extend:
                        break
                    continue
                text = " ".join(t for t, _s, _e in toks[i:j])
                letters = sum(len(toks[k][0]) for a, b in inside for k in range(a, b))
                if len(text.replace(" ", "")) >= int(self.config["min_fuzzy_chars"]):
                    out.append((i, j, text, letters))
        return out

    def nearest(self, texts: Sequence[str], exclude: Optional[Sequence[str]] = None
                ) -> Tuple[np.ndarray, List[str]]:
        """Most similar form to each text and its similarity (optionally leaving one form out per text).

        Character n-gram cosine picks a few candidate forms cheaply; the similarity is then one minus the
        Damerau (optimal string alignment) edit distance between the texts without spaces, divided by the longer
        length: a dropped, swapped, replaced or inserted letter costs one, and "kings medow" is one edit from
        "kingsmeadow"."""
        if not texts or self._vectorizer is None:
            return np.zeros(len(texts)), [""] * len(texts)
        cosine = (_l2(self._vectorizer.transform(texts)) @ self._form_matrix.T).toarray()
        if exclude is not None:
            index = {form: k for k, form in enumerate(self._form_names)}
            for row, form in enumerate(exclude):
                if form in index:
                    cosine[row, index[form]] = -1.0
        candidates = int(self.config["candidates"])
        top = np.argsort(-cosine, axis=1)[:, :candidates]
        best_sims, best_forms = np.zeros(len(texts)), [""] * len(texts)
        for row, text in enumerate(texts):
            squeezed = text.replace(" ", "")
            for k in top[row]:
                if cosine[row, k] <= 0:
                    continue
                form = self._form_names[k]
                target = form.replace(" ", "")
                sim = 1.0 - osa_distance(squeezed, target) / max(len(squeezed), len(target), 1)
                if sim > best_sims[row]:
                    best_sims[row], best_forms[row] = sim, form
        return best_sims, best_forms

    def fuzzy_matches(self, toks: Sequence[Tuple[str, int, int]], taken: Iterable[Tuple[int, int]]
                      ) -> List[Tuple[int, int, str, float]]:
        """Non-overlapping windows at least `threshold` similar to a form, most similar first (a window holding
        exact matches only on the terms of `_extends`)."""
        if self.threshold is None:
            return []
        taken = list(taken)
        windows = [w for w in self.windows(toks, taken)
                   if w[2] not in self.non_entities
                   and not any(toks[k][0] in self.non_entities for k in range(w[0], w[1]))]
        sims, forms = self.nearest([w[2] for w in windows])
        candidates = sorted(((float(s), w[1] - w[0], w, f) for s, w, f in zip(sims, windows, forms)
                             if s >= self.threshold and (not w[3] or self._extends(toks, w, f, taken))
                             and not _real_words_run_together(toks, w, f)),
                            key=lambda c: (-c[0], -c[1]))
        used: set = set()
        chosen = []
        for sim, _len, (i, j, _text, _letters), form in candidates:
            if used.isdisjoint(range(i, j)):
                used.update(range(i, j))
                chosen.append((i, j, form, sim))
        return chosen

    @staticmethod
    def _extends(toks: Sequence[Tuple[str, int, int]], window: Tuple[int, int, str, int], form: str,
                 taken: Iterable[Tuple[int, int]]) -> bool:
        """A window holding exact matches may stand for `form` only if the form has as many tokens and keeps the
        exactly matched tokens verbatim in the same places (so "teacher is" is never "teachers")."""
        i, j = window[0], window[1]
        form_tokens = form.split()
        if len(form_tokens) != j - i:
            return False
        return all(form_tokens[k - i] == toks[k][0] for a, b in taken if i <= a and b <= j for k in range(a, b))

    # -- decisions ---------------------------------------------------------------------------------------------

    def entity_type(self, form: str, intent: Optional[str]) -> str:
        """The form's type: the annotations in this intent if any, else overall (lookup membership counts once)."""
        entry = self.forms[form]
        by_intent = entry.get("intent_types", {}).get(intent or "", {})
        pool = by_intent if by_intent else entry["types"]
        return max(sorted(pool), key=lambda t: pool[t])

    def annotation_rate(self, entity_type: str, intent: Optional[str]) -> float:
        """Smoothed rate at which exact matches of this type were annotated in messages of this intent."""
        counts = self.gate.get(entity_type, {})
        annotated, seen = counts.get("*", [1, 1])
        prior = (annotated + 1.0) / (seen + 2.0)
        if intent is None or intent not in counts:
            return prior
        annotated, seen = counts[intent]
        strength = float(self.config["smoothing"])
        return (annotated + strength * prior) / (seen + strength)

    def extract(self, text: str, intent: Optional[str]) -> List[Dict[str, Any]]:
        """Entities (type, canonical value, character span, confidence) found in `text`."""
        toks = tokens(text)
        exact = self.exact_matches(toks)
        fuzzy = self.fuzzy_matches(toks, [(i, j) for i, j, _f in exact])
        found = [(i, j, form, 1.0) for i, j, form in exact
                 if not any(a <= i and j <= b for a, b, _f, _s in fuzzy)] + fuzzy
        entities = []
        for i, j, form, similarity in sorted(found):
            entity_type = self.entity_type(form, intent)
            rate = self.annotation_rate(entity_type, intent)
            if rate < float(self.config["min_annotation_rate"]):
                continue
            entities.append({
                ENTITY_ATTRIBUTE_TYPE: entity_type,
                ENTITY_ATTRIBUTE_VALUE: self.forms[form]["value"],
                ENTITY_ATTRIBUTE_START: toks[i][1],
                ENTITY_ATTRIBUTE_END: toks[j - 1][2],
                CONFIDENCE_KEY: round(float(similarity * rate), 4),
            })
        return entities

    def to_json(self) -> Dict[str, Any]:
        return {"forms": self.forms, "gate": self.gate, "threshold": self.threshold,
                "non_entities": sorted(self.non_entities)}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class ClosedListEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Finds closed-list entities learned from the annotations, synonyms and lookup tables of the training data."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # "auto": chosen at training time by leave-one-form-out on the training lists; a number fixes it;
            # null turns typo matching off.
            "fuzzy_threshold": "auto",
            "threshold_grid": [round(0.50 + 0.025 * k, 3) for k in range(19)],
            "char_ngram_range": [2, 4],
            # Forms (nearest by character n-grams) whose edit-distance similarity is computed for each span.
            "candidates": 5,
            # Shorter spans ("ta", "dpo", "y7") are only matched exactly: two or three letters carry no typo signal.
            "min_fuzzy_chars": 4,
            # Emit a match only where the annotators tagged at least this share of such matches (per intent).
            "min_annotation_rate": 0.5,
            # Pseudo-count pulling an intent's annotation rate towards the entity type's overall rate.
            "smoothing": 2.0,
            # Only these entity types are learned (empty: every annotated, synonym-mapped or lookup type).
            "entity_types": [],
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        threshold = config.get("fuzzy_threshold")
        if not (threshold is None or threshold == "auto" or (
                isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0 < threshold <= 1)):
            raise ValueError(f"fuzzy_threshold must be 'auto', null or a number in (0, 1], got {threshold!r}")
        for key in ("min_annotation_rate",):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{key} must be a number in [0, 1], got {value!r}")
        low_high = config.get("char_ngram_range")
        if (not isinstance(low_high, (list, tuple)) or len(low_high) != 2
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in low_high)
                or not 1 <= low_high[0] <= low_high[1]):
            raise ValueError(f"char_ngram_range must be [low, high] with 1 <= low <= high, got {low_high!r}")

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 lexicon: Optional[_Lexicon] = None) -> None:
        self.validate_config(config)
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._lexicon = lexicon

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ClosedListEntityExtractor:
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    # -- training -------------------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        """Learns the forms, the per-intent annotation rates and the typo threshold; saves them as JSON."""
        self._lexicon = learn(training_data, self._config)
        self.persist()
        return self._resource

    @property
    def lexicon(self) -> Optional[_Lexicon]:
        return self._lexicon

    # -- prediction -----------------------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the entities found to each message's `entities` (keeping those of earlier extractors)."""
        for message in messages:
            text = message.get(TEXT)
            if self._lexicon is None or not text:
                continue
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            found = self.add_extractor_name(self._lexicon.extract(str(text), intent))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

    # -- storage --------------------------------------------------------------------------------------------

    def persist(self) -> None:
        if self._lexicon is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            (directory / MODEL_FILE).write_text(json.dumps(self._lexicon.to_json(), ensure_ascii=False),
                                                encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ClosedListEntityExtractor:
        try:
            with model_storage.read_from(resource) as directory:
                saved = json.loads((directory / MODEL_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.warning("ClosedListEntityExtractor: no trained model found; no entities will be extracted.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource,
                   _Lexicon(saved["forms"], saved["gate"], saved["threshold"], config,
                            saved.get("non_entities", ())))


# -- learning ---------------------------------------------------------------------------------------------------

def learn(training_data: TrainingData, config: Dict[str, Any]) -> _Lexicon:
    """The lexicon for `training_data` (examples, synonyms, lookup tables)."""
    wanted = set(config.get("entity_types") or [])
    synonyms = {normalise(k): v for k, v in training_data.entity_synonyms.items()}

    def canonical(value: str) -> str:
        return str(synonyms.get(normalise(value), value))

    types: Dict[str, Counter] = defaultdict(Counter)
    intent_types: Dict[str, Dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    values: Dict[str, Counter] = defaultdict(Counter)
    value_types: Dict[str, Counter] = defaultdict(Counter)
    examples = [m for m in training_data.training_examples if m.get(TEXT)]
    for message in examples:
        text = str(message.get(TEXT))
        for entity in message.get(ENTITIES) or []:
            if wanted and entity[ENTITY_ATTRIBUTE_TYPE] not in wanted:
                continue
            form = normalise(text[entity[ENTITY_ATTRIBUTE_START]:entity[ENTITY_ATTRIBUTE_END]])
            if not form:
                continue
            value = canonical(str(entity.get(ENTITY_ATTRIBUTE_VALUE, form)))
            types[form][entity[ENTITY_ATTRIBUTE_TYPE]] += 1
            intent_types[form][str(message.get(INTENT))][entity[ENTITY_ATTRIBUTE_TYPE]] += 1
            values[form][value] += 1
            value_types[value][entity[ENTITY_ATTRIBUTE_TYPE]] += 1
    for table in training_data.lookup_tables:
        name = str(table.get("name"))
        if wanted and name not in wanted:
            continue
        elements = table.get("elements")
        if isinstance(elements, str):  # a lookup table read from a file path
            continue
        for element in elements or []:
            form = normalise(str(element))
            if form:
                types[form][name] += 1
                values[form][canonical(str(element))] += 1
                value_types[canonical(str(element))][name] += 1
    for surface, value in training_data.entity_synonyms.items():
        form = normalise(surface)
        if not form or form in types:
            continue
        # A synonym carries no type: it has the type its value is annotated with (or listed under).
        if value_types.get(str(value)):
            types[form].update(value_types[str(value)])
            values[form][str(value)] += 1
    forms = {}
    for form, counter in types.items():
        value = values[form].most_common(1)[0][0] if values.get(form) else form
        forms[form] = {"value": value, "types": dict(counter),
                       "intent_types": {i: dict(c) for i, c in intent_types.get(form, {}).items()}}

    # Annotation rates: for every exact match in a training message, was it annotated (same span and type)?
    lexicon = _Lexicon(forms, {}, None, config)
    gate: Dict[str, Dict[str, List[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for message in examples:
        text, intent = str(message.get(TEXT)), str(message.get(INTENT))
        toks = tokens(text)
        gold = {(e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END]) for e in message.get(ENTITIES) or []}
        for i, j, form in lexicon.exact_matches(toks):
            entity_type = lexicon.entity_type(form, intent)
            hit = int((toks[i][1], toks[j - 1][2]) in gold)
            for key in (intent, "*"):
                gate[entity_type][key][0] += hit
                gate[entity_type][key][1] += 1
    gate_json = {t: {k: list(v) for k, v in counts.items()} for t, counts in gate.items()}
    threshold = config.get("fuzzy_threshold")
    negatives = unannotated_windows(lexicon, examples)
    if threshold == "auto":
        threshold = choose_threshold(lexicon, examples, config["threshold_grid"], negatives)
    non_entities: List[str] = []
    if threshold is not None and negatives:
        texts = list(negatives)
        sims, _ = lexicon.nearest(texts)
        non_entities = [t for t, s in zip(texts, sims) if s >= threshold]
    return _Lexicon(forms, gate_json, threshold, config, non_entities)


def unannotated_windows(lexicon: _Lexicon, examples: Sequence[Message]) -> Counter:
    """How often each window of the training messages that overlaps no annotation occurs (windows holding an
    unannotated exact match included: "new teacher" in "i'm a new teacher" was seen and left untagged)."""
    negatives: Counter = Counter()
    for message in examples:
        toks = tokens(str(message.get(TEXT)))
        spans = [(e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END]) for e in message.get(ENTITIES) or []]
        taken = [(i, j) for i, j, _f in lexicon.exact_matches(toks)]
        windows = [w for w in lexicon.windows(toks, taken)
                   if not any(toks[w[0]][1] < b and a < toks[w[1] - 1][2] for a, b in spans)]
        extended = [w for w in windows if w[3]]
        _sims, forms = lexicon.nearest([w[2] for w in extended])
        # A window holding an exact match is a candidate at inference only on _extends' terms; so here too.
        keep = {id(w) for w, form in zip(extended, forms) if lexicon._extends(toks, w, form, taken)}
        for window in windows:
            if not window[3] or id(window) in keep:
                negatives[window[2]] += 1
    return negatives


def choose_threshold(lexicon: _Lexicon, examples: Sequence[Message], grid: Sequence[float],
                     negatives: Optional[Counter] = None) -> Optional[float]:
    """The similarity threshold with the best F1 on the training lists.

    Positives: each form (long enough to be fuzzy-matched), left out in turn, should be matched to another form
    with the same value and type. Negatives: every unannotated window of the training messages that is no exact
    match, weighted by how often it occurs, should match nothing."""
    min_chars = int(lexicon.config["min_fuzzy_chars"])
    positives = [f for f in lexicon.forms if len(f.replace(" ", "")) >= min_chars]
    pos_sims, pos_best = lexicon.nearest(positives, exclude=positives)
    correct = np.array([lexicon.forms[b]["value"] == lexicon.forms[f]["value"]
                        and set(lexicon.forms[b]["types"]) & set(lexicon.forms[f]["types"]) != set()
                        for f, b in zip(positives, pos_best)], dtype=bool)
    if negatives is None:
        negatives = unannotated_windows(lexicon, examples)
    neg_texts = list(negatives)
    neg_sims, _ = lexicon.nearest(neg_texts)
    neg_weights = np.array([negatives[t] for t in neg_texts], dtype=float)
    best, best_f1 = None, 0.0
    for threshold in grid:
        matched = pos_sims >= threshold
        tp = float((matched & correct).sum())
        fp = float((matched & ~correct).sum()) + float(neg_weights[neg_sims >= threshold].sum())
        fn = float(len(positives)) - tp
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(threshold), f1
    logger.debug("ClosedListEntityExtractor: typo threshold %s (leave-one-form-out F1 %.3f)", best, best_f1)
    return best


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost one."""
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def _l2(matrix):
    """Rows scaled to unit length (zero rows stay zero)."""
    from scipy import sparse

    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).reshape(-1))
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ matrix
