"""Hashed n-gram text features: stable ids, absent texts marked, any language."""

from __future__ import annotations

import subprocess
import sys

from reward.ml.text import TextConfig, text_batch, text_hash_ids, text_words

CONFIG = TextConfig()


def test_it_gives_the_same_ids_in_another_process() -> None:
    # Python salts str hashes per process; the ids must not depend on that.
    code = (
        "from reward.ml.text import TextConfig, text_hash_ids;"
        "print(text_hash_ids(text='A calm piano piece', config=TextConfig()))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "123", "PYTHONPATH": "."},
    )
    assert other.stdout.strip() == str(text_hash_ids(text="A calm piano piece", config=CONFIG))


def test_ids_cover_words_bigrams_and_character_ngrams_within_the_buckets() -> None:
    ids = text_hash_ids(text="calm piano", config=CONFIG)
    # 2 words + 1 bigram + character 3- and 4-grams of "<calm>" (4 + 3) and "<piano>" (5 + 4).
    assert len(ids) == 2 + 1 + 7 + 9
    assert all(0 <= i < CONFIG.buckets for i in ids)


def test_it_reads_words_in_any_script_and_ignores_case() -> None:
    assert text_words(text="Ruhige KLAVIER-Musik, 静かな ピアノ") == ["ruhige", "klavier", "musik", "静かな", "ピアノ"]
    assert text_hash_ids(text="Piano", config=CONFIG) == text_hash_ids(text="piano", config=CONFIG)


def test_it_marks_missing_and_empty_texts_absent() -> None:
    batch = text_batch(texts=["calm piano", None, "", "  ...  ", "drums"], config=CONFIG)
    assert batch.present.tolist() == [True, False, False, False, True]
    assert batch.offsets.shape == (5,)
    assert int(batch.offsets[1]) == int(batch.offsets[2]) == int(batch.offsets[4])


def test_it_cuts_very_long_lyrics() -> None:
    lyrics = " ".join(f"word{i}" for i in range(2000))
    assert len(text_hash_ids(text=lyrics, config=CONFIG)) == CONFIG.max_ids
