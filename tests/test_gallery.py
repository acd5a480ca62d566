"""The gallery: every clip as a poster, filtered from the URL, paged by keyset; the project page stays small."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from studio.clips.models import Clip
from studio.prompts.models import Prompt
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def done_clips(project, people):
    """`count` done clips made straight in the database, newest last, with these task fields."""

    def make(count: int, *, text: str = "A fox in snow", by: str = "owner", **fields) -> list[Clip]:
        version = fields.pop("prompt_version", None)
        if version is None:
            prompt = Prompt.objects.create(project=project, title=text[:40])
            version = prompt.record_version(text=text, negative_prompt="", author=people[by])
        parameters = {"duration_s": 4, "aspect_ratio": "16:9", "resolution": "720p", "audio": False}
        parameters.update(fields.pop("parameters", {}))
        base = {
            "project": project,
            "prompt_version": version,
            "account": project.draft_account,
            "created_by": people[by],
            "route": "videos-gateway",
            "model": "veo-3.1-fast-generate-preview",
            "kind": "draft",
            "tier": "fast",
            "seed": 1,
            "state": Task.State.DONE,
            "parameters": parameters,
        }
        tasks = Task.objects.bulk_create([Task(**{**base, **fields}) for _ in range(count)])
        clips = Clip.objects.bulk_create(
            [
                Clip(
                    task=task,
                    file=f"clips/{task.pk}.mp4",
                    duration_s=4,
                    width=1280,
                    height=720,
                    has_audio=False,
                    bytes=1,
                    sha256="0" * 64,
                )
                for task in tasks
            ]
        )
        return clips

    return make


def shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'class="gallery-item[^"]*" id="clip-(\d+)"', html)]


def more_link(html: str) -> str | None:
    found = re.search(r'class="button gallery-more" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_every_clip_appears_once_across_pages_newest_first(project, clients, done_clips):
    clips = done_clips(60)
    client, url, seen = clients["viewer"], f"/projects/{project.pk}/gallery", []
    while url:
        html = client.get(url).content.decode()
        page = shown(html)
        assert len(page) <= 24
        seen += page
        link = more_link(html)
        url = f"/projects/{project.pk}/gallery{link}" if link else None
    assert seen == sorted((clip.pk for clip in clips), reverse=True)


def test_oldest_first_walks_the_other_way(project, clients, done_clips):
    clips = done_clips(30)
    html = clients["viewer"].get(f"/projects/{project.pk}/gallery", {"sort": "oldest"}).content.decode()
    assert shown(html) == [clip.pk for clip in clips[:24]] and "sort=oldest" in more_link(html)


def test_clips_made_in_the_same_instant_are_neither_skipped_nor_repeated(project, clients, done_clips):
    clips = done_clips(30)
    Clip.objects.filter(pk__in=[clip.pk for clip in clips]).update(created_at=timezone.now())
    first = clients["viewer"].get(f"/projects/{project.pk}/gallery").content.decode()
    second = clients["viewer"].get(f"/projects/{project.pk}/gallery{more_link(first)}").content.decode()
    assert sorted(shown(first) + shown(second)) == sorted(clip.pk for clip in clips)


def test_a_later_page_asked_by_htmx_is_just_the_cards(project, clients, done_clips):
    done_clips(30)
    first = clients["viewer"].get(f"/projects/{project.pk}/gallery").content.decode()
    later = clients["viewer"].get(f"/projects/{project.pk}/gallery{more_link(first)}", HTTP_HX_REQUEST="true")
    html = later.content.decode()
    assert "<html" not in html and len(shown(html)) == 6 and more_link(html) is None


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ({"kind": "final"}, "final"),
        ({"tier": "quality"}, "final"),
        ({"aspect_ratio": "9:16"}, "portrait"),
        ({"author": "editor"}, "editor's"),
        ({"q": "LIGHTHOUSE dusk"}, "lighthouse"),
        ({"model": "veo-3.1-generate-preview"}, "final"),
    ],
)
def test_filters_narrow_the_gallery(project, clients, done_clips, query, matches):
    made = {
        "drafts": done_clips(3),
        "final": done_clips(2, kind="final", tier="quality", model="veo-3.1-generate-preview"),
        "portrait": done_clips(2, parameters={"aspect_ratio": "9:16"}),
        "editor's": done_clips(2, by="editor"),
        "lighthouse": done_clips(2, text="A lighthouse at dusk, slow push in"),
    }
    html = clients["viewer"].get(f"/projects/{project.pk}/gallery", query).content.decode()
    assert sorted(shown(html)) == sorted(clip.pk for clip in made[matches])


def test_a_date_range_keeps_the_clips_of_those_days(project, clients, done_clips):
    old, new = done_clips(2), done_clips(3)
    Clip.objects.filter(pk__in=[c.pk for c in old]).update(created_at=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    html = clients["viewer"].get(f"/projects/{project.pk}/gallery", {"since": since}).content.decode()
    assert sorted(shown(html)) == sorted(c.pk for c in new)


def test_a_filter_value_that_cannot_be_used_is_named_and_ignored(project, clients, done_clips):
    done_clips(2)
    html = (
        clients["viewer"].get(f"/projects/{project.pk}/gallery", {"since": "last week", "kind": "x"}).content.decode()
    )
    assert "Use a date like 2026-12-01." in html and "is not one of the choices" in html and len(shown(html)) == 2


def test_the_filters_live_in_the_url_and_the_next_page_keeps_them(project, clients, done_clips):
    done_clips(30, kind="final", tier="quality")
    html = clients["viewer"].get(f"/projects/{project.pk}/gallery", {"kind": "final", "q": "fox"}).content.decode()
    link = more_link(html)
    assert "kind=final" in link and "q=fox" in link and "after=" in link
    assert '<option value="final" selected>' in html and 'value="fox"' in html


def test_the_gallery_costs_the_same_queries_at_any_depth(project, clients, done_clips):
    done_clips(30)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert clients["viewer"].get(url).status_code == 200
        return len(captured)

    clients["viewer"].get(f"/projects/{project.pk}/")  # signs in: the first request pays for the session
    first = queries(f"/projects/{project.pk}/gallery")
    done_clips(300)
    assert queries(f"/projects/{project.pk}/gallery") == first
    deep = clients["viewer"].get(f"/projects/{project.pk}/gallery").content.decode()
    for _ in range(5):
        deep = clients["viewer"].get(f"/projects/{project.pk}/gallery{more_link(deep)}").content.decode()
    assert queries(f"/projects/{project.pk}/gallery{more_link(deep)}") == first


def test_the_project_page_shows_the_newest_work_and_sends_the_rest_to_the_gallery(project, clients, done_clips):
    done_clips(5)
    small = clients["viewer"].get(f"/projects/{project.pk}/").content.decode()
    assert small.count('class="task-card') == 5 and "Older work is in the gallery" not in small
    done_clips(40)
    big = clients["viewer"].get(f"/projects/{project.pk}/").content.decode()
    assert big.count('class="task-card') == 24 and "Older work is in the gallery" in big


# --- A clip's own page -------------------------------------------------------------


def test_a_clip_page_shows_its_words_their_change_settings_and_lineage(project, clients, people, done_clips):
    (draft_clip,) = done_clips(1, text="A fox crossing a snowy road")
    version = draft_clip.task.prompt_version
    newer = version.prompt.record_version(
        text="A fox crossing a snowy road at night", negative_prompt="", author=people["owner"]
    )
    (final_clip,) = done_clips(
        1,
        kind="final",
        tier="quality",
        prompt_version=newer,
        promoted_from=draft_clip.task,
        model="veo-3.1-generate-preview",
    )
    draft_page = clients["reviewer"].get(f"/clips/{draft_clip.pk}/").content.decode()
    assert "A fox crossing a snowy road" in draft_page and f"final #{final_clip.task_id}" in draft_page
    assert f"?a={draft_clip.pk}&amp;b={final_clip.pk}" in draft_page  # compare with its final
    final_page = clients["reviewer"].get(f"/clips/{final_clip.pk}/").content.decode()
    assert "<ins>at night</ins>" in final_page  # the words added since v1
    assert f"draft #{draft_clip.task_id}" in final_page and "veo-3.1-generate-preview" in final_page
    assert f"?a={draft_clip.pk}&amp;b={final_clip.pk}" in final_page  # compare with its draft
    # A reviewer watches: no "Use these settings".
    assert "Use these settings" not in final_page
    assert "Use these settings" in clients["editor"].get(f"/clips/{final_clip.pk}/").content.decode()


def test_the_gallery_links_each_clip_to_its_page(project, clients, done_clips):
    (clip,) = done_clips(1)
    assert f'href="/clips/{clip.pk}/"' in clients["viewer"].get(f"/projects/{project.pk}/gallery").content.decode()


# --- Stars ---------------------------------------------------------------------------


def test_a_reviewer_stars_clips_for_the_team_and_the_gallery_filters_on_them(project, clients, people, done_clips):
    clips = done_clips(4)
    picked = [clips[0].pk, clips[2].pk]
    back = f"/projects/{project.pk}/gallery?kind=draft"
    answer = clients["reviewer"].post(
        f"/projects/{project.pk}/gallery/star", {"clip": picked, "star": "1", "next": back}
    )
    assert answer.status_code == 302 and answer["Location"] == back
    assert set(Clip.objects.filter(starred_by=people["reviewer"]).values_list("pk", flat=True)) == set(picked)
    starred = clients["viewer"].get(f"/projects/{project.pk}/gallery", {"starred": "1"}).content.decode()
    assert sorted(shown(starred)) == sorted(picked) and "★" in starred
    clients["editor"].post(f"/projects/{project.pk}/gallery/star", {"clip": [clips[0].pk], "star": "0"})
    assert list(Clip.objects.filter(starred_at__isnull=False).values_list("pk", flat=True)) == [clips[2].pk]


def test_viewers_cannot_star_and_a_foreign_next_is_not_followed(project, clients, done_clips):
    (clip,) = done_clips(1)
    url = f"/projects/{project.pk}/gallery/star"
    assert clients["viewer"].post(url, {"clip": [clip.pk], "star": "1"}).status_code == 403
    answer = clients["owner"].post(url, {"clip": [clip.pk], "star": "1", "next": "https://evil.example/"})
    assert answer["Location"] == f"/projects/{project.pk}/gallery"
    clip.refresh_from_db()
    assert clip.starred_at is not None


# --- Review status -------------------------------------------------------------------


def test_a_reviewer_approves_or_asks_for_changes_and_the_gallery_filters_on_it(project, clients, people, done_clips):
    clips = done_clips(3)
    url = f"/projects/{project.pk}/gallery/review"
    clients["reviewer"].post(url, {"clip": [clips[0].pk], "review": "approved"})
    clients["reviewer"].post(url, {"clip": [clips[1].pk], "review": "changes", "note": "  warmer   light  "})
    clips[1].refresh_from_db()
    assert (clips[1].review_status, clips[1].reviewed_by, clips[1].review_note) == (
        Clip.Review.CHANGES_REQUESTED,
        people["reviewer"],
        "warmer light",
    )
    approved = clients["viewer"].get(f"/projects/{project.pk}/gallery", {"review": "approved"}).content.decode()
    assert shown(approved) == [clips[0].pk]
    waiting = clients["viewer"].get(f"/projects/{project.pk}/gallery", {"review": "needs_review"}).content.decode()
    assert shown(waiting) == [clips[2].pk]
    page = clients["viewer"].get(f"/clips/{clips[1].pk}/").content.decode()
    assert "Changes requested" in page and "warmer light" in page and "Approve</button>" not in page
    assert "Approve</button>" in clients["reviewer"].get(f"/clips/{clips[1].pk}/").content.decode()
    studio = clients["viewer"].get(f"/projects/{project.pk}/").content.decode()
    assert 'class="badge review-approved">Approved<' in studio and f'href="/clips/{clips[0].pk}/"' in studio


def test_viewers_set_no_status_and_an_unknown_status_changes_nothing(project, clients, done_clips):
    (clip,) = done_clips(1)
    url = f"/projects/{project.pk}/gallery/review"
    assert clients["viewer"].post(url, {"clip": [clip.pk], "review": "approved"}).status_code == 403
    answer = clients["owner"].post(url, {"clip": [clip.pk], "review": "great"}, follow=True)
    assert "Choose approved, changes requested or needs review." in answer.content.decode()
    clip.refresh_from_db()
    assert clip.review_status == Clip.Review.NEEDS_REVIEW and not clip.is_reviewed


def test_the_clip_page_form_comes_back_to_the_clip_page(project, clients, done_clips):
    (clip,) = done_clips(1)
    answer = clients["editor"].post(
        f"/projects/{project.pk}/gallery/review",
        {"clip": [clip.pk], "review": "approved", "next": f"/clips/{clip.pk}/"},
    )
    assert answer["Location"] == f"/clips/{clip.pk}/"


def test_two_selected_clips_open_side_by_side_and_any_other_count_is_said(project, clients, done_clips):
    clips = done_clips(3)
    url = f"/projects/{project.pk}/gallery/compare"
    answer = clients["viewer"].post(url, {"clip": [clips[2].pk, clips[0].pk]})
    assert answer["Location"] == f"/projects/{project.pk}/compare?a={clips[0].pk}&b={clips[2].pk}"
    refused = clients["viewer"].post(url, {"clip": [clips[0].pk]}, follow=True)
    assert "Select exactly two clips to compare them." in refused.content.decode()


def test_routes_are_named_in_plain_words_on_the_filter_and_the_clip_page(
    clients, project, people, pending_task, archived_clip
):
    clip = archived_clip(pending_task(project, people["owner"]))
    gallery = clients["viewer"].get(f"/projects/{project.pk}/gallery").content.decode()
    route = project.draft_account.route
    name = project.draft_account.provider.name
    assert f'<option value="{route}">{name}</option>' in gallery
    page = clients["viewer"].get(f"/clips/{clip.pk}/").content.decode()
    assert f"<tr><th>Route</th><td>{name}</td></tr>" in page
