"""Extend on route 6: a finished clip continued by 7 s through the simulator, chained, and refused in plain
words wherever the route, the model or the clip does not allow it."""

from __future__ import annotations

import base64
import tempfile
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from studio.clips.media import probe
from studio.clips.models import Clip, delete_clips
from studio.providers.base import Tier
from studio.providers.registry import price_data
from studio.simulator.models import SimulatedJob, SimulatorRequest
from studio.simulator.render import render_clip
from studio.tasks import lifecycle
from studio.tasks.models import Task

from .test_route import FAST, RESOURCE, bearer_for, follow, sim

pytestmark = pytest.mark.django_db(transaction=True)

EIGHT = {"duration_s": 8, "resolution": "720p"}


def extension_body(task: Task) -> dict:
    """What the adapter sent for this task, whole, as the simulator accepted it."""
    job = SimulatedJob.objects.get(pk=task.provider_task_id.rpartition("/operations/")[2])
    return job.request


def test_a_clip_is_extended_by_seven_seconds_and_the_extension_extended_again(
    project, people, pending, rendered, media
):
    source = follow(pending(project, people["editor"], text="A boat leaves the harbour", **EIGHT))
    assert source.state == Task.State.DONE and round(source.clip.duration_s) == 8

    extension = lifecycle.extend(source=source, continuation="The boat sails into fog", user=people["editor"])
    assert extension.extended_from == source and extension.is_extension and extension.kind == source.kind
    assert extension.parameters["duration_s"] == 7 and extension.continuation == "The boat sails into fog"
    # The quote is for the seconds added, at the route's price for the source's resolution and sound.
    (card,) = [
        c
        for c in price_data("google-cloud")["cards"]
        if (c["model"], c["resolution"], c["audio"]) == (FAST, "720p", source.audio)
    ]
    assert extension.cost_estimate == Decimal(str(card["usd_per_second"])) * 7

    extension = follow(extension)
    sent = extension_body(extension)
    instance, parameters = sent["instances"][0], sent["parameters"]
    assert instance["prompt"] == "The boat sails into fog"
    with source.clip.file.open("rb") as handle:
        assert base64.b64decode(instance["video"]["bytesBase64Encoded"]) == handle.read()
    assert instance["video"]["mimeType"] == "video/mp4"
    assert parameters["durationSeconds"] == 7 and parameters["resolution"] == "720p"
    assert extension.state == Task.State.DONE, extension.error_message
    # The answer is the whole clip with its continuation.
    assert round(extension.clip.duration_s) == 15 and extension.can_compare_with_source

    chained = follow(lifecycle.extend(source=extension, continuation="A lighthouse appears", user=people["editor"]))
    assert chained.state == Task.State.DONE, chained.error_message
    assert round(chained.clip.duration_s) == 22
    assert chained.extended_from == extension and extension.extended_from == source
    with extension.clip.file.open("rb") as handle:
        sent_video = extension_body(chained)["instances"][0]["video"]["bytesBase64Encoded"]
        assert base64.b64decode(sent_video) == handle.read()


def archived(task: Task, archived_clip, **clip_fields) -> Task:
    clip = archived_clip(task)
    Clip.objects.filter(pk=clip.pk).update(**{"duration_s": 8, **clip_fields})
    return Task.objects.select_related("account", "clip").get(pk=task.pk)


@pytest.mark.parametrize(
    ("parameters", "clip_fields", "words"),
    [
        ({}, {"duration_s": 36.0}, "Only clips of 1 to 30 s can be extended; this one is 36.0 s."),
        ({}, {"frame_rate": 30.0}, "Only 24 fps clips can be extended; this one is 30 fps."),
        ({"resolution": "4k"}, {}, "Only 720p or 1080p clips can be extended; this one is 4k."),
    ],
)
def test_a_clip_the_route_cannot_extend_says_why_and_nothing_is_made(
    project, people, pending, archived_clip, parameters, clip_fields, words
):
    source = archived(pending(project, people["editor"], **{**EIGHT, **parameters}), archived_clip, **clip_fields)
    with pytest.raises(lifecycle.ExtendRefused) as refused:
        lifecycle.extend(source=source, continuation="More", user=people["editor"])
    assert str(refused.value) == words
    assert not Task.objects.filter(extended_from=source).exists()


def test_extend_needs_a_finished_clip_a_live_model_and_a_route_that_extends(
    project, people, pending, archived_clip, make_project
):
    waiting = pending(project, people["editor"], **EIGHT)
    with pytest.raises(lifecycle.ExtendRefused, match="Only a finished clip can be extended"):
        lifecycle.extension_model(waiting)

    source = archived(pending(project, people["editor"], **EIGHT), archived_clip)
    source.account.mark_model_gone(FAST, "Google has retired this model.")
    with pytest.raises(lifecycle.ExtendRefused, match="A project owner can set another fast model"):
        lifecycle.extension_model(source)

    gemini = make_project(people, name="Gemini", route="gemini")
    elsewhere = archived(pending(gemini, people["editor"], duration_s=8), archived_clip)
    with pytest.raises(lifecycle.ExtendRefused) as refused:
        lifecycle.extension_model(elsewhere)
    assert str(refused.value) == (
        "Dailies extends clips made through Google Cloud Vertex AI; this clip was made through "
        "Google Gemini API, where it does not."
    )


def test_an_extension_whose_clip_was_deleted_before_it_was_sent_fails_unbilled(project, people, pending, simulator):
    source = follow(pending(project, people["editor"], **EIGHT))
    extension = lifecycle.extend(source=source, continuation="Fog rolls in", user=people["editor"])
    delete_clips(Clip.objects.filter(task=source))
    lifecycle.submit(extension.pk)
    extension.refresh_from_db()
    assert extension.state == Task.State.FAILED and extension.cost_charged == Decimal("0")
    assert "The clip to extend was deleted before this was sent" in extension.error_message
    assert not SimulatorRequest.objects.filter(path__endswith=":predictLongRunning", body__contains="Fog").exists()


def test_an_extension_is_not_promoted_as_if_it_were_its_prompt(project, people, pending, archived_clip):
    source = archived(pending(project, people["editor"], **EIGHT), archived_clip)
    extension = archived(lifecycle.extend(source=source, continuation="And then", user=people["editor"]), archived_clip)
    assert not extension.can_be_promoted
    with pytest.raises(lifecycle.PromotionRefused, match="continues another clip"):
        lifecycle.promote(draft=extension, user=people["editor"])


# --- The simulator's limits -------------------------------------------------------------------------------


def mp4(*, seconds: float, fps: int = 24) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        render_clip(path, width=320, height=180, duration_s=seconds, audio=False, title_lines=["x"], seed=1, fps=fps)
        assert probe(path).frame_rate == fps
        return base64.b64encode(path.read_bytes()).decode()


@pytest.mark.parametrize(
    ("video", "parameters", "words"),
    [
        ({"seconds": 4}, {"durationSeconds": 8}, "durationSeconds must be 7 for a video extension"),
        ({"seconds": 4}, {"resolution": "4k", "durationSeconds": 7}, "renders at 720p or 1080p"),
        ({"seconds": 4, "fps": 30}, {"durationSeconds": 7}, "The input video must be 24 fps; it is 30 fps"),
        ({"seconds": 31}, {"durationSeconds": 7}, "must be 1 to 30 seconds long; it is 31.0 s"),
    ],
)
def test_the_simulator_refuses_an_extension_google_would(key_file, video, parameters, words):
    body = {
        "instances": [{"prompt": "More", "video": {"bytesBase64Encoded": mp4(**video), "mimeType": "video/mp4"}}],
        "parameters": {"aspectRatio": "16:9", "resolution": "720p", **parameters},
    }
    answer = httpx.post(sim(f"v1/{RESOURCE}/{FAST}:predictLongRunning"), json=body, headers=bearer_for(key_file()))
    assert answer.status_code == 400 and words in answer.json()["error"]["message"]
    assert not SimulatedJob.objects.exists()


def test_tier_of_an_extension_is_its_sources(project, people, pending, archived_clip):
    source = archived(pending(project, people["editor"], tier=Tier.QUALITY, **EIGHT), archived_clip)
    extension = lifecycle.extend(source=source, continuation="On", user=people["editor"])
    assert extension.tier == Tier.QUALITY and extension.model == "veo-3.1-generate-001"
