"""Download as zip: the chosen clips, byte for byte, and a manifest that matches the database."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse

from studio.tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived(project, people, pending_task, media, archived_clip):
    """A done draft and its done final, each with a real file in storage."""
    draft = pending_task(project, people["editor"], text="A heron lifting off a misty lake", seed=42)
    final = pending_task(
        project,
        people["editor"],
        text="A heron lifting off a misty lake",
        seed=42,
        kind="final",
        promoted_from=draft,
        resolution="1080p",
        duration_s=8,
        audio=True,
    )
    return [
        archived_clip(draft, content=b"draft-bytes" * 1000, cost_charged=Decimal("0.40")),
        archived_clip(final, content=b"final-bytes" * 3000, cost_charged=Decimal("0.40")),
    ]


def unzip(answer) -> zipfile.ZipFile:
    assert isinstance(answer, StreamingHttpResponse) and answer["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(answer.getvalue()))


def test_the_chosen_clips_come_byte_for_byte_with_a_manifest_that_matches(project, clients, archived, media):
    draft_clip, final_clip = archived
    answer = clients["reviewer"].post(f"/projects/{project.pk}/gallery/zip", {"clip": [draft_clip.pk, final_clip.pk]})
    assert 'filename="moonrise-clips.zip"' in answer["Content-Disposition"]
    archive = unzip(answer)
    manifest = json.loads(archive.read("manifest.json"))["clips"]
    assert [entry["clip"] for entry in manifest] == [draft_clip.pk, final_clip.pk]
    for entry, clip in zip(manifest, archived, strict=True):
        task = Task.objects.select_related("prompt_version").get(pk=clip.task_id)
        assert archive.read(entry["file"]) == (media / clip.file.name).read_bytes()
        assert entry["prompt"] == task.prompt_version.text and entry["version"] == task.prompt_version.number
        assert (entry["seed"], entry["parameters"], entry["route"], entry["model"], entry["tier"]) == (
            task.seed,
            task.parameters,
            task.route,
            task.model,
            task.tier,
        )
        assert entry["sha256"] == clip.sha256 and entry["cost_usd"] == "0.40" and entry["cost_is_charged"]
    assert manifest[0]["finals"] == [final_clip.task_id] and manifest[1]["promoted_from_task"] == draft_clip.task_id


def test_every_clip_matching_the_filters_goes_in(project, clients, archived):
    answer = clients["viewer"].post(f"/projects/{project.pk}/gallery/zip", {"matching": "1", "kind": "final"})
    manifest = json.loads(unzip(answer).read("manifest.json"))["clips"]
    assert [entry["clip"] for entry in manifest] == [archived[1].pk]


def test_clips_of_another_project_are_never_included(project, clients, archived, make_project, people):
    other = make_project(people, name="Elsewhere")
    Task.objects.filter(pk=archived[1].task_id).update(project=other)
    answer = clients["owner"].post(f"/projects/{project.pk}/gallery/zip", {"clip": [archived[0].pk, archived[1].pk]})
    assert [e["clip"] for e in json.loads(unzip(answer).read("manifest.json"))["clips"]] == [archived[0].pk]


def test_nothing_chosen_is_said_and_sends_nothing(project, clients, archived):
    answer = clients["owner"].post(f"/projects/{project.pk}/gallery/zip", {"clip": ["x"]}, follow=True)
    assert "Choose at least one clip to download." in answer.content.decode()


def test_the_zip_is_streamed_clip_by_clip(project, clients, archived):
    answer = clients["owner"].post(f"/projects/{project.pk}/gallery/zip", {"clip": [c.pk for c in archived]})
    pieces = [piece for piece in answer.streaming_content if piece]
    # Each file leaves as it is read: several pieces, none holding the whole archive.
    assert len(pieces) >= 3 and max(map(len, pieces)) < sum(map(len, pieces))
