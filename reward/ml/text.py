"""Prompt and lyrics text as hashed word and character n-gram ids for an EmbeddingBag, so text
conditioning needs no vocabulary file and no download, in any language."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from reward.ml.analysis import prompt_attributes

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class TextConfig:
    """How text becomes bucket ids; stored in the checkpoint, since ids depend on it."""

    buckets: int = 16_384
    char_ngram_sizes: tuple[int, ...] = (3, 4)
    word_bigrams: bool = True
    # Long lyrics are cut: a bag of a few hundred n-grams already says what they are about.
    max_ids: int = 768

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["char_ngram_sizes"] = list(self.char_ngram_sizes)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TextConfig:
        values = dict(values)
        values["char_ngram_sizes"] = tuple(values["char_ngram_sizes"])
        return cls(**values)


@dataclass(frozen=True)
class TextBatch:
    """EmbeddingBag input for a batch of texts, with which texts were present at all."""

    ids: torch.Tensor
    offsets: torch.Tensor
    present: torch.Tensor
    attributes: torch.Tensor  # (batch, 5): the tempo and key each text states (analysis.prompt_attributes)


def text_words(*, text: str) -> list[str]:
    """Lower-cased word tokens (Unicode letters and digits)."""
    return _WORD.findall(text.lower())


def _bucket(key: str, buckets: int) -> int:
    # crc32 rather than hash(): Python salts str hashes per process, which would scramble ids.
    return zlib.crc32(key.encode("utf-8")) % buckets


def text_hash_ids(*, text: str | None, config: TextConfig) -> list[int]:
    """Bucket ids of the words, word bigrams and character n-grams of `text` (empty when absent)."""
    if not text:
        return []
    words = text_words(text=text)
    keys: list[str] = [f"w:{word}" for word in words]
    if config.word_bigrams:
        keys.extend(f"b:{first} {second}" for first, second in zip(words, words[1:], strict=False))
    for word in words:
        marked = f"<{word}>"
        for size in config.char_ngram_sizes:
            keys.extend(f"c:{marked[i : i + size]}" for i in range(max(len(marked) - size + 1, 0)))
    return [_bucket(key, config.buckets) for key in keys[: config.max_ids]]


def text_batch(*, texts: Sequence[str | None], config: TextConfig) -> TextBatch:
    """Pack texts into flat ids and offsets; a missing or wordless text is marked absent."""
    ids: list[int] = []
    offsets: list[int] = []
    present: list[bool] = []
    attributes: list[list[float]] = []
    for text in texts:
        attributes.append(prompt_attributes(text=text))
        offsets.append(len(ids))
        these = text_hash_ids(text=text, config=config)
        ids.extend(these)
        present.append(bool(these))
    return TextBatch(
        ids=torch.tensor(ids, dtype=torch.long),
        offsets=torch.tensor(offsets, dtype=torch.long),
        present=torch.tensor(present, dtype=torch.bool),
        attributes=torch.tensor(attributes, dtype=torch.float32).reshape(len(texts), -1),
    )
