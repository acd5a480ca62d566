"""Money: an uncertain submission is settled by an owner, both ways, and only by an owner."""

from __future__ import annotations

import pytest

from studio.simulator.models import SimulatedJob
from studio.tasks import budgets, lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def uncertain_after_sending(task: Task) -> str:
    """Send it for real, then lose the receipt, as a worker killed mid-answer would: the provider's id."""
    assert lifecycle.submit(task.pk)
    job_id = Task.objects.get(pk=task.pk).provider_task_id
    Task.objects.filter(pk=task.pk).update(state=Task.State.UNCERTAIN, provider_task_id="", error_message="…")
    return job_id


def settle(client, task: Task, **fields):
    return client.post(f"/tasks/{task.pk}/settle", fields, follow=True)


def test_found_at_the_provider_the_task_is_followed_to_its_clip(
    simulator, project, people, pending_task, owner_client, run_worker
):
    task = pending_task(project, people["owner"])
    job_id = uncertain_after_sending(task)
    answer = settle(owner_client, task, found="yes", provider_task_id=f"  {job_id} ")
    assert "found at the provider, now followed" in answer.content.decode()
    task.refresh_from_db()
    assert task.state == Task.State.QUEUED and task.provider_task_id == job_id
    assert task.settled_by == people["owner"] and task.settled_at is not None
    (done,) = run_worker(task.pk)
    assert done.state == Task.State.DONE and done.has_clip
    assert SimulatedJob.objects.count() == 1  # followed, never sent again


def test_not_at_the_provider_it_ends_not_billed_and_releases_its_hold(
    simulator, project, people, pending_task, owner_client
):
    task = pending_task(project, people["owner"])
    Task.objects.filter(pk=task.pk).update(state=Task.State.UNCERTAIN)
    assert budgets.standing(project, people["owner"]).spent == 0  # no budget: nothing counted
    held_before = budgets.held(project)
    assert held_before == task.cost_estimate
    answer = settle(owner_client, task, found="no")
    assert "not at the provider, not billed" in answer.content.decode()
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.cost_charged == 0 and task.cost_label == "not billed"
    assert "Settled by owner: the provider has no such job" in task.error_message
    assert budgets.held(project) == 0


@pytest.mark.parametrize("role", ["editor", "reviewer", "viewer"])
def test_only_owners_settle(simulator, project, people, pending_task, clients, role):
    task = pending_task(project, people["owner"])
    Task.objects.filter(pk=task.pk).update(state=Task.State.UNCERTAIN)
    assert clients[role].post(f"/tasks/{task.pk}/settle", {"found": "no"}).status_code == 403
    assert clients["outsider"].post(f"/tasks/{task.pk}/settle", {"found": "no"}).status_code == 404
    assert Task.objects.get(pk=task.pk).state == Task.State.UNCERTAIN


@pytest.mark.parametrize("bad_id", ["", "has space", "x" * 201])
def test_a_bad_job_id_changes_nothing_and_says_why(simulator, project, people, pending_task, owner_client, bad_id):
    task = pending_task(project, people["owner"])
    Task.objects.filter(pk=task.pk).update(state=Task.State.UNCERTAIN)
    answer = settle(owner_client, task, found="yes", provider_task_id=bad_id)
    assert "Paste the job&#x27;s id from the provider&#x27;s dashboard" in answer.content.decode()
    assert Task.objects.get(pk=task.pk).state == Task.State.UNCERTAIN


def test_a_task_no_longer_uncertain_cannot_be_settled(simulator, project, people, pending_task, owner_client):
    task = pending_task(project, people["owner"])
    answer = settle(owner_client, task, found="no")
    assert "no longer uncertain; nothing changed" in answer.content.decode()
    assert Task.objects.get(pk=task.pk).state == Task.State.PENDING
