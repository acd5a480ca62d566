"""Money: with the queue's broker unreachable a Draft still answers, and its task is sent exactly once later.

The broker is a real Redis client pointed at a port nothing listens on, set
where django-q2 reads it (`django_q.conf.Conf`), so `async_task` fails the way
it does when Redis is down. The database is the truth: the task is committed
as pending, the page shows it, and the tracker's sweep sends it once the
message is known to be lost.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf

from studio.simulator.models import SimulatedJob, SimulatorRequest
from studio.tasks import lifecycle, tracker
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port() -> int:
    """A loopback port nothing listens on (taken from the kernel, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker_down():
    """django-q2's broker is Redis on a closed port until the test calls the returned `restore()`."""
    patch = pytest.MonkeyPatch()
    for name, value in {
        "BROKER_CLASS": None,
        "IRON_MQ": None,
        "SQS": None,
        "ORM": None,
        "MONGO": None,
        "DJANGO_REDIS": None,
        "REDIS": f"redis://127.0.0.1:{closed_port()}/0",
    }.items():
        patch.setattr(Conf, name, value)
    # The boundary really is down: what `async_task` will call fails as it does with Redis gone.
    with pytest.raises(redis.ConnectionError):
        get_broker().enqueue("ping")
    yield patch.undo
    patch.undo()


def sent_to_provider() -> tuple[int, int]:
    """(jobs the simulator accepted, submit POSTs it received)."""
    return SimulatedJob.objects.count(), SimulatorRequest.objects.filter(method="POST").count()


def test_a_draft_with_the_broker_down_answers_and_is_sent_once_when_it_returns(
    simulator, project, owner_client, draft_form, inline_queue, broker_down, caplog
):
    form = draft_form(prompt="Fog rolling over a harbour, slow tilt up", form_token="broker-down-1")
    answer = owner_client.post(f"/projects/{project.pk}/draft", form, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    task = Task.objects.get()
    assert task.state == Task.State.PENDING and task.provider_requests == 0
    assert f"could not queue task {task.pk}" in caplog.text  # the broker really refused it
    # The page shows the card waiting to send, not an error for a task that will be billed.
    assert f'id="task-{task.pk}"'.encode() in answer.content
    assert b'data-state="pending"' in answer.content and b'role="alert"' not in answer.content

    # The user, seeing no error, does not click again; if they did, it is the same task.
    again = owner_client.post(f"/projects/{project.pk}/draft", form)
    assert again.status_code == 302
    assert Task.objects.count() == 1 and sent_to_provider() == (0, 0)

    broker_down()  # the broker is back
    # A fresh task's message may still be on its way: the sweep leaves it alone for now.
    tracker.sweep(enqueue=inline_queue)
    assert inline_queue.jobs == [] and sent_to_provider() == (0, 0)

    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - tracker.LOST_SUBMIT_AFTER - timedelta(seconds=1))
    tracker.sweep(enqueue=inline_queue)
    assert inline_queue.jobs == [("submit", task.pk)]
    assert sent_to_provider() == (1, 1)
    task.refresh_from_db()
    assert task.state == Task.State.QUEUED and task.provider_requests == 1
    assert task.provider_task_id == SimulatedJob.objects.get().id

    # Nothing more is sent: not by the next sweeps, not by a late copy of the lost message.
    for _ in range(2):
        tracker.sweep(enqueue=inline_queue)
    assert lifecycle.submit(task.pk) is False
    assert inline_queue.jobs == [("submit", task.pk)] and sent_to_provider() == (1, 1)


def test_a_plain_form_draft_with_the_broker_down_redirects_to_the_page_showing_it_pending(
    simulator, project, owner_client, draft_form, broker_down
):
    answer = owner_client.post(f"/projects/{project.pk}/draft", draft_form(form_token="broker-down-2"))
    assert answer.status_code == 302
    task = Task.objects.get()
    page = owner_client.get(answer["Location"])
    assert page.status_code == 200
    assert f'id="task-{task.pk}"'.encode() in page.content and b'data-state="pending"' in page.content
    assert sent_to_provider() == (0, 0)
