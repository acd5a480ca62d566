"""The compare page and the "Add to compare" control, through the views (no browser, no worker)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from studio.clips.models import Clip
from studio.prompts.models import Prompt
from studio.tasks.models import Task


def finished_clip(
    project,
    *,
    text: str,
    negative_prompt: str = "",
    kind: str = "draft",
    tier: str = "fast",
    model: str = "veo-3.1-fast-generate-preview",
    seed: int | None = 7,
    duration_s: int = 4,
    resolution: str = "720p",
    audio: bool = False,
) -> Clip:
    """A done task and its clip as rows: the views read fields, never the files."""
    prompt = project.prompts.first() or Prompt.objects.create(project=project, title="Lighthouse")
    version = prompt.record_version(text=text, negative_prompt=negative_prompt, author=None)
    task = Task.objects.create(
        project=project,
        prompt_version=version,
        account=project.draft_account,
        route="videos-gateway",
        model=model,
        kind=kind,
        tier=tier,
        seed=seed,
        state=Task.State.DONE,
        parameters={"duration_s": duration_s, "aspect_ratio": "16:9", "resolution": resolution, "audio": audio},
    )
    width, height = (1920, 1080) if resolution == "1080p" else (1280, 720)
    return Clip.objects.create(
        task=task,
        file=f"clips/task-{task.pk}.mp4",
        poster=f"posters/task-{task.pk}.jpg",
        duration_s=float(duration_s),
        width=width,
        height=height,
        has_audio=audio,
        bytes=1000,
        sha256="0" * 64,
    )


@pytest.fixture
def draft_and_final(project):
    draft = finished_clip(project, text="A lighthouse at dusk, waves below, slow push in")
    final = finished_clip(
        project,
        text="A lighthouse at dawn, waves below, gulls wheeling, slow push in",
        negative_prompt="text overlays",
        kind="final",
        tier="quality",
        model="veo-3.1-generate-preview",
        duration_s=8,
        resolution="1080p",
        audio=True,
    )
    return draft, final


def compare_url(project, a, b) -> str:
    return f"/projects/{project.pk}/compare?a={a}&b={b}"


@pytest.mark.django_db
def test_page_holds_both_players_the_prompt_diff_and_the_settings(project, clients, draft_and_final):
    draft, final = draft_and_final
    page = clients["viewer"].get(compare_url(project, draft.pk, final.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'src="/clips/{draft.pk}/video"' in html and f'src="/clips/{final.pk}/video"' in html
    assert f'poster="/clips/{draft.pk}/poster"' in html and f'poster="/clips/{final.pk}/poster"' in html
    assert 'data-action="toggle"' in html and 'data-action="seek"' in html
    # Left to right, "dusk" became "dawn" and "gulls wheeling," was added.
    assert "<del>dusk, </del><ins>dawn, </ins>" in html
    assert "<ins>gulls wheeling, </ins>" in html
    assert "<ins>text overlays</ins>" in html
    for label in ("Kind", "Tier", "Model", "Seed", "Resolution", "Aspect ratio", "Duration", "Audio"):
        assert f'<th scope="row">{label}</th>' in html
    assert re.search(r'<tr class="changed">\s*<th scope="row">Resolution</th><td>720p</td><td>1080p</td>', html)
    assert re.search(r'<tr class="">\s*<th scope="row">Seed</th><td>7</td><td>7</td>', html)
    # Swapping sides in the page shows the reverse reading, rendered beside it.
    assert "<del>dawn, </del>" in html and 'data-orientation="ba" hidden' in html


@pytest.mark.django_db
def test_same_prompt_version_shows_no_insertions(project, clients):
    draft = finished_clip(project, text="A lighthouse at dusk")
    final = finished_clip(project, text="A lighthouse at dusk", kind="final", tier="quality", duration_s=8)
    html = clients["owner"].get(compare_url(project, draft.pk, final.pk)).content.decode()
    assert "same version (v1)" in html
    assert "<ins>" not in html and "<del>" not in html


@pytest.mark.django_db
def test_outsider_gets_404(project, clients, draft_and_final):
    draft, final = draft_and_final
    outsider = clients["outsider"]
    assert outsider.get(compare_url(project, draft.pk, final.pk)).status_code == 404
    assert outsider.get(f"/clips/{draft.pk}/compare-pick").status_code == 404
    assert outsider.post(f"/clips/{draft.pk}/compare-pick", {"pick": "add"}).status_code == 404


@pytest.mark.django_db
def test_clip_from_another_project_gets_404(project, people, clients, make_project, draft_and_final):
    draft, _final = draft_and_final
    elsewhere = make_project(people, name="Elsewhere")
    stranger = finished_clip(elsewhere, text="A desert road")
    owner = clients["owner"]
    assert owner.get(compare_url(project, draft.pk, stranger.pk)).status_code == 404
    assert owner.get(compare_url(project, draft.pk, 999999)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("", "Pick two clips to compare"),
        ("?a=1", "Pick two clips to compare"),
        ("?a=1&b=", "Pick two clips to compare"),
        ("?a=1&b=abc", "“abc” is not a clip number"),
        ("?a=-3&b=1", "“-3” is not a clip number"),
        ("?a=4&b=4", "Pick two different clips"),
    ],
)
def test_missing_or_garbage_clips_get_400_in_plain_words(project, clients, query, says):
    answer = clients["owner"].get(f"/projects/{project.pk}/compare{query}")
    assert answer.status_code == 400
    assert says in answer.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_pick_keeps_the_two_newest_and_offers_the_compare_link(project, clients, role):
    clips = [finished_clip(project, text=f"Take {n}") for n in range(3)]
    picker = clients[role]  # comparing changes nothing: reviewers and viewers may pick

    first = picker.post(f"/clips/{clips[0].pk}/compare-pick", {"pick": "add"}, HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    assert "compare-changed" in json.loads(first["HX-Trigger-After-Settle"])
    assert "✓ In compare" in first.content.decode() and "Pick one more clip" in first.content.decode()

    second = picker.post(f"/clips/{clips[1].pk}/compare-pick", {"pick": "add"}, HTTP_HX_REQUEST="true")
    link = f'href="/projects/{project.pk}/compare?a={clips[0].pk}&amp;b={clips[1].pk}"'
    assert link in second.content.decode() and "Compare the two" in second.content.decode()
    # Other cards refresh themselves and show the same link.
    assert link in picker.get(f"/clips/{clips[0].pk}/compare-pick", HTTP_HX_REQUEST="true").content.decode()

    picker.post(f"/clips/{clips[2].pk}/compare-pick", {"pick": "add"}, HTTP_HX_REQUEST="true")
    assert picker.session["compare"]["projects"][str(project.pk)] == [clips[1].pk, clips[2].pk]
    dropped = picker.get(f"/clips/{clips[0].pk}/compare-pick", HTTP_HX_REQUEST="true").content.decode()
    assert "Add to compare" in dropped and "Compare the two" not in dropped

    # Picking again changes nothing; removing leaves one.
    picker.post(f"/clips/{clips[2].pk}/compare-pick", {"pick": "add"}, HTTP_HX_REQUEST="true")
    picker.post(f"/clips/{clips[1].pk}/compare-pick", {"pick": "remove"}, HTTP_HX_REQUEST="true")
    assert picker.session["compare"]["projects"][str(project.pk)] == [clips[2].pk]


@pytest.mark.django_db
def test_picks_are_kept_per_project(project, people, clients, make_project):
    here = finished_clip(project, text="Here")
    elsewhere = make_project(people, name="Elsewhere")
    there = [finished_clip(elsewhere, text=f"There {n}") for n in range(2)]
    owner = clients["owner"]
    for clip in (here, *there):
        owner.post(f"/clips/{clip.pk}/compare-pick", {"pick": "add"})
    assert owner.session["compare"]["projects"] == {
        str(project.pk): [here.pk],
        str(elsewhere.pk): [there[0].pk, there[1].pk],
    }


@pytest.mark.django_db
def test_pick_without_htmx_goes_back_to_the_card(project, clients):
    clip = finished_clip(project, text="A lighthouse")
    answer = clients["owner"].post(f"/clips/{clip.pk}/compare-pick", {"pick": "add"})
    assert answer.status_code == 302
    assert answer["Location"] == f"/projects/{project.pk}/#task-{clip.task_id}"


@pytest.mark.django_db
def test_pick_control_renders_for_a_card_with_a_real_form(project, clients):
    clip = finished_clip(project, text="A lighthouse")
    html = clients["owner"].get(f"/clips/{clip.pk}/compare-pick").content.decode()
    assert f'<form method="post" action="/clips/{clip.pk}/compare-pick"' in html
    assert f'hx-post="/clips/{clip.pk}/compare-pick"' in html
    assert 'hx-trigger="compare-changed from:body"' in html
    assert 'name="csrfmiddlewaretoken"' in html


# --- The player's scripts ----------------------------------------------------

PLAYER_MODULES = Path(django_settings.BASE_DIR) / "static" / "js" / "compare"
RELATIVE_IMPORT = re.compile(r'\bfrom\s+"\./([\w-]+\.js)"')


def imported_modules() -> set[str]:
    return {name for path in PLAYER_MODULES.glob("*.js") for name in RELATIVE_IMPORT.findall(path.read_text())}


@pytest.mark.django_db
def test_player_loads_as_modules_and_ships_no_test_hook(project, clients, draft_and_final):
    draft, final = draft_and_final
    html = clients["viewer"].get(compare_url(project, draft.pk, final.pk)).content.decode()
    assert '<script type="module" src="/static/js/compare/player.js"></script>' in html
    # No inline import map (the CSP allows no inline script): the modules import each other by
    # relative paths, preloaded by their own names outside production.
    assert "importmap" not in html
    for name in imported_modules():
        assert f'<link rel="modulepreload" href="/static/js/compare/{name}">' in html
    for path in PLAYER_MODULES.glob("*.js"):
        source = path.read_text()
        # Test hooks live in the tests: the player hangs nothing on the window or on its elements.
        assert not re.search(r"\bdailies\b", source), path.name
        assert not re.search(r"\b(window|globalThis|self)\.[\w$]+\s*=(?!=)", source), path.name


HASHED = r"[\w-]+\.[0-9a-f]{12}\.js"


@pytest.mark.django_db
def test_hashed_static_names_reach_every_module(project, clients, draft_and_final, settings, tmp_path):
    """In production the player's files get hashed names; collectstatic rewrites their imports to match."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "studio.staticfiles.StaticFiles"}}
    call_command("collectstatic", interactive=False, verbosity=0)
    draft, final = draft_and_final
    html = clients["viewer"].get(compare_url(project, draft.pk, final.pk)).content.decode()
    player = re.search(r'<script type="module" src="(/static/js/compare/[^"]+)"', html).group(1)
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)"', html))
    assert re.fullmatch(f"/static/js/compare/{HASHED}", player), player
    seen, waiting = set(), [player]
    while waiting:
        url = waiting.pop()
        seen.add(url)
        source = (settings.STATIC_ROOT / url.removeprefix("/static/")).read_text()
        for name in re.findall(r'\bfrom\s+"\./([^"]+)"', source):
            assert re.fullmatch(HASHED, name), (url, name)
            waiting += [f"/static/js/compare/{name}"] if f"/static/js/compare/{name}" not in seen else []
    # Every module the player reaches is there under its hashed name, and preloaded by that name.
    assert len(seen) == 1 + len(imported_modules()) and preloaded == seen - {player}
    # The comments beside the players reach the frame arithmetic one folder up, by its hashed name too.
    comments = re.search(r'<script type="module" src="(/static/js/review/[^"]+)"', html).group(1)
    source = (settings.STATIC_ROOT / comments.removeprefix("/static/")).read_text()
    assert re.search(rf'from "\.\./compare/{HASHED}"', source), source[:400]
