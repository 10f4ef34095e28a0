"""battle_audio_fetch: the audio a rater requested through a battle's URLs, per side, as merged whole frames.

The frames are counted here with the tests' own MP3 reader (tests/arena/mp3_support.py) on the bytes the battle
serves: 24 ms per 48 kHz frame.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from arena.delivery import RangeNotSatisfiable, battle_copy, byte_range
from arena.models import Battle
from arena.services import battle_audio_fetch, battle_create
from arena.services.audio import AudioFetch
from arena.services.listening import fetched_merge
from tests.arena.arena_support import arena_isolated, catalogue_import  # noqa: F401 - autouse fixture
from tests.arena.mp3_support import Mp3Layout, mp3_layout
from tests.factories import RaterFactory
from tests.threads import needs_row_locks, run_threads

pytestmark = pytest.mark.django_db
FRAME_MS = 24


@pytest.fixture
def battle(tmp_path: Path) -> Battle:
    catalogue_import(tmp_path, systems=2, prompts=1, seconds=2.0)
    return battle_create(rater=RaterFactory())


def fetch(battle: Battle, header: str | None = None, *, side: str = "a", counted: bool = True) -> AudioFetch:
    return battle_audio_fetch(battle_public_id=battle.public_id, rater=battle.rater, side=side, range_header=header,
                              counted=counted)


def served(battle: Battle, side: str = "a") -> Mp3Layout:
    copy = fetch(battle, side=side, counted=False).copy
    return mp3_layout(copy.read(0, copy.size - 1))


def fetched(battle: Battle) -> dict[str, Any]:
    battle.refresh_from_db()
    return battle.audio_fetched_ms


def test_a_whole_file_counts_every_frame_of_its_side_and_nothing_of_the_other(battle: Battle) -> None:
    layout = served(battle)
    fetch(battle)
    assert fetched(battle) == {"a": [[0, len(layout.frames) * FRAME_MS]]}
    assert len(layout.frames) * FRAME_MS >= 2000


def test_ranges_count_only_the_whole_frames_they_hold_merged_and_counted_once(battle: Battle) -> None:
    layout = served(battle)
    tag, size = layout.id3_bytes, layout.frames[0].size
    fetch(battle, f"bytes=0-{tag + 3 * size - 2}")  # the tag, two frames and most of a third
    assert fetched(battle) == {"a": [[0, 2 * FRAME_MS]]}
    fetch(battle, f"bytes={tag + 10 * size}-{tag + 12 * size - 1}")
    assert fetched(battle) == {"a": [[0, 2 * FRAME_MS], [10 * FRAME_MS, 12 * FRAME_MS]]}
    fetch(battle, f"bytes={tag + 2 * size}-{tag + 10 * size + 5}")
    fetch(battle, f"bytes={tag}-{tag + 5 * size}")  # again: nothing new
    assert fetched(battle) == {"a": [[0, 12 * FRAME_MS]]}


def test_the_first_bytes_a_head_or_a_range_past_the_end_count_nothing(battle: Battle) -> None:
    layout = served(battle)
    fetch(battle, "bytes=0-0")
    fetch(battle, f"bytes=0-{layout.id3_bytes + layout.frames[0].size - 2}")
    fetch(battle, counted=False)
    size = layout.id3_bytes + layout.audio_bytes
    with pytest.raises(RangeNotSatisfiable) as caught:
        fetch(battle, f"bytes={size}-")
    assert caught.value.size == size
    assert fetched(battle) == {}


@pytest.mark.parametrize("update", [{"status": Battle.Status.VOTED}, {"status": Battle.Status.EXPIRED}])
def test_nothing_is_counted_once_the_battle_takes_no_vote(battle: Battle, update: dict[str, str]) -> None:
    Battle.objects.filter(pk=battle.pk).update(**update)
    fetch(battle)
    assert fetched(battle) == {}


@pytest.mark.parametrize("hand_off", ["EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX", "EARSHOT_AUDIO_X_SENDFILE"])
def test_a_front_server_hand_off_counts_the_range_django_parsed(tmp_path: Path, settings: Any, hand_off: str) -> None:
    catalogue_import(tmp_path, systems=2, prompts=1, seconds=2.0)
    setattr(settings, hand_off, "/protected-media/" if hand_off.endswith("PREFIX") else True)
    client = APIClient()
    body = client.post("/api/battles/").json()
    battle = Battle.objects.get(public_id=body["id"])
    layout = served(battle, "b")
    tag, size = layout.id3_bytes, layout.frames[0].size
    response = client.get(body["clips"]["b"]["audio_url"], HTTP_RANGE=f"bytes={tag + 4 * size}-{tag + 9 * size - 1}")
    assert response.status_code == 200 and response.content == b""  # the front server sends the bytes
    assert fetched(battle) == {"b": [[4 * FRAME_MS, 9 * FRAME_MS]]}


THREADS = 8
BATTLES_PER_THREAD = 6
FIRST_FRAMES, LATER_FRAMES = (0, 10), (20, 30)  # two ranges that do not touch


def concurrent_ranges(battles: list[Battle], fetch_range: Any) -> None:
    """For every battle, two threads meet at a barrier and fetch side A's frames 0-9 and 20-29 at the same moment."""
    meet = [threading.Barrier(2, timeout=60) for _ in battles]
    layouts = {battle.pk: served(battle) for battle in battles}

    def worker(thread: int) -> None:
        frames = FIRST_FRAMES if thread % 2 == 0 else LATER_FRAMES
        for index in range((thread // 2) * BATTLES_PER_THREAD, (thread // 2 + 1) * BATTLES_PER_THREAD):
            layout = layouts[battles[index].pk]
            tag, size = layout.id3_bytes, layout.frames[0].size
            meet[index].wait()
            fetch_range(battles[index], index, f"bytes={tag + frames[0] * size}-{tag + frames[1] * size - 1}")

    run_threads(worker, THREADS)


def both_ranges_kept(battles: list[Battle]) -> int:
    expected = [[FIRST_FRAMES[0] * FRAME_MS, FIRST_FRAMES[1] * FRAME_MS],
                [LATER_FRAMES[0] * FRAME_MS, LATER_FRAMES[1] * FRAME_MS]]
    return sum(fetched(battle).get("a") == expected for battle in battles)


@pytest.fixture
def many_battles(tmp_path: Path) -> list[Battle]:
    catalogue_import(tmp_path, systems=2, prompts=1, seconds=2.0)
    # one rater each: the catalogue has one pair, and a rater does not get the same pair twice in a row
    return [battle_create(rater=RaterFactory()) for _ in range(THREADS // 2 * BATTLES_PER_THREAD)]


@pytest.mark.django_db(transaction=True)
@needs_row_locks
def test_without_the_row_lock_two_requests_at_once_lose_one_range(many_battles: list[Battle]) -> None:
    # The two requests of a battle meet again after the read, before either writes: the interleaving the race
    # allows, made certain rather than left to how this machine schedules threads.
    read = [threading.Barrier(2, timeout=60) for _ in many_battles]

    def naive_fetch(battle: Battle, index: int, header: str) -> None:
        with transaction.atomic():
            row = Battle.objects.select_related("clip_a", "clip_b").get(pk=battle.pk)
            copy = battle_copy(battle=row, side="a")
            covered = copy.audio_ms(*(byte_range(header, copy.size) or (0, copy.size - 1)))
            assert covered is not None
            read[index].wait()
            row.audio_fetched_ms = {"a": fetched_merge(row.audio_fetched_ms.get("a", []), covered)}
            row.save(update_fields=["audio_fetched_ms"])

    concurrent_ranges(many_battles, naive_fetch)
    kept = both_ranges_kept(many_battles)
    print(f"without the lock: both ranges kept on {kept} of {len(many_battles)} battles")
    assert kept == 0  # on every battle the later write replaced the earlier one's range


@pytest.mark.django_db(transaction=True)
@needs_row_locks
def test_with_the_row_lock_two_requests_at_once_both_count(many_battles: list[Battle]) -> None:
    concurrent_ranges(many_battles, lambda battle, index, header: fetch(battle, header))
    assert both_ranges_kept(many_battles) == len(many_battles)
