"""The arena page as the server renders it: controls and their labels, CSRF cookie, settings, and blindness."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from tests.factories import BattleFactory, ClipFactory, PromptFactory, SystemFactory

pytestmark = pytest.mark.django_db


class Elements(HTMLParser):
    """Every element of a page as (tag, attributes, own text), and which ids label which."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self.open: list[tuple[str, dict[str, str], list[str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = (tag, {name: value or "" for name, value in attrs}, [])
        self.elements.append(element)
        if tag not in {"input", "meta", "link", "br", "img", "source"}:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            element = self.open.pop()
            if element[0] == "script":
                self.scripts.append((element[1], "".join(element[2])))
            if element[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element[2].append(data)

    def by_id(self, element_id: str) -> tuple[str, dict[str, str], list[str]]:
        for element in self.elements:
            if element[1].get("id") == element_id:
                return element
        raise AssertionError(f"no element with id {element_id!r}")

    def text_of(self, element: tuple[str, dict[str, str], list[str]]) -> str:
        return " ".join("".join(element[2]).split())


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


@pytest.fixture
def page(client: Client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_it_renders_both_players_with_waveform_play_switch_and_listening_progress(page: str) -> None:
    html = parse(page)
    for side, other in (("a", "b"), ("b", "a")):
        waveform = html.by_id(f"waveform-{side}")[1]
        assert waveform["role"] == "slider"
        assert f"clip {side.upper()}" in waveform["aria-label"]
        play = html.by_id(f"play-{side}")[1]
        assert play["aria-label"] == f"Play clip {side.upper()}"
        assert play["aria-pressed"] == "false"
        switch = html.by_id(f"switch-to-{other}")[1]
        assert switch["aria-label"] == f"Switch to clip {other.upper()} at the same position"
        assert html.by_id(f"listen-{side}-bar")[1]["role"] == "progressbar"
        assert html.text_of(html.by_id(f"listen-{side}-text")) == "0.0 / 5.0 s"


def test_it_renders_the_four_vote_buttons_disabled_with_their_shortcuts(page: str) -> None:
    html = parse(page)
    buttons = [attrs for tag, attrs, _ in html.elements if tag == "button" and "vote-button" in attrs.get("class", "")]
    assert [(b["data-choice"], b["aria-keyshortcuts"]) for b in buttons] == [
        ("a", "1"), ("b", "2"), ("tie", "3"), ("both_bad", "4")
    ]
    assert all("disabled" in b for b in buttons)


def test_it_offers_every_axis_and_a_reason_with_lyrics_hidden_until_a_battle_has_lyrics(page: str) -> None:
    html = parse(page)
    for axis in ("musicality", "prompt_alignment", "lyrics_alignment"):
        fieldset = html.by_id(f"axis-{axis}")[1]
        assert ("hidden" in fieldset) is (axis == "lyrics_alignment")
        values = [a["data-value"] for tag, a, _ in html.elements if a.get("data-axis") == axis and tag == "button"]
        assert values == ["a", "b", "tie", "both_bad"]
    labels = [a for tag, a, _ in html.elements if tag == "label"]
    assert any(label.get("for") == "reason" for label in labels)
    assert html.by_id("reason")[0] == "textarea"


def test_every_button_and_field_has_an_accessible_name(page: str) -> None:
    html = parse(page)
    label_targets = {a.get("for") for tag, a, _ in html.elements if tag == "label"}
    for tag, attrs, text in html.elements:
        if tag == "button":
            name = attrs.get("aria-label") or attrs.get("aria-labelledby") or " ".join("".join(text).split())
            assert name, f"a button without a name: {attrs}"
        if tag in {"textarea", "input", "select"}:
            assert attrs.get("id") in label_targets or attrs.get("aria-label"), f"an unlabelled field: {attrs}"
        if attrs.get("role") in {"slider", "progressbar", "group"}:
            assert attrs.get("aria-label") or attrs.get("aria-labelledby"), f"an unnamed {attrs['role']}: {attrs}"
        if "aria-labelledby" in attrs:
            html.by_id(attrs["aria-labelledby"])


def test_it_has_live_regions_for_errors_announcements_and_the_reveal(page: str) -> None:
    html = parse(page)
    assert html.by_id("arena-error")[1]["aria-live"] == "assertive"
    assert html.by_id("arena-error")[1]["role"] == "alert"
    assert html.by_id("arena-announce")[1]["aria-live"] == "polite"
    assert html.by_id("vote-gate")[1]["aria-live"] == "polite"
    assert html.by_id("reveal")[1]["aria-live"] == "polite"


def test_it_shows_the_keyboard_shortcuts(page: str) -> None:
    html = parse(page)
    keys = [html.text_of(e) for e in html.elements if e[0] == "dt"]
    actions = [html.text_of(e) for e in html.elements if e[0] == "dd"]
    shortcuts = dict(zip(keys, actions, strict=True))
    assert shortcuts["Space"] == "play / pause"
    assert shortcuts["a b"].startswith("switch to clip A / B")
    assert [shortcuts[k] for k in "1234"] == ["A is better", "B is better", "tie", "both bad"]
    assert shortcuts["n / Enter"] == "next battle"


def test_it_sets_the_csrf_cookie_for_the_api_calls(client: Client) -> None:
    response = client.get("/")
    assert response.cookies[settings.CSRF_COOKIE_NAME].value


def test_it_passes_the_minimum_listening_time_and_the_api_urls_to_the_script(
    client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.EARSHOT_MIN_LISTEN_SECONDS = 2.5  # type: ignore[attr-defined]
    html = parse(client.get("/").content.decode())
    arena = html.by_id("arena")[1]
    assert arena["data-min-listen-seconds"] == "2.5"
    assert arena["data-battles-url"] == "/api/battles/"
    assert arena["data-events-url"] == "/api/battles/{id}/events/"
    assert arena["data-vote-url"] == "/api/battles/{id}/vote/"
    assert int(arena["data-progress-interval-ms"]) > 0
    assert html.text_of(html.by_id("listen-a-text")) == "0.0 / 2.5 s"


def test_it_loads_its_modules_and_wavesurfer_from_npm_through_the_import_map(page: str) -> None:
    html = parse(page)
    importmap = next(body for attrs, body in html.scripts if attrs.get("type") == "importmap")
    imports = json.loads(importmap)["imports"]
    assert imports["wavesurfer.js"].endswith("vendor/wavesurfer.js/dist/wavesurfer.esm.js")
    for url in imports.values():
        assert finders.find(unquote(url.removeprefix(settings.STATIC_URL))), f"{url} is not served by staticfiles"
    modules = [attrs["src"] for attrs, _ in html.scripts if attrs.get("type") == "module"]
    assert modules == [f"{settings.STATIC_URL}arena/arena.js"]
    for name in ("arena", "api", "player", "telemetry"):
        assert finders.find(f"arena/{name}.js")


def test_it_links_every_section_from_the_site_navigation(page: str) -> None:
    html = parse(page)
    nav = [a for tag, a, _ in html.elements if tag == "a" and a.get("href", "").startswith("/")]
    hrefs = [a["href"] for a in nav]
    for href in ("/", "/leaderboard/", "/agreement/", "/api/docs/", "/admin/"):
        assert href in hrefs
    current = [a["href"] for a in nav if a.get("aria-current") == "page"]
    assert current == ["/"]


def test_it_names_no_system_before_the_vote(client: Client) -> None:
    prompt = PromptFactory()
    systems = [
        SystemFactory(name="MusicGen Large", slug="musicgen-large", organisation="Meta AI"),
        SystemFactory(name="Stable Audio Open", slug="stable-audio-open", organisation="Stability"),
    ]
    clips = [ClipFactory(system=system, prompt=prompt) for system in systems]
    session = client.session
    session.save()
    BattleFactory(prompt=prompt, clip_a=clips[0], clip_b=clips[1])
    page = client.get("/").content.decode().lower()
    for system in systems:
        for word in (system.name, system.slug, system.organisation):
            assert word.lower() not in page
    for clip in clips:
        assert clip.public_id.lower() not in page
        assert clip.delivery.name.lower() not in page
