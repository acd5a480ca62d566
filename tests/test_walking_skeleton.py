"""The whole path on the embedded default: draft → live card → clip → promote → final → compare."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from studio.clips.media import probe
from studio.simulator.models import SimulatorRequest
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def test_draft_promote_compare_through_views_and_worker(simulator, project, owner_client, draft_form, run_worker):
    page = owner_client.get(f"/projects/{project.pk}/")
    assert page.status_code == 200
    assert b"Draft" in page.content

    answer = owner_client.post(f"/projects/{project.pk}/draft", draft_form(seed="1234"), HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    draft = Task.objects.get()
    assert draft.state == Task.State.PENDING
    # The new card arrives out of band at the top of the list, followed by the page's one refresh while live.
    assert b'hx-swap-oob="afterbegin:#task-list"' in answer.content
    assert f'name="card" form="live-cards" value="{draft.pk}:'.encode() in answer.content

    (draft,) = run_worker(draft.pk)
    assert draft.state == Task.State.DONE, draft.error_message
    clip = draft.clip
    path = Path(clip.file.path)
    info = probe(path)
    assert (info.width, info.height, info.has_audio) == (1280, 720, False)
    assert clip.duration_s == pytest.approx(4.0, abs=0.1)
    assert clip.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert clip.bytes == path.stat().st_size
    with Image.open(clip.poster.path) as poster:
        assert poster.format == "JPEG"

    # The terminal card is no longer followed and plays the clip with its poster.
    card = owner_client.get(f"/tasks/{draft.pk}/card", HTTP_HX_REQUEST="true").content.decode()
    assert 'form="live-cards"' not in card
    assert f'src="/clips/{clip.pk}/video"' in card and f'poster="/clips/{clip.pk}/poster"' in card
    ranged = owner_client.get(f"/clips/{clip.pk}/video", HTTP_RANGE="bytes=0-99")
    assert ranged.status_code == 206 and ranged["Content-Range"].startswith("bytes 0-99/")

    answer = owner_client.post(f"/tasks/{draft.pk}/promote", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    final = Task.objects.get(promoted_from=draft)
    assert (final.kind, final.tier, final.model) == ("final", "quality", "veo-3.1-generate-preview")
    assert final.prompt_version == draft.prompt_version
    assert final.seed == draft.seed == 1234
    assert final.parameters == {"duration_s": 8, "aspect_ratio": "16:9", "resolution": "1080p", "audio": True}

    (final,) = run_worker(final.pk)
    assert final.state == Task.State.DONE, final.error_message
    info = probe(Path(final.clip.file.path))
    assert (info.width, info.height, info.has_audio) == (1920, 1080, True)
    assert info.duration_s == pytest.approx(8.0, abs=0.1)

    submit = SimulatorRequest.objects.filter(method="POST", job_id=final.provider_task_id).get()
    sent = json.loads(submit.body)
    assert sent["generate_audio"] is True and sent["seed"] == 1234 and sent["resolution"] == "1080p"

    compare = owner_client.get(f"/projects/{project.pk}/compare?a={draft.clip.pk}&b={final.clip.pk}")
    assert compare.status_code == 200
    html = compare.content.decode()
    assert f'src="/clips/{draft.clip.pk}/video"' in html and f'src="/clips/{final.clip.pk}/video"' in html
    assert 'data-action="toggle"' in html and 'data-action="seek"' in html


def test_promoting_twice_makes_one_final(simulator, project, owner_client, draft_form, run_worker):
    owner_client.post(f"/projects/{project.pk}/draft", draft_form())
    (draft,) = run_worker(Task.objects.get().pk)
    owner_client.post(f"/tasks/{draft.pk}/promote")
    owner_client.post(f"/tasks/{draft.pk}/promote")
    assert Task.objects.filter(promoted_from=draft).count() == 1


def test_safety_block_ends_blocked_in_plain_words(simulator, project, owner_client, draft_form, run_worker):
    owner_client.post(f"/projects/{project.pk}/draft", draft_form(prompt="A riot scene #blocked"))
    (task,) = run_worker(Task.objects.get().pk)
    assert task.state == Task.State.BLOCKED
    assert task.cost_charged == 0
    card = owner_client.get(f"/tasks/{task.pk}/card", HTTP_HX_REQUEST="true").content.decode()
    assert "safety filter" in card and "Reword the prompt" in card and 'form="live-cards"' not in card
