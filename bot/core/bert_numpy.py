"""A BERT sentence encoder in NumPy, for sentence-transformers models made of a BERT transformer, mean pooling and
normalisation (the packaged all-MiniLM-L6-v2 is one).

Why: the encoder is all the two servers need from torch and sentence-transformers, and those two imports are about
400 MB of resident memory in each process -- a fifth of the 2 GB both servers may use together (issue 15). The
weights are read from `model.safetensors` with safetensors' NumPy loader and the text is split by the model's own
`tokenizer.json` (the Rust `tokenizers` package), so neither torch nor transformers is imported. The vectors match
sentence-transformers' to float32 rounding (tests/test_bert_numpy.py compares them), so indexes built either way
serve the other. Any other kind of model (MPNet, CLS pooling, a dense head) is left to sentence-transformers:
`NumpyBertEncoder.supports` says which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

#: The modules a supported sentence-transformers folder lists, in order.
_SUPPORTED_MODULES = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                      "sentence_transformers.models.Normalize")


@dataclass(frozen=True)
class BertShape:
    """What the forward pass needs from config.json and sentence_bert_config.json."""

    layers: int
    heads: int
    hidden: int
    layer_norm_eps: float
    max_seq_length: int

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _unsupported_reason(folder: Path) -> str | None:
    """Why `folder` is not a BERT + mean pooling + normalise model this module can run (None if it is)."""
    needed = ("modules.json", "config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        return f"missing {', '.join(missing)}"
    modules = tuple(entry.get("type") for entry in _read_json(folder / "modules.json"))
    if modules != _SUPPORTED_MODULES:
        return f"modules {modules} are not Transformer, Pooling, Normalize"
    config = _read_json(folder / "config.json")
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu" \
            or config.get("position_embedding_type", "absolute") != "absolute":
        return "not a BERT model with GELU and absolute positions"
    pooling = _read_json(folder / "1_Pooling" / "config.json")
    other_modes = [key for key, on in pooling.items()
                   if key.startswith("pooling_mode_") and on and key != "pooling_mode_mean_tokens"]
    if not pooling.get("pooling_mode_mean_tokens") or other_modes:
        return "pooling is not mean pooling alone"
    return None


#: Eigen's float32 rational approximation of erf on [-4, 4] (erf is ±1 to float32 precision beyond): within 5e-7
#: of the exact value, and 2.5 times faster than scipy.special.erf, which was half of a batch's time.
_ERF_P = tuple(np.float32(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                                       -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                                       -1.60960333262415e-02))
_ERF_Q = tuple(np.float32(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                                       -7.37332916720468e-03, -1.42647390514189e-02))


def _erf(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, np.float32(-4.0), np.float32(4.0))
    x2 = x * x
    p = np.full_like(x, _ERF_P[0])
    for c in _ERF_P[1:]:
        p *= x2
        p += c
    p *= x
    q = np.full_like(x, _ERF_Q[0])
    for c in _ERF_Q[1:]:
        q *= x2
        q += c
    p /= q
    return p


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x) (not the tanh approximation)."""
    out = _erf(x * np.float32(1.0 / np.sqrt(2.0)))
    out += np.float32(1.0)
    out *= x
    out *= np.float32(0.5)
    return out


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + np.float32(eps)) * weight + bias


class NumpyBertEncoder:
    """Encodes texts with a BERT sentence-transformers model folder; loads weights and tokenizer on construction,
    so build it lazily (the embedder does, on first use)."""

    #: Padded tokens per forward pass (see `encode`).
    TOKENS_PER_BATCH = 1024

    def __init__(self, folder: Path | str) -> None:
        folder = Path(folder)
        reason = _unsupported_reason(folder)
        if reason is not None:
            raise ValueError(f"{folder} cannot be run without sentence-transformers: {reason}")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = _read_json(folder / "config.json")
        sbert = folder / "sentence_bert_config.json"
        max_seq_length = int(_read_json(sbert).get("max_seq_length") or 0) if sbert.is_file() else 0
        self.shape = BertShape(int(config["num_hidden_layers"]), int(config["num_attention_heads"]),
                               int(config["hidden_size"]), float(config.get("layer_norm_eps", 1e-12)),
                               min(max_seq_length or 512, int(config.get("max_position_embeddings", 512))))
        weights = load_file(str(folder / "model.safetensors"))
        # Some exports prefix every name with the architecture ("bert.embeddings…"); strip it once.
        self._w = {name.removeprefix("bert."): np.ascontiguousarray(array) for name, array in weights.items()
                   if array.dtype != np.int64}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.shape.max_seq_length)

    @property
    def lowercases(self) -> bool:
        """Whether the tokenizer folds case (an uncased model gives "Can I…" and "can i…" the same vector)."""
        return self._tokenizer.encode("Ab").ids == self._tokenizer.encode("ab").ids

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (see `_run` for the batching)."""
        return self._run(texts, batch_size, tokens=False)[0]

    def encode_tokens(self, texts: Sequence[str], batch_size: int = 32
                      ) -> tuple[np.ndarray, list[tuple[tuple[str, ...], np.ndarray]]]:
        """The same vectors and, from the same forward pass, each text's word pieces with the last layer's vector
        for each (sentence-transformers' `token_embeddings`, [CLS] and [SEP] included, not normalised)."""
        return self._run(texts, batch_size, tokens=True)

    def _run(self, texts: Sequence[str], batch_size: int, tokens: bool
             ) -> tuple[np.ndarray, list[tuple[tuple[str, ...], np.ndarray]]]:
        """Texts are batched by length, so padding stays small, and at most TOKENS_PER_BATCH tokens at a time:
        attention scores grow with the square of the length, and 64 passages of 250 tokens made arrays of
        hundreds of MB (three times slower than batches of 8)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        out = np.zeros((len(encodings), self.shape.hidden), dtype=np.float32)
        pieces: list[tuple[tuple[str, ...], np.ndarray]] = [((), np.zeros((0, self.shape.hidden), np.float32))
                                                            for _ in encodings]
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and end - start < batch_size \
                    and (end - start + 1) * len(encodings[order[end]].ids) <= self.TOKENS_PER_BATCH:
                end += 1
            rows = order[start:end]
            start = end
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1.0
            hidden = self._forward(ids, mask)
            out[rows] = self._pooled(hidden, mask)
            if tokens:
                for r, i in enumerate(rows):
                    n = len(encodings[i].ids)
                    pieces[i] = (tuple(encodings[i].tokens), hidden[r, :n].astype(np.float32, copy=True))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, np.float32(1e-12)), pieces

    @staticmethod
    def _pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean of the last layer's token vectors over the real (unpadded) tokens."""
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, s = self._w, self.shape
        batch, width = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:width][None, :, :]
             + w["embeddings.token_type_embeddings.weight"][0][None, None, :])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], s.layer_norm_eps)
        # Padding never attended to: the same large negative bias transformers adds before the softmax.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(s.head_size))
        for layer in range(s.layers):
            p = f"encoder.layer.{layer}."

            def linear(inputs: np.ndarray, name: str) -> np.ndarray:
                # One 2-D product (a single BLAS call, not one per text of the batch), as W·xᵀ with W in its
                # stored (out, in) layout: OpenBLAS runs that form about 20% faster than x·Wᵀ for a few rows.
                flat = (w[p + name + ".weight"] @ inputs.reshape(-1, inputs.shape[-1]).T).T
                return (flat + w[p + name + ".bias"]).reshape(batch, width, -1)

            def heads(projected: np.ndarray) -> np.ndarray:
                return projected.reshape(batch, width, s.heads, s.head_size).transpose(0, 2, 1, 3)

            q = heads(linear(x, "attention.self.query"))
            k = heads(linear(x, "attention.self.key"))
            v = heads(linear(x, "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, s.hidden)
            x = _layer_norm(linear(context, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], s.layer_norm_eps)
            inner = _gelu(linear(x, "intermediate.dense"))
            x = _layer_norm(linear(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], s.layer_norm_eps)
        return x

    @staticmethod
    def supports(folder: Path | str) -> bool:
        """Whether `folder` is a model this encoder runs exactly (else use sentence-transformers)."""
        return _unsupported_reason(Path(folder)) is None
