"""Flagged raters (abandoning most battles, sharing an address hash with many raters), shown in the admin, and the
admin's action that leaves raters out of the leaderboards (queueing one full recompute after the commit)."""
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from arena.models import Rater
from arena.selectors import RaterFlag, raters_flagged, raters_with_flags
from arena.services.raters import raters_board_exclusion_set
from tests.factories import RaterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def thresholds(settings: Any) -> None:
    settings.EARSHOT_FLAG_ABANDON_SHARE = 0.5
    settings.EARSHOT_FLAG_ABANDON_MIN = 10
    settings.EARSHOT_FLAG_RATERS_PER_IP = 4


def rater(opened: int = 0, abandoned: int = 0, ip_hash: str = "") -> Rater:
    return RaterFactory(battles_opened=opened, battles_abandoned=abandoned, ip_hash=ip_hash)


def test_a_rater_who_abandons_at_least_the_share_and_the_minimum_is_flagged() -> None:
    flagged = rater(opened=20, abandoned=10)
    rater(opened=21, abandoned=10)  # under half
    rater(opened=9, abandoned=9)  # all, but fewer than the minimum
    rater()
    assert list(raters_flagged(flag=RaterFlag.ABANDONS)) == [flagged]


def test_raters_made_from_one_address_hash_are_flagged_from_the_threshold_on() -> None:
    crowded = [rater(ip_hash="a" * 64) for _ in range(4)]
    for _ in range(3):
        rater(ip_hash="b" * 64)
    for _ in range(5):
        rater()  # no address known: never counted together
    assert set(raters_flagged(flag=RaterFlag.SHARED_ADDRESS)) == set(crowded)


def test_any_flag_is_either_flag() -> None:
    abandoning = rater(opened=10, abandoned=10)
    crowded = [rater(ip_hash="c" * 64) for _ in range(4)]
    rater(opened=3)
    assert set(raters_flagged()) == {abandoning, *crowded}


def test_the_annotated_list_carries_both_flags_and_the_address_count() -> None:
    abandoning = rater(opened=10, abandoned=10, ip_hash="d" * 64)
    for _ in range(3):
        rater(ip_hash="d" * 64)
    alone = rater(ip_hash="e" * 64)
    rows = {row.pk: row for row in raters_with_flags()}
    assert (rows[abandoning.pk].raters_on_address, rows[abandoning.pk].flag_abandons,
            rows[abandoning.pk].flag_shared_address) == (4, True, True)
    assert (rows[alone.pk].raters_on_address, rows[alone.pk].flag_abandons,
            rows[alone.pk].flag_shared_address) == (1, False, False)


def test_the_admin_list_shows_the_flags_and_filters_by_them(admin_client: Client) -> None:
    abandoning = rater(opened=12, abandoned=11)
    calm = rater(opened=12)
    page = admin_client.get("/admin/arena/rater/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Abandons most battles" in text
    assert "92%" in text  # 11 of 12
    assert "Raters on its address" in text

    filtered = admin_client.get("/admin/arena/rater/", {"flag": RaterFlag.ABANDONS.value})
    assert filtered.status_code == 200
    assert str(abandoning.public_id) in filtered.content.decode()
    assert str(calm.public_id) not in filtered.content.decode()
    shared = admin_client.get("/admin/arena/rater/", {"flag": RaterFlag.SHARED_ADDRESS.value})
    assert str(abandoning.public_id) not in shared.content.decode()
    flagged = admin_client.get("/admin/arena/rater/", {"flag": "any"}).content.decode()
    assert str(abandoning.public_id) in flagged
    assert str(calm.public_id) not in flagged


def test_the_admin_action_leaves_raters_out_of_the_boards_and_queues_one_full_recompute(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    chosen, other = rater(), rater()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            "/admin/arena/rater/", {"action": "exclude_from_boards", "_selected_action": [chosen.pk]}
        )
    assert response.status_code == 302
    assert list(Rater.objects.filter(excluded_from_boards=True)) == [chosen]
    assert not Rater.objects.get(pk=other.pk).excluded_from_boards
    assert len(callbacks) == 1


def test_setting_what_is_already_set_changes_nothing_and_queues_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    already = RaterFactory(excluded_from_boards=True)
    with django_capture_on_commit_callbacks() as callbacks:
        assert raters_board_exclusion_set(rater_ids=[already.pk], excluded=True) == 0
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        assert raters_board_exclusion_set(rater_ids=[already.pk], excluded=False) == 1
    assert len(callbacks) == 1
    assert not Rater.objects.get(pk=already.pk).excluded_from_boards
