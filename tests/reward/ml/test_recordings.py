"""Real recordings (reward/ml/recordings.py): the cached Debian game music that `make music-data` fetches, its
licences, its deterministic train/test split, and the package reserved for an outside check."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy import signal

from reward.ml import recordings
from reward.ml.recordings import (
    EXCLUDED_PACKAGES,
    MusicPackage,
    RecordingsError,
    excerpt_read,
    music_cache_dir,
    music_fetch,
    track_licence,
    track_split,
    tracks_load,
)

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: game

Files: *
Copyright: 2011 Someone
License: GPL-2+

Files: music/a.ogg
       music/b.ogg
Copyright: Composer One
 and Two
License: CC-BY-SA-3.0

Files: debian/*
Copyright: 2013 Packager
License: GPL-2+
"""


def test_the_last_matching_files_paragraph_gives_a_tracks_licence() -> None:
    assert track_licence(copyright_text=COPYRIGHT, installed_path="/usr/share/game/music/b.ogg") == (
        "CC-BY-SA-3.0", "Composer One and Two",
    )
    assert track_licence(copyright_text=COPYRIGHT, installed_path="/usr/share/game/music/c.ogg")[0] == "GPL-2+"
    with pytest.raises(RecordingsError, match="no licence"):
        track_licence(copyright_text="Files: music/*\nLicense: MIT\n", installed_path="/usr/share/x/y.ogg")


def test_the_split_is_a_hash_of_the_track_key_and_about_one_in_three_is_test() -> None:
    digest = hashlib.sha256(b"drascula-music/track11.ogg").digest()
    assert (int.from_bytes(digest[:8], "big") % 3 == 0) == (track_split("drascula-music/track11.ogg") == "test")
    splits = Counter(track_split(f"pkg/track{index}.ogg") for index in range(600))
    assert 150 < splits["test"] < 250


def test_the_package_reserved_for_an_outside_check_is_refused(tmp_path: Path) -> None:
    assert "singularity-music" in EXCLUDED_PACKAGES
    assert all(package.name not in EXCLUDED_PACKAGES for package in recordings.PACKAGES)
    with pytest.raises(RecordingsError, match="reserved for an outside check"):
        music_fetch(cache=tmp_path, packages=[MusicPackage("singularity-music", "usr/share/games", ("*.ogg",))])
    assert not list(tmp_path.iterdir())


def test_a_missing_cache_names_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(RecordingsError, match="make music-data"):
        tracks_load(cache=tmp_path)


def test_the_cached_music_has_three_packages_half_an_hour_licences_and_both_splits() -> None:
    tracks = tracks_load()
    packages = {track.package for track in tracks}
    assert len(packages) >= 3 and not packages & EXCLUDED_PACKAGES
    assert sum(track.seconds for track in tracks) >= 30 * 60
    assert all(track.licence and track.split == track_split(track.key) for track in tracks)
    for split in ("train", "test"):
        chosen = [track for track in tracks if track.split == split]
        assert len({track.package for track in chosen}) >= 2, split
        assert sum(track.seconds for track in chosen) >= 10 * 60, split
    licences = {track.package: track.licence for track in tracks}
    assert licences["hyperrogue-music"] == "CC-BY-SA-3.0"  # per-file paragraph, not the package's GPL-2+
    assert (music_cache_dir() / "manifest.json").is_file()


def test_an_excerpt_is_decoded_from_its_place_mixed_to_mono_and_resampled() -> None:
    track = next(track for track in tracks_load() if track.sample_rate == 44_100)
    excerpt = excerpt_read(track=track, start=10.0, seconds=2.0, sample_rate=24_000)
    assert excerpt.samples.shape == (48_000,) and excerpt.samples.dtype == np.float32
    whole, rate = soundfile.read(str(music_cache_dir() / track.path), frames=14 * 44_100, dtype="float64")
    expected = signal.resample_poly(whole[10 * rate: 12 * rate].mean(axis=1), 80, 147)
    assert np.max(np.abs(excerpt.samples - expected)) < 1e-3
