"""Moderation of listeners' prompts: refusals with a clear message, stored as refused, nothing generated."""
from __future__ import annotations

import pytest

from arena.errors import PromptRefused
from arena.models import BlockedWord, Generation, GenerationRequest, Prompt
from arena.services.generation import prompt_submit
from tests.factories import RaterFactory, SystemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _two_generators() -> None:
    for slug in ("one", "two"):
        SystemFactory(slug=slug, name=slug, generator="arena.generation.generators.HttpJsonGenerator",
                      generator_config={"endpoint": f"http://127.0.0.1:9/{slug}",
                                        "signature": {"lyrics": True, "vocal": True}})


@pytest.mark.parametrize(("text", "lyrics", "reason", "message"), [
    ("   ", "", "empty", "Write a prompt first"),
    ("x" * 501, "", "too_long", "501 characters long; keep it under 500"),
    ("fine", "la " * 1001, "too_long", "lyrics are 3003 characters"),
    ("a piano\x00piece", "", "control_characters", "control character (U+0000)"),
    ("a piano\u202epiece", "", "control_characters", "U+202E"),
    ("fine", "line one\x07", "control_characters", "The lyrics hold a control character (U+0007)"),
])
def test_it_refuses_with_a_message_naming_the_problem(text: str, lyrics: str, reason: str, message: str) -> None:
    rater = RaterFactory()
    with pytest.raises(PromptRefused) as refused:
        prompt_submit(rater=rater, text=text, lyrics=lyrics)
    assert refused.value.details == {"reason": reason} and message in refused.value.message
    stored = GenerationRequest.objects.get()
    assert (stored.status, stored.moderation, stored.moderation_reason) == ("refused", "refused", reason)
    assert "\x00" not in stored.text and stored.rater_hash and stored.rater_hash != str(rater.public_id)
    assert not Generation.objects.exists() and not Prompt.objects.exists()


def test_words_of_the_block_list_are_refused_as_whole_words_in_any_case() -> None:
    BlockedWord.objects.create(word="forbidden")
    rater = RaterFactory()
    with pytest.raises(PromptRefused, match="\u201cFORBIDDEN\u201d"):
        prompt_submit(rater=rater, text="a FORBIDDEN melody")
    with pytest.raises(PromptRefused, match="The lyrics use a word"):
        prompt_submit(rater=rater, text="a melody", lyrics="so forbidden, so sweet")
    accepted = prompt_submit(rater=rater, text="a forbiddenly good melody")  # not the whole word
    assert accepted.moderation == "accepted" and accepted.status == "generating"


def test_newlines_and_tabs_are_fine_in_lyrics() -> None:
    request = prompt_submit(rater=RaterFactory(), text="a ballad", lyrics="verse one\n\tverse two\r\n")
    assert request.status == "generating"
