"""A draft on one route promotes to a final on another, saying plainly what could not be carried."""

from __future__ import annotations

import pytest

from studio.clips.media import probe
from studio.providers.models import ProviderAccount
from studio.simulator.engine import issue_key
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def add_account(project, route: str, key: str = "sim-cross") -> ProviderAccount:
    account = ProviderAccount(project=project, label=route, route=route, base_url=f"/simulator/{route}")
    account.set_api_key(issue_key(key))  # a key the simulator issued, as it accepts no other
    account.save()
    return account


def test_a_fast_draft_on_the_tasks_api_becomes_a_final_with_audio_on_the_gateway(
    simulator, project, owner_client, draft_form, run_worker
):
    project.draft_account = add_account(project, "tasks-api")
    project.save()
    answer = owner_client.post(
        f"/projects/{project.pk}/draft", draft_form(tier="fast", aspect_ratio="9:16", duration_s="4", seed="4242")
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    (draft,) = run_worker(Task.objects.get().pk)
    assert (draft.state, draft.route, draft.model) == ("done", "tasks-api", "veo-3.1-fast"), draft.error_message

    owner_client.post(f"/tasks/{draft.pk}/promote")
    final = Task.objects.get(promoted_from=draft)
    assert (final.route, final.model) == ("videos-gateway", "veo-3.1-generate-preview")
    assert final.parameters["aspect_ratio"] == "9:16" and final.seed == 4242 and final.carry_notes == ""
    (final,) = run_worker(final.pk)
    assert final.state == "done", final.error_message
    info = probe(final.clip.file.path)
    assert (info.width, info.height, info.has_audio) == (1080, 1920, True)


def test_a_final_on_a_route_without_audio_says_so(simulator, project, owner_client, draft_form, run_worker):
    project.final_account = add_account(project, "tasks-api")
    project.save()
    owner_client.post(f"/projects/{project.pk}/draft", draft_form(aspect_ratio="9:16"))
    (draft,) = run_worker(Task.objects.get().pk)
    owner_client.post(f"/tasks/{draft.pk}/promote")
    final = Task.objects.get(promoted_from=draft)
    assert final.model == "veo-3.1" and final.parameters["audio"] is False
    assert "renders no audio, so the final is silent" in final.carry_notes
    card = owner_client.get(f"/tasks/{final.pk}/card", HTTP_HX_REQUEST="true").content.decode()
    assert "renders no audio" in card


def test_a_final_on_the_openai_video_route_fits_its_framing_and_durations(
    simulator, project, owner_client, draft_form, run_worker
):
    project.final_account = add_account(project, "openai-video")
    project.save()
    owner_client.post(f"/projects/{project.pk}/draft", draft_form(aspect_ratio="9:16"))
    (draft,) = run_worker(Task.objects.get().pk)
    owner_client.post(f"/tasks/{draft.pk}/promote")
    final = Task.objects.get(promoted_from=draft)
    assert final.parameters["aspect_ratio"] == "16:9" and final.parameters["duration_s"] == 10
    assert "has no 9:16" in final.carry_notes and "the final is 10 s" in final.carry_notes
