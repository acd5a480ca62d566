"""Several clips per request on route 6: variations drawn together are one request with sampleCount n, each
video archived as its own clip and billed as a clip; the others take their sender's submission, whatever it
is; videos the safety filter removed leave their clips blocked, not billed."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from studio.providers.base import ErrorKind, ProviderError, Report, Status
from studio.providers.registry import price_data
from studio.simulator.models import SimulatorRequest
from studio.tasks import lifecycle, tracker
from studio.tasks.models import Batch, Task

from .test_route import FAST

pytestmark = pytest.mark.django_db(transaction=True)


def submits() -> list[dict]:
    return [
        json.loads(entry.body)
        for entry in SimulatorRequest.objects.filter(path__endswith=":predictLongRunning").order_by("pk")
    ]


def draw_together(client, project, draft_form, *, count: int, prompt: str = "Gulls over a harbour") -> list[Task]:
    answer = client.post(
        f"/projects/{project.pk}/draft",
        draft_form(prompt=prompt, variations=str(count), one_request="on", form_token=f"together-{count}"),
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    return list(Task.objects.filter(project=project).order_by("pk"))


@pytest.fixture
def project(cloud_project):
    # The route's shortest cadence, so the clips wait one poll.
    return cloud_project(poll_interval_s=5.0)


def test_variations_drawn_together_are_one_request_and_each_video_is_its_own_clip(
    project, clients, draft_form, run_worker
):
    sender, *others = draw_together(clients["editor"], project, draft_form, count=3)
    assert [t.sample_of_id for t in others] == [sender.pk, sender.pk] and [t.sample_index for t in others] == [1, 2]
    assert {t.seed for t in others} == {sender.seed}
    batch = Batch.objects.get()
    assert batch.axes[0]["labels"] == ["clip 1", "clip 2", "clip 3"]

    # The others are never sent themselves.
    assert not lifecycle.submit(others[0].pk) and not submits()
    done = run_worker(sender.pk, *(t.pk for t in others))
    assert all(t.state == Task.State.DONE for t in done), [t.error_message for t in done]
    (sent,) = submits()
    assert sent["parameters"]["sampleCount"] == 3
    assert len({t.provider_task_id for t in done}) == 1
    assert len({t.clip.sha256 for t in done}) == 3  # three videos, each its own clip
    (card,) = [
        c
        for c in price_data("google-cloud")["cards"]
        if (c["model"], c["resolution"], c["audio"]) == (FAST, "720p", False)
    ]
    assert {t.cost_estimate for t in done} == {Decimal(str(card["usd_per_second"])) * 4}


def test_more_variations_than_one_request_holds_go_four_to_a_request(project, clients, draft_form):
    tasks = draw_together(clients["editor"], project, draft_form, count=6)
    senders = [t for t in tasks if not t.rides_along]
    assert len(senders) == 2
    assert [t.sample_of_id for t in tasks] == [None, *[senders[0].pk] * 3, None, senders[1].pk]
    assert Batch.objects.get().axes[0]["labels"][3:5] == ["request 1 · clip 4", "request 2 · clip 1"]


def test_the_others_take_the_senders_outcome_uncertain_then_settled(project, clients, draft_form, simulator):
    sender, other = draw_together(clients["editor"], project, draft_form, count=2, prompt="Gulls #lost")
    assert lifecycle.submit(sender.pk)
    other.refresh_from_db()
    assert other.state == Task.State.UNCERTAIN and other.request_sent_at is not None
    job = SimulatorRequest.objects.filter(path__endswith=":predictLongRunning").get()
    # An owner settles either card: it settles the request, and both are followed under its job.
    operation = f"projects/dailies-sim/locations/us-central1/publishers/google/models/{FAST}/operations/{job.job_id}"
    answer = clients["owner"].post(f"/tasks/{other.pk}/settle", {"found": "yes", "provider_task_id": operation})
    assert answer.status_code == 302
    for task in (sender, other):
        task.refresh_from_db()
        assert task.state == Task.State.QUEUED and task.provider_task_id == operation


def test_a_refused_request_ends_every_clip_of_it_unbilled_and_a_rate_limit_keeps_them_waiting(
    cloud_project, clients, draft_form, simulator
):
    project = cloud_project(options={"storage_uri": "not-a-bucket"})  # Google's 400: a refused setting
    sender, other = draw_together(clients["editor"], project, draft_form, count=2)
    lifecycle.submit(sender.pk)
    other.refresh_from_db()
    assert other.state == Task.State.FAILED and other.cost_charged == Decimal("0")
    assert "storageUri" in other.error_message

    limited = cloud_project(name="Limited")
    sender, other = draw_together(clients["editor"], limited, draft_form, count=2, prompt="Gulls #ratelimit")
    lifecycle.submit(sender.pk)
    sender.refresh_from_db()
    other.refresh_from_db()
    assert sender.state == other.state == Task.State.PENDING and sender.next_check_at is not None
    # The sweep sends the sender again when its wait is over, never the other clip.
    queued: list[tuple[str, int]] = []
    Task.objects.filter(pk__in=[sender.pk, other.pk]).update(next_check_at=sender.created_at, lease_until=None)
    tracker.sweep(enqueue=lambda kind, task_id: queued.append((kind, task_id)))
    assert ("submit", sender.pk) in queued and ("submit", other.pk) not in queued


def test_clips_whose_videos_the_safety_filter_removed_are_blocked_and_not_billed(project, people, pending):
    sender = pending(project, people["editor"])
    others = [pending(project, people["editor"]) for _ in range(2)]
    for index, task in enumerate(others, start=1):
        Task.objects.filter(pk=task.pk).update(sample_of=sender, sample_index=index)
    Task.objects.filter(pk__in=[sender.pk, *(t.pk for t in others)]).update(
        state=Task.State.RUNNING, provider_task_id="op"
    )
    removed = ProviderError(ErrorKind.SAFETY, "Google's safety filter removed the video: people")
    report = Report(Status.SUCCEEDED, video_url="gs://b/0.mp4", more_videos=("gs://b/1.mp4",), error=removed)
    states = [lifecycle.apply_report(Task.objects.get(pk=t.pk), report) for t in (sender, *others)]
    assert states == [Task.State.ARCHIVING, Task.State.ARCHIVING, Task.State.BLOCKED]
    first, second, third = (Task.objects.get(pk=t.pk) for t in (sender, *others))
    assert (first.video_url, second.video_url) == ("gs://b/0.mp4", "gs://b/1.mp4")
    assert third.cost_charged == Decimal("0") and "safety filter removed the video: people" in third.error_message


def test_a_clip_drawn_with_others_says_so_and_its_final_says_what_it_cannot_keep(
    project, clients, draft_form, people, archived_clip
):
    sender, other = draw_together(clients["editor"], project, draft_form, count=2)
    page = clients["editor"].get(f"/projects/{project.pk}/").content.decode()
    assert (
        f'Clip 2 of one request, sent by <a href="/projects/{project.pk}/#task-{sender.pk}">draft #{sender.pk}</a>'
        in page
    )
    archived_clip(other)
    final, _created = lifecycle.promote(draft=Task.objects.get(pk=other.pk), user=people["editor"])
    assert final.seed == sender.seed and "The draft was clip 2 of one request" in final.carry_notes


def test_clips_whose_sender_was_followed_further_before_they_heard_are_followed_from_the_start(
    project, people, pending
):
    sender, other = pending(project, people["editor"]), pending(project, people["editor"])
    Task.objects.filter(pk=other.pk).update(sample_of=sender, sample_index=1)
    # The receipt was recorded and a tracker already took the sender to its video before the others heard.
    Task.objects.filter(pk=sender.pk).update(state=Task.State.ARCHIVING, provider_task_id="op", video_url="gs://b/0")
    assert lifecycle.samples_follow(sender.pk) == 1
    other.refresh_from_db()
    assert (other.state, other.provider_task_id, other.video_url) == (Task.State.QUEUED, "op", "")
    assert other.next_check_at is not None


def test_a_request_whose_clips_never_heard_of_it_is_handed_on_by_the_next_message_or_the_sweep(
    project, clients, draft_form, simulator
):
    sender, other = draw_together(clients["editor"], project, draft_form, count=2)
    # The worker recorded the receipt and died before handing it on.
    Task.objects.filter(pk=sender.pk).update(state=Task.State.QUEUED, provider_task_id="op-1")
    assert not lifecycle.submit(sender.pk)  # a second copy of its message sends nothing...
    other.refresh_from_db()
    assert (other.state, other.provider_task_id) == (Task.State.QUEUED, "op-1")  # ...and hands it on

    sender, other = draw_together(clients["editor"], project, draft_form, count=3, prompt="Terns")[2:4]
    Task.objects.filter(pk=sender.pk).update(state=Task.State.RUNNING, provider_task_id="op-2")
    tracker.sweep(enqueue=lambda kind, task_id: None)
    other.refresh_from_db()
    assert (other.state, other.provider_task_id) == (Task.State.QUEUED, "op-2")


def test_a_sender_taken_as_uncertain_by_the_sweep_and_settled_not_billed_takes_its_clips_along(
    project, clients, draft_form, people, simulator
):
    sender, other = draw_together(clients["editor"], project, draft_form, count=2)
    stale = sender.created_at - timedelta(hours=1)
    Task.objects.filter(pk=sender.pk).update(
        state=Task.State.SUBMITTING, submit_started_at=stale, request_sent_at=stale
    )
    lifecycle.mark_stale_submissions_uncertain()
    other.refresh_from_db()
    assert other.state == Task.State.UNCERTAIN
    lifecycle.settle_not_billed(sender.pk, by=people["owner"])
    other.refresh_from_db()
    assert other.state == Task.State.FAILED and other.cost_charged == Decimal("0")
    assert other.settled_by == people["owner"]


def test_trying_a_clip_of_a_request_again_draws_a_seed_of_its_own(project, clients, draft_form):
    sender, other = draw_together(clients["editor"], project, draft_form, count=2)
    Task.objects.filter(pk__in=[sender.pk, other.pk]).update(state=Task.State.FAILED)
    assert clients["editor"].post(f"/tasks/{other.pk}/send-again").status_code == 302
    again = Task.objects.exclude(pk__in=[sender.pk, other.pk]).get()
    assert again.seed != other.seed and not again.rides_along
