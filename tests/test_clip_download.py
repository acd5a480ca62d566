"""A clip's Download: saved under project, prompt name, version, seed and tier, by members only."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from studio.clips.downloads import content_disposition, download_name
from studio.prompts.models import Prompt
from studio.tasks.models import Task

VIDEO = bytes(range(256)) * 40


@pytest.fixture
def clip(project, people, pending_task, archived_clip):
    project.name = "Harbour Lights"
    project.save()
    task = pending_task(project, people["editor"], seed=1234)
    Prompt.objects.filter(pk=task.prompt_version.prompt_id).update(title="Lighthouse at dusk")
    prompt = task.prompt_version.prompt
    prompt.refresh_from_db()
    for words in ("A lighthouse at dusk, v2", "A lighthouse at dusk, v3"):
        version = prompt.record_version(text=words, negative_prompt="", author=people["editor"])
    Task.objects.filter(pk=task.pk).update(prompt_version=version)
    task.refresh_from_db()
    return archived_clip(task, content=VIDEO)


def test_the_name_says_project_prompt_version_seed_and_tier(clip):
    assert download_name(clip) == "harbour-lights_lighthouse-at-dusk_v3_seed-1234_fast.mp4"
    assert content_disposition(clip) == 'attachment; filename="harbour-lights_lighthouse-at-dusk_v3_seed-1234_fast.mp4"'


def test_a_clip_without_a_seed_leaves_it_out(clip):
    Task.objects.filter(pk=clip.task_id).update(seed=None, tier="quality")
    clip.task.refresh_from_db()
    assert download_name(clip) == "harbour-lights_lighthouse-at-dusk_v3_quality.mp4"


def test_letters_beyond_ascii_go_in_filename_star_and_the_plain_name_stays_ascii(clip):
    clip.task.project.name = "Café Zürich"
    clip.task.prompt_version.prompt.title = "東京の夜 — neon"
    header = content_disposition(clip)
    plain = "cafe-zurich_neon_v3_seed-1234_fast.mp4"
    full = "café-zürich_東京の夜-neon_v3_seed-1234_fast.mp4"
    assert header == f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(full, safe='')}"
    assert header.isascii()


def test_a_name_with_no_ascii_letters_falls_back_to_plain_words(clip):
    clip.task.project.name = "東京"
    clip.task.prompt_version.prompt.title = "夜"
    assert download_name(clip) == "project_prompt_v3_seed-1234_fast.mp4"


def test_quotes_and_slashes_in_names_cannot_break_the_header(clip):
    clip.task.project.name = 'A "quoted"/../name;'
    clip.task.prompt_version.prompt.title = "x\r\nSet-Cookie: y"
    header = content_disposition(clip)
    assert header == 'attachment; filename="a-quotedname_x-set-cookie-y_v3_seed-1234_fast.mp4"'


def test_long_names_are_cut(clip):
    clip.task.project.name = "p" * 300
    clip.task.prompt_version.prompt.title = "w" * 300
    assert len(download_name(clip)) < 140


def test_download_saves_the_clip_under_its_name(clip, clients):
    answer = clients["viewer"].get(f"/clips/{clip.pk}/video?download=1")
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == (
        'attachment; filename="harbour-lights_lighthouse-at-dusk_v3_seed-1234_fast.mp4"'
    )
    assert answer["Content-Type"] == "video/mp4"
    assert b"".join(answer.streaming_content) == VIDEO


def test_the_player_is_not_asked_to_save(clip, clients):
    answer = clients["viewer"].get(f"/clips/{clip.pk}/video")
    assert answer.status_code == 200
    assert "Content-Disposition" not in answer


def test_a_download_cut_halfway_resumes_with_range(clip, clients):
    answer = clients["viewer"].get(f"/clips/{clip.pk}/video?download=1", HTTP_RANGE="bytes=100-")
    assert answer.status_code == 206
    assert answer["Content-Range"] == f"bytes 100-{len(VIDEO) - 1}/{len(VIDEO)}"
    assert answer["Content-Disposition"].startswith('attachment; filename="harbour-lights_')
    assert b"".join(answer.streaming_content) == VIDEO[100:]


def test_outsider_gets_404(clip, clients):
    answer = clients["outsider"].get(f"/clips/{clip.pk}/video?download=1")
    assert answer.status_code == 404
    assert "Content-Disposition" not in answer


def test_signed_out_visitor_is_sent_to_log_in(clip, client):
    answer = client.get(f"/clips/{clip.pk}/video?download=1")
    assert answer.status_code == 302
    assert "/login/" in answer["Location"]


def test_cards_the_gallery_and_the_clip_page_offer_the_download(clip, clients):
    link = f'href="/clips/{clip.pk}/video?download=1" download'
    project = clip.task.project_id
    for url in (f"/projects/{project}/", f"/projects/{project}/gallery", f"/clips/{clip.pk}/"):
        page = clients["viewer"].get(url).content.decode()
        assert link in page, url
        # The player steps at the clip's own frame rate.
        assert 'data-player tabindex="0"' in page and 'data-fps="24"' in page, url
