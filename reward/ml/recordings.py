"""Real recordings for training and testing the reward model: free game music from Debian packages, fetched with
`apt-get download` + `dpkg -x` into a cache outside the repository (never committed), with each track's licence read
from its package's copyright file, split into train and test by a hash of the track's path.

    python -m reward.ml.recordings fetch     # `make music-data`; a no-op when the cache is complete
    python -m reward.ml.recordings list      # the tracks, their split and licence

The Debian package `singularity-music` is reserved for an outside check of the model: it is refused here by name
(`EXCLUDED_PACKAGES`) and must never be added to `PACKAGES`.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from scipy import signal

MANIFEST_VERSION = 1
EXCLUDED_PACKAGES = frozenset({"singularity-music"})
MIN_TRACK_SECONDS = 20.0
# One track in TEST_SHARE_DIVISOR goes to the test set (by a hash of its path, so adding a package moves nothing).
TEST_SHARE_DIVISOR = 3


@dataclass(frozen=True)
class MusicPackage:
    """A Debian package of music: where its tracks lie once extracted, and which files are tracks."""

    name: str
    folder: str
    patterns: tuple[str, ...]


PACKAGES: tuple[MusicPackage, ...] = (
    MusicPackage("asc-music", "usr/share/games/asc/music", ("*.mp3",)),
    MusicPackage("drascula-music", "usr/share/scummvm/drascula/audio", ("*.ogg",)),
    MusicPackage("hyperrogue-music", "usr/share/hyperrogue/music", ("*.ogg",)),
)


class RecordingsError(Exception):
    """The music cache cannot be made or read; the message names the cause."""


@dataclass(frozen=True)
class Track:
    """One recording in the cache: `path` relative to the cache folder; `key` (package/path in the package) decides
    the split."""

    key: str
    package: str
    version: str
    path: str
    seconds: float
    sample_rate: int
    channels: int
    licence: str
    copyright: str
    split: str


def music_cache_dir() -> Path:
    """`EARSHOT_MUSIC_DIR`, or ~/.cache/earshot/music."""
    configured = os.environ.get("EARSHOT_MUSIC_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "earshot" / "music"


def _refuse_excluded(names: Sequence[str]) -> None:
    for name in names:
        if name in EXCLUDED_PACKAGES:
            raise RecordingsError(f"the package {name!r} is reserved for an outside check and may not be used")


def track_split(key: str) -> str:
    """'test' or 'train', from a hash of the track's key (package/path inside the package)."""
    digest = hashlib.sha256(key.encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") % TEST_SHARE_DIVISOR == 0 else "train"


def copyright_paragraphs(text: str) -> list[dict[str, str]]:
    """The paragraphs of a machine-readable (DEP-5) copyright file as field -> value (continuation lines joined)."""
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    field = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, field = {}, None
        elif line[0] in " \t" and field is not None:
            current[field] += "\n" + line.strip()
        elif ":" in line:
            field, _, value = line.partition(":")
            field = field.strip()
            current[field] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def track_licence(*, copyright_text: str, installed_path: str) -> tuple[str, str]:
    """(licence, copyright holders) of an installed file: the last `Files:` paragraph whose pattern matches the end of
    its path wins, as DEP-5 says. Raises RecordingsError when the file is not machine-readable or nothing matches."""
    found: tuple[str, str] | None = None
    for paragraph in copyright_paragraphs(copyright_text):
        if "Files" not in paragraph or "License" not in paragraph:
            continue
        patterns = paragraph["Files"].split()
        if any(pattern == "*" or fnmatch.fnmatch(installed_path, "*/" + pattern) for pattern in patterns):
            found = (paragraph["License"].splitlines()[0].strip(), " ".join(paragraph.get("Copyright", "").split()))
    if found is None:
        raise RecordingsError(f"no licence in the copyright file covers {installed_path}")
    return found


def _run(command: list[str], *, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)  # noqa: S603 - fixed argv
    except FileNotFoundError as exc:
        raise RecordingsError(f"{command[0]} is not installed (Debian's apt and dpkg are needed)") from exc
    except subprocess.CalledProcessError as exc:
        raise RecordingsError(f"{' '.join(command)} failed: {exc.stderr.strip()[-500:]}") from exc
    return done.stdout


def package_fetch(*, package: MusicPackage, cache: Path) -> tuple[str, Path, str]:
    """Download and extract one package into cache/<name>_<version> (made whole or not at all): its version, folder
    and the .deb's sha256."""
    _refuse_excluded([package.name])
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as scratch:
        try:
            _run(["apt-get", "download", package.name], cwd=Path(scratch))
        except RecordingsError:  # a fresh machine may have no package lists yet: read them once, then try again
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "download", package.name], cwd=Path(scratch))
        debs = sorted(Path(scratch).glob(f"{package.name}_*.deb"))
        if len(debs) != 1:
            raise RecordingsError(f"apt-get download {package.name} left {len(debs)} .deb files")
        deb = debs[0]
        version = _run(["dpkg-deb", "--field", str(deb), "Version"]).strip()
        folder = cache / f"{package.name}_{version.replace(':', '%3a')}"
        sha256 = hashlib.sha256(deb.read_bytes()).hexdigest()
        if not folder.is_dir():
            partial = Path(scratch) / "tree"
            _run(["dpkg", "-x", str(deb), str(partial)])
            partial.rename(folder)
    return version, folder, sha256


def _manifest_path(cache: Path) -> Path:
    return cache / "manifest.json"


def manifest_build(*, cache: Path, fetched: Sequence[tuple[MusicPackage, str, Path, str]]) -> dict[str, Any]:
    """The manifest of the extracted packages: every track with its length, licence and split."""
    tracks: list[dict[str, Any]] = []
    packages = []
    for package, version, folder, sha256 in fetched:
        copyright_file = folder / "usr" / "share" / "doc" / package.name / "copyright"
        if not copyright_file.is_file():
            raise RecordingsError(f"{package.name} has no copyright file at {copyright_file}")
        copyright_text = copyright_file.read_text(encoding="utf-8", errors="replace")
        packages.append({"name": package.name, "version": version, "deb_sha256": sha256, "folder": folder.name})
        root = folder / package.folder
        files = sorted(path for pattern in package.patterns for path in root.glob(pattern))
        if not files:
            raise RecordingsError(f"{package.name} has no tracks matching {package.patterns} in {package.folder}")
        for path in files:
            info = soundfile.info(str(path))
            if info.duration < MIN_TRACK_SECONDS:
                continue
            installed = "/" + str(path.relative_to(folder))
            licence, holders = track_licence(copyright_text=copyright_text, installed_path=installed)
            key = f"{package.name}/{path.relative_to(root)}"
            tracks.append({
                "key": key, "package": package.name, "version": version, "path": str(path.relative_to(cache)),
                "seconds": round(float(info.duration), 3), "sample_rate": int(info.samplerate),
                "channels": int(info.channels), "licence": licence, "copyright": holders, "split": track_split(key),
            })
    return {
        "version": MANIFEST_VERSION,
        "excluded_packages": sorted(EXCLUDED_PACKAGES),
        "packages": packages,
        "tracks": tracks,
    }


def music_fetch(*, cache: Path | None = None, packages: Sequence[MusicPackage] = PACKAGES) -> dict[str, Any]:
    """Make the cache complete for `packages` and write its manifest; a no-op when the manifest lists them all."""
    _refuse_excluded([package.name for package in packages])
    cache = cache or music_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    existing = _manifest_path(cache)
    if existing.is_file():
        manifest = json.loads(existing.read_text())
        if manifest.get("version") == MANIFEST_VERSION and sorted(p["name"] for p in manifest["packages"]) == sorted(
            package.name for package in packages
        ):
            return dict(manifest)
    fetched = []
    for package in packages:
        version, folder, sha256 = package_fetch(package=package, cache=cache)
        fetched.append((package, version, folder, sha256))
    manifest = manifest_build(cache=cache, fetched=fetched)
    temporary = existing.with_suffix(".json.partial")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    temporary.replace(existing)
    return manifest


def tracks_load(*, cache: Path | None = None, split: str | None = None) -> list[Track]:
    """The tracks of the cache's manifest (of one split when given); RecordingsError naming `make music-data` when
    the cache is missing."""
    cache = cache or music_cache_dir()
    path = _manifest_path(cache)
    if not path.is_file():
        raise RecordingsError(f"no music cache at {cache}: run `make music-data` (apt-get download + dpkg -x)")
    manifest = json.loads(path.read_text())
    tracks = [Track(**row) for row in manifest["tracks"]]
    _refuse_excluded([track.package for track in tracks])
    return [track for track in tracks if split is None or track.split == split]


@dataclass(frozen=True)
class Excerpt:
    """A mono excerpt of a track at `sample_rate`, starting `start` seconds in."""

    track: Track
    start: float
    samples: np.ndarray
    sample_rate: int


def excerpt_read(
    *, track: Track, start: float, seconds: float, sample_rate: int, cache: Path | None = None
) -> Excerpt:
    """Decode `seconds` of a track from `start` (seeking, not decoding the whole file), mixed to mono and resampled
    (polyphase, scipy) to `sample_rate`."""
    cache = cache or music_cache_dir()
    with soundfile.SoundFile(str(cache / track.path)) as handle:
        handle.seek(int(start * handle.samplerate))
        frames = handle.read(int(round(seconds * handle.samplerate)), dtype="float32", always_2d=True)
        rate = handle.samplerate
    mono = frames.mean(axis=1, dtype=np.float64)
    if rate != sample_rate:
        common = math.gcd(rate, sample_rate)
        mono = signal.resample_poly(mono, sample_rate // common, rate // common)
    return Excerpt(track=track, start=start, samples=mono.astype(np.float32), sample_rate=sample_rate)


def excerpts_take(
    *, tracks: Sequence[Track], per_track: int, seconds: float, sample_rate: int, cache: Path | None = None,
    min_rms: float = 0.01,
) -> list[Excerpt]:
    """`per_track` excerpts of each track at fixed places (evenly spread, skipping the first and last 5%); a nearly
    silent excerpt (RMS below `min_rms`) is left out, so no pair compares two silences."""
    out = []
    for track in tracks:
        usable = track.seconds * 0.9 - seconds
        if usable <= 0:
            continue
        for index in range(per_track):
            start = track.seconds * 0.05 + usable * (index + 0.5) / per_track
            excerpt = excerpt_read(track=track, start=start, seconds=seconds, sample_rate=sample_rate, cache=cache)
            if float(np.sqrt(np.mean(np.square(excerpt.samples, dtype=np.float64)))) >= min_rms:
                out.append(excerpt)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Real recordings for the reward model (Debian game music).")
    parser.add_argument("action", choices=["fetch", "list"])
    args = parser.parse_args(argv)
    try:
        if args.action == "fetch":
            music_fetch()
        tracks = tracks_load()
    except RecordingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.action == "list":
        for track in tracks:
            print(f"{track.split:<6}{track.seconds:>8.1f} s  {track.licence:<16} {track.key}")
    for split in ("train", "test"):
        chosen = [track for track in tracks if track.split == split]
        print(f"{split}: {len(chosen)} tracks, {sum(t.seconds for t in chosen) / 60:.1f} min")
    print(f"cache: {music_cache_dir()} (packages: {', '.join(p.name for p in PACKAGES)}; never "
          f"{', '.join(sorted(EXCLUDED_PACKAGES))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

