"""Grouped k-fold cross-validation of the entity extractors on data/nlu: DIET (config.yml's settings) against
components.closed_list_entities.ClosedListEntityExtractor, trained side by side in one NLU pipeline per fold.

Grouping: an example's group is its intent plus its text with every annotated span replaced by the entity type
("who is the <post> at <school>"), lower-cased. Messages that are the same phrasing with another school or role
(the common near-duplicates in this data) therefore never sit on both sides of a split, so the scores measure new
phrasings, not memorised templates. The synonym and lookup tables are part of every fold's training data, as they
are in production (the lists are closed). The dev sets in ../shared/eval are not used.

Scores (micro over entity types, and per type):
  span   an entity is right when its type, start and end match an annotation;
  value  per message, the set of (type, canonical value) the actions read (after EntitySynonymMapper), against the
         annotations mapped through the synonym tables;
  typo   the held-out messages again with one random edit (drop, swap, replace or insert a letter) inside each
         entity of five letters or more, scored as `value` (how each extractor copes with unseen misspellings).

  .venv/bin/python -m tools.entity_cv [--folds 5] [--no-diet] [--epochs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
MINE = "ClosedListEntityExtractor"


def pipeline(diet: bool, epochs: int) -> List[dict]:
    """config.yml's NLU pipeline up to EntitySynonymMapper, with the closed-list extractor after the intent."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    steps = []
    for step in config["pipeline"]:
        name = step["name"]
        if name == "DIETClassifier":
            if diet:
                steps.append({**step, "epochs": epochs})
            continue
        if name in ("ResponseSelector", "FallbackClassifier") or "safeguarding" in name \
                or "closed_list_entities" in name:
            continue
        if name == "EntitySynonymMapper":
            steps.append({"name": "components.closed_list_entities.ClosedListEntityExtractor"})
        steps.append(step)
    return steps


def template(message) -> str:
    text = message.get("text")
    for entity in sorted(message.get("entities") or [], key=lambda e: -e["start"]):
        text = text[:entity["start"]] + f"<{entity['entity']}>" + text[entity["end"]:]
    return f"{message.get('intent')}|" + re.sub(r"\s+", " ", text.lower()).strip()


def perturb(text: str, entities: Sequence[dict], rng: random.Random) -> Tuple[str, List[dict]]:
    """One random letter edit inside each entity of 5+ letters; entity offsets shifted to match."""
    out, shift, moved = text, 0, []
    for entity in sorted(entities, key=lambda e: e["start"]):
        start, end = entity["start"] + shift, entity["end"] + shift
        span = out[start:end]
        letters = [k for k, ch in enumerate(span) if ch.isalpha() and k > 0]
        if len(span.replace(" ", "")) >= 5 and len(letters) >= 2:
            k = rng.choice(letters[:-1])
            kind = rng.choice(["drop", "swap", "replace", "insert"])
            letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
            if kind == "drop":
                span = span[:k] + span[k + 1:]
            elif kind == "swap":
                span = span[:k] + span[k + 1] + span[k] + span[k + 2:]
            elif kind == "replace":
                span = span[:k] + letter + span[k + 1:]
            else:
                span = span[:k] + letter + span[k:]
            out = out[:start] + span + out[end:]
            shift += len(span) - (end - start)
            end = start + len(span)
        moved.append({**entity, "start": start, "end": end})
    return out, moved


class Scores:
    def __init__(self) -> None:
        self.counts: Dict[str, Counter] = defaultdict(Counter)

    def add(self, gold: Set[tuple], predicted: Set[tuple]) -> None:
        for item in predicted & gold:
            self.counts[item[0]]["tp"] += 1
        for item in predicted - gold:
            self.counts[item[0]]["fp"] += 1
        for item in gold - predicted:
            self.counts[item[0]]["fn"] += 1

    def prf(self, entity_type: str | None = None) -> Tuple[float, float, float, int]:
        rows = [self.counts[entity_type]] if entity_type else list(self.counts.values())
        tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0), tp + fn


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100, help="DIET epochs (config.yml: 100)")
    parser.add_argument("--no-diet", action="store_true", help="only the closed-list extractor (fast)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import logging
    logging.disable(logging.WARNING)
    import warnings
    warnings.filterwarnings("ignore")
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import GroupKFold
    import structlog

    # Rasa's structlog debug lines (one per parsed message) would bury the table.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    from components.closed_list_entities import normalise

    data = load_data(str(ROOT / "data" / "nlu"))
    examples = [m for m in data.training_examples if m.get("text")]
    synonyms = {normalise(k): v for k, v in data.entity_synonyms.items()}

    def canonical(value: str) -> str:
        return str(synonyms.get(normalise(str(value)), value)).lower()

    groups = [template(m) for m in examples]
    extractors = ["DIETClassifier", MINE] if not args.no_diet else [MINE]
    scores = {(x, kind): Scores() for x in extractors for kind in ("span", "value", "typo")}
    rng = random.Random(args.seed)
    timings = []
    print(f"{len(examples)} examples, {len(set(groups))} groups, "
          f"{sum(1 for m in examples if m.get('entities'))} with entities; {args.folds} grouped folds", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.yml"
        config_path.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "assistant_id": "cv",
                                               "pipeline": pipeline(not args.no_diet, args.epochs)}))
        for fold, (train_idx, test_idx) in enumerate(GroupKFold(n_splits=args.folds).split(examples,
                                                                                          groups=groups)):
            train = TrainingData([examples[i] for i in train_idx], entity_synonyms=data.entity_synonyms,
                                 regex_features=data.regex_features, lookup_tables=data.lookup_tables)
            nlu_path = Path(tmp) / f"nlu-{fold}.yml"
            nlu_path.write_text(train.nlu_as_yaml(), encoding="utf-8")
            started = time.perf_counter()
            model = train_nlu(str(config_path), str(nlu_path), str(Path(tmp) / f"model-{fold}"),
                              domain=str(ROOT / "domain"))
            timings.append(time.perf_counter() - started)
            agent = Agent.load(model)
            for i in test_idx:
                message = examples[i]
                gold = message.get("entities") or []
                for kind, text, entities in (("span", message.get("text"), gold),
                                             ("typo", *perturb(message.get("text"), gold, rng))):
                    if kind == "typo" and not gold:
                        continue
                    parsed = asyncio.run(agent.parse_message(text))
                    for extractor in extractors:
                        found = [e for e in parsed.get("entities", []) if e.get("extractor") == extractor]
                        values_gold = {(e["entity"], canonical(e.get("value", ""))) for e in entities}
                        values_found = {(e["entity"], str(e.get("value", "")).lower()) for e in found}
                        if kind == "span":
                            scores[(extractor, "span")].add({(e["entity"], e["start"], e["end"]) for e in entities},
                                                            {(e["entity"], e["start"], e["end"]) for e in found})
                            scores[(extractor, "value")].add(values_gold, values_found)
                        else:
                            scores[(extractor, "typo")].add(values_gold, values_found)
            print(f"fold {fold + 1}/{args.folds}: {len(train_idx)} train, {len(test_idx)} test, "
                  f"trained in {timings[-1]:.0f}s", flush=True)
    types = sorted({t for s in scores.values() for t in s.counts})
    print(f"\n{'extractor':<26}{'score':<7}{'type':<8}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}")
    for extractor in extractors:
        for kind in ("span", "value", "typo"):
            for entity_type in [None, *types]:
                p, r, f1, n = scores[(extractor, kind)].prf(entity_type)
                print(f"{extractor:<26}{kind:<7}{entity_type or 'all':<8}{p:7.3f}{r:7.3f}{f1:7.3f}{n:6d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
