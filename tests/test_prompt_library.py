"""The prompt library and the editor that always says what it holds: New prompt, names, the version
chip, settings inherited with a reset, images that disagree with the frame, card thumbnails and
simulator markers carried into a final."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from studio.clips.models import Clip
from studio.images.checks import store_upload
from studio.prompts.models import Prompt, PromptVersion
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db

LIGHTHOUSE = "A lighthouse at dusk, waves below, slow push in"
HUMMINGBIRD = "A hummingbird hovering at a red flower, macro, shallow focus"


def picture(width: int = 1280, height: int = 720) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, "PNG")
    return SimpleUploadedFile("frame.png", buffer.getvalue(), content_type="image/png")


def draft(client, project, form, **fields):
    answer = client.post(f"/projects/{project.pk}/draft", {**form(**fields)}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200, answer.content.decode()[:2000]
    return answer


def editor_of(page: str) -> str:
    return page[page.index('id="draft-panel"') : page.index('<section class="tasks">')]


# --- New prompt and names -------------------------------------------------------------


def test_new_prompt_opens_an_empty_editor_that_starts_a_prompt_of_its_own(owner_client, project, people):
    old = Prompt.objects.create(project=project, title="Lighthouse", created_by=people["owner"])
    old.record_version(text=LIGHTHOUSE, negative_prompt="", author=people["owner"])
    editor = editor_of(owner_client.get(f"/projects/{project.pk}/?prompt=new").content.decode())
    assert "<h2>New prompt</h2>" in editor
    assert 'name="new_prompt" value="True"' in editor
    assert 'name="prompt_name"' in editor
    assert LIGHTHOUSE not in editor  # no words carried over from the prompt that was open
    assert "Settings from" not in editor


def test_two_new_prompts_are_two_prompts_each_at_version_1(owner_client, project, draft_form):
    draft(owner_client, project, draft_form, prompt=LIGHTHOUSE, new_prompt="True")
    draft(owner_client, project, draft_form, prompt=HUMMINGBIRD, new_prompt="True", prompt_name="Hummingbird")
    prompts = {prompt.title: list(prompt.versions.values_list("number", flat=True)) for prompt in project.prompts.all()}
    assert prompts == {"A lighthouse at dusk, waves below, slow push…": [1], "Hummingbird": [1]}


def test_other_words_in_the_open_prompt_still_make_its_next_version(owner_client, project, draft_form):
    draft(owner_client, project, draft_form, prompt=LIGHTHOUSE, new_prompt="True")
    prompt = project.prompts.get()
    draft(owner_client, project, draft_form, prompt=HUMMINGBIRD, prompt_id=str(prompt.pk))
    assert list(prompt.versions.order_by("number").values_list("number", flat=True)) == [1, 2]


def test_after_a_new_prompt_is_drafted_the_editor_stays_on_it(owner_client, project, draft_form):
    answer = draft(owner_client, project, draft_form, prompt=HUMMINGBIRD, new_prompt="True", prompt_name="Bird")
    prompt = project.prompts.get()
    editor = answer.content.decode()
    assert f'name="prompt_id" value="{prompt.pk}"' in editor
    assert 'name="new_prompt" value="True"' not in editor and 'name="prompt_name"' not in editor
    assert ">Bird</a></h2>" in editor


# --- The version chip always matches the words ------------------------------------------


@pytest.fixture
def four_versions(project, people, pending_task):
    """Task #1 drafted from v1; the prompt has since reached v4 with other words."""
    task = pending_task(project, people["owner"], text=LIGHTHOUSE, seed=77)
    prompt = task.prompt_version.prompt
    for n in (2, 3, 4):
        prompt.record_version(text=f"{HUMMINGBIRD}, take {n}", negative_prompt="", author=people["owner"])
    return task


def test_use_these_settings_shows_the_recalled_version_and_its_words(owner_client, project, four_versions):
    editor = editor_of(owner_client.get(f"/projects/{project.pk}/?from_task={four_versions.pk}").content.decode())
    assert 'data-number="1"' in editor and "v1 <span" in editor and "of 4" in editor
    assert f"{LIGHTHOUSE}</textarea>" in editor
    assert f"task #{four_versions.pk}</a>: v1 words · seed 77" in editor


def test_drafting_recalled_words_unchanged_drafts_that_version_again(owner_client, project, four_versions, draft_form):
    prompt = four_versions.prompt_version.prompt
    v1 = four_versions.prompt_version
    draft(owner_client, project, draft_form, prompt=LIGHTHOUSE, prompt_id=str(prompt.pk), version_id=str(v1.pk))
    newest = Task.objects.order_by("-pk").first()
    assert newest.prompt_version_id == v1.pk
    assert prompt.versions.count() == 4


def test_changed_recalled_words_become_the_next_version(owner_client, project, four_versions, draft_form):
    prompt = four_versions.prompt_version.prompt
    v1 = four_versions.prompt_version
    draft(
        owner_client, project, draft_form, prompt=LIGHTHOUSE + ", rain", prompt_id=str(prompt.pk), version_id=str(v1.pk)
    )
    assert Task.objects.order_by("-pk").first().prompt_version.number == 5


def test_a_version_of_another_prompt_is_never_drafted_by_id(owner_client, project, people, four_versions, draft_form):
    other = Prompt.objects.create(project=project, title="Other")
    other.record_version(text="Gulls", negative_prompt="", author=people["owner"])
    v1 = four_versions.prompt_version
    draft(owner_client, project, draft_form, prompt=LIGHTHOUSE, prompt_id=str(other.pk), version_id=str(v1.pk))
    assert Task.objects.order_by("-pk").first().prompt_version.prompt_id == other.pk


# --- Nothing carries over silently --------------------------------------------------------


def test_the_editor_says_which_draft_its_settings_came_from_and_offers_a_reset(owner_client, project, draft_form):
    draft(owner_client, project, draft_form, prompt=LIGHTHOUSE, aspect_ratio="9:16")
    task = Task.objects.get()
    editor = editor_of(owner_client.get(f"/projects/{project.pk}/").content.decode())
    assert f"task #{task.pk}</a>: 9:16 · 4 s · 720p · silent · Fast" in editor
    assert '<option value="9:16" selected>' in editor
    reset = re.search(r'href="([^"]+fresh=1[^"]*)" class="reset"', editor).group(1).replace("&amp;", "&")
    fresh = editor_of(owner_client.get(reset).content.decode())
    assert "Settings from" not in fresh
    assert '<option value="16:9" selected>' in fresh
    assert f"{LIGHTHOUSE}</textarea>" in fresh


def test_another_members_draft_does_not_set_my_editor(clients, project, draft_form):
    draft(clients["editor"], project, draft_form, prompt=LIGHTHOUSE, aspect_ratio="9:16")
    editor = editor_of(clients["owner"].get(f"/projects/{project.pk}/").content.decode())
    assert "Settings from" not in editor and '<option value="16:9" selected>' in editor


def test_a_first_frame_is_kept_right_after_a_draft_and_said_but_not_carried_into_a_reload(
    owner_client, project, draft_form
):
    answer = owner_client.post(
        f"/projects/{project.pk}/draft", {**draft_form(), "first_frame": picture()}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "first frame kept" in answer
    assert re.search(r'<span class="summary is-set">first frame kept</span>', answer)
    reloaded = editor_of(owner_client.get(f"/projects/{project.pk}/").content.decode())
    assert "first frame kept" not in reloaded
    assert 'name="first_frame_id" id="id_first_frame_id"' in reloaded
    assert re.search(r'name="first_frame_id"[^>]*value="\d', reloaded) is None


def test_a_landscape_first_frame_on_a_portrait_draft_is_flagged_beside_the_quote(owner_client, project, people):
    image = store_upload(picture(1280, 720), project=project, user=people["owner"])
    base = f"/projects/{project.pk}/draft/quote?tier=fast&resolution=720p&duration_s=4&first_frame_id={image.pk}"
    portrait = owner_client.get(base + "&aspect_ratio=9:16").content.decode()
    assert "The first frame is 1280×720 (landscape) but this draft is 9:16 (portrait)" in portrait
    assert 'id="image-warnings"' in portrait and 'hx-swap-oob="true"' in portrait
    landscape = owner_client.get(base + "&aspect_ratio=16:9").content.decode()
    assert "data-image-warning" not in landscape


def test_a_card_shows_the_images_its_model_was_given(owner_client, project, people, pending_task):
    image = store_upload(picture(), project=project, user=people["owner"])
    task = pending_task(project, people["owner"], first_frame=image.pk)
    card = owner_client.get(f"/tasks/{task.pk}/card", HTTP_HX_REQUEST="true").content.decode()
    assert f'src="/images/{image.pk}/thumbnail"' in card and "First frame" in card


def test_promoting_a_prompt_with_simulator_markers_says_the_final_keeps_them(
    owner_client, project, people, pending_task, archived_clip
):
    task = pending_task(project, people["owner"], text="Clouds over a ridge #slow")
    archived_clip(task)
    card = owner_client.get(f"/tasks/{task.pk}/card", HTTP_HX_REQUEST="true").content.decode()
    assert "data-markers" in card and "#slow: the job takes twenty times as long" in card
    clean = pending_task(project, people["owner"], text="Clouds over a ridge")
    archived_clip(clean)
    assert "data-markers" not in owner_client.get(f"/tasks/{clean.pk}/card", HTTP_HX_REQUEST="true").content.decode()


def test_folded_sections_say_what_they_hold_and_open_on_an_error(owner_client, project, draft_form):
    answer = owner_client.post(
        f"/projects/{project.pk}/draft", draft_form(seed="99999999999"), HTTP_HX_REQUEST="true"
    ).content.decode()
    section = answer[answer.index('data-section="seed"') :]
    assert section.startswith('data-section="seed" open data-has-errors')
    page = editor_of(owner_client.get(f"/projects/{project.pk}/").content.decode())
    assert re.search(
        r'data-section="images">\s*<summary><span class="title">Images</span> <span class="summary">none', page
    )


# --- The library -----------------------------------------------------------------------


@pytest.fixture
def library(project, people, pending_task, archived_clip, media):
    """Two prompts: a lighthouse with a clip that has a poster, and a hummingbird with none."""
    task = pending_task(project, people["owner"], text=LIGHTHOUSE)
    clip = archived_clip(task)
    (media / f"poster-{task.pk}.jpg").write_bytes(b"jpeg")
    Clip.objects.filter(pk=clip.pk).update(poster=f"poster-{task.pk}.jpg")
    Prompt.objects.filter(pk=task.prompt_version.prompt_id).update(title="Lighthouse")
    bird = pending_task(project, people["owner"], text=HUMMINGBIRD)
    Prompt.objects.filter(pk=bird.prompt_version.prompt_id).update(title="Hummingbird")
    return {"lighthouse": task.prompt_version.prompt, "bird": bird.prompt_version.prompt, "clip": clip}


def test_the_library_lists_each_prompt_with_its_versions_clips_and_poster_strip(owner_client, project, library):
    page = owner_client.get(f"/projects/{project.pk}/prompts").content.decode()
    assert page.index(">Hummingbird</a>") < page.index(">Lighthouse</a>")  # most recently worked on first
    lighthouse = page[page.index(f'id="prompt-{library["lighthouse"].pk}"') :]
    assert "1 version · 1 clip" in lighthouse
    assert f'src="/clips/{library["clip"].pk}/poster"' in lighthouse
    assert f'href="/projects/{project.pk}/?prompt={library["lighthouse"].pk}#draft-panel"' in lighthouse


def test_the_library_search_matches_names_and_words(owner_client, project, library):
    by_name = owner_client.get(f"/projects/{project.pk}/prompts?q=lighthouse").content.decode()
    assert ">Lighthouse</a>" in by_name and ">Hummingbird</a>" not in by_name
    by_words = owner_client.get(f"/projects/{project.pk}/prompts?q=flower macro").content.decode()
    assert ">Hummingbird</a>" in by_words and ">Lighthouse</a>" not in by_words
    nothing = owner_client.get(f"/projects/{project.pk}/prompts?q=submarine").content.decode()
    assert "No prompt has every one of those words" in nothing


def test_the_library_costs_the_same_queries_for_many_prompts(
    owner_client, project, people, library, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12) as few:
        owner_client.get(f"/projects/{project.pk}/prompts")
    for n in range(30):
        prompt = Prompt.objects.create(project=project, title=f"Prompt {n}")
        prompt.record_version(text=f"words {n}", negative_prompt="", author=people["owner"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(f"/projects/{project.pk}/prompts")


def test_an_editor_renames_a_prompt(clients, library):
    prompt = library["bird"]
    answer = clients["editor"].post(f"/prompts/{prompt.pk}/rename", {"title": "  Bird   at a flower "})
    assert answer.status_code == 302
    prompt.refresh_from_db()
    assert prompt.title == "Bird at a flower"


@pytest.mark.parametrize(
    ("title", "problem"),
    [("   ", "A prompt needs a name"), ("x" * 121, "at most 120 characters"), ("bad\x00name", "NUL")],
)
def test_a_bad_name_is_marked_on_its_box_and_changes_nothing(owner_client, library, title, problem):
    prompt = library["bird"]
    answer = owner_client.post(f"/prompts/{prompt.pk}/rename", {"title": title})
    assert answer.status_code == 400
    row = answer.content.decode()[answer.content.decode().index(f'id="prompt-{prompt.pk}"') :]
    assert 'class="rename has-error"' in row and problem in row
    prompt.refresh_from_db()
    assert prompt.title == "Hummingbird"


def test_a_name_is_shown_escaped(owner_client, project, library):
    Prompt.objects.filter(pk=library["bird"].pk).update(title="<script>alert(1)</script>")
    page = owner_client.get(f"/projects/{project.pk}/prompts").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_versions_are_never_edited_by_the_library(owner_client, library):
    before = list(PromptVersion.objects.values_list("pk", "text"))
    owner_client.post(f"/prompts/{library['bird'].pk}/rename", {"title": "Renamed"})
    assert list(PromptVersion.objects.values_list("pk", "text")) == before
