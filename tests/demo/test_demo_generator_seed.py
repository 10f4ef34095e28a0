"""The demo's systems generate live too: seed_demo registers the in-process synthesiser as each one's generator."""
from __future__ import annotations

import pytest

from arena.generation.signature import DetailedPrompt
from arena.models import System
from arena.services.generation import candidates_for
from demo import services as demo


@pytest.mark.django_db
def test_seeded_demo_systems_can_generate_an_instrumental_prompt() -> None:
    demo.demo_catalogue_seed(seed=5, systems=2, prompts=1, duration_s=2.0, sample_rate=16000)
    assert set(System.objects.values_list("generator", flat=True)) == {demo.DEMO_GENERATOR}
    slugs = {c.system.slug for c in candidates_for(DetailedPrompt("a calm piano piece"))}
    assert slugs == set(System.objects.values_list("slug", flat=True))
    assert candidates_for(DetailedPrompt("a song", instrumental=False, lyrics="la")) == []
