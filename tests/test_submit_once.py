"""Money: a task is sent to its provider exactly once, whatever the workers do."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from studio.providers.base import ErrorKind, ProviderError
from studio.providers.videos_gateway.adapter import VideosGateway
from studio.simulator.models import SimulatorRequest
from studio.tasks import lifecycle, tracker
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def submits() -> int:
    return SimulatorRequest.objects.filter(method="POST").count()


def test_two_workers_racing_for_one_task_submit_it_once(simulator, project, people, pending_task):
    task = pending_task(project, people["owner"])
    barrier = threading.Barrier(4)
    results = []

    def worker():
        barrier.wait()
        try:
            results.append(lifecycle.submit(task.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert submits() == 1
    task.refresh_from_db()
    assert task.state == Task.State.QUEUED and task.provider_task_id.startswith("task_")


def test_a_queued_task_is_never_submitted_again(simulator, project, people, pending_task):
    task = pending_task(project, people["owner"])
    assert lifecycle.submit(task.pk) is True
    assert lifecycle.submit(task.pk) is False
    assert submits() == 1


def test_a_worker_dying_mid_submit_leaves_it_uncertain_and_never_resends(
    simulator, project, people, pending_task, inline_queue
):
    task = pending_task(project, people["owner"])
    # What a worker killed after its request left behind: claimed, stamped sent, no answer recorded.
    long_ago = timezone.now() - timedelta(minutes=5)
    Task.objects.filter(pk=task.pk).update(
        state=Task.State.SUBMITTING, submit_started_at=long_ago, request_sent_at=long_ago
    )
    tracker.sweep(enqueue=inline_queue)
    task.refresh_from_db()
    assert task.state == Task.State.UNCERTAIN
    assert "will not send it again on its own" in task.error_message
    for _ in range(3):
        tracker.sweep(enqueue=inline_queue)
        lifecycle.submit(task.pk)
    assert submits() == 0 and inline_queue.jobs == []


def silent_server() -> tuple[str, threading.Thread]:
    """A provider that reads the request and hangs up without answering."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread


def test_a_submit_with_no_answer_is_uncertain_not_retried(people, media, pending_task, make_project):
    url, thread = silent_server()
    project = make_project(people, base_url=url)
    task = pending_task(project, people["owner"])
    assert lifecycle.submit(task.pk) is True
    thread.join(5)
    task.refresh_from_db()
    assert task.state == Task.State.UNCERTAIN
    assert "No answer from the provider after sending" in task.error_message
    assert lifecycle.submit(task.pk) is False


def test_an_unreachable_provider_fails_saying_nothing_was_sent(people, media, pending_task, make_project):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens here now
    project = make_project(people, base_url=f"http://127.0.0.1:{port}")
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.cost_charged == 0
    assert "Not sent" in task.error_message and "Nothing was sent, so nothing was billed" in task.error_message


def test_a_lost_submit_message_is_picked_up_by_the_sweep(simulator, project, people, pending_task, inline_queue):
    task = pending_task(project, people["owner"])
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    tracker.sweep(enqueue=inline_queue)
    tracker.sweep(enqueue=inline_queue)  # a second sweep right after must not queue it again
    assert inline_queue.jobs == [("submit", task.pk)]
    task.refresh_from_db()
    assert task.state == Task.State.QUEUED and submits() == 1


def test_a_wrong_key_fails_in_plain_words(people, simulator, media, pending_task, make_project):
    project = make_project(people, key="not-a-sim-key")
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.error_code == "auth"
    assert "rejected the API key" in task.error_message and "Nothing was billed" in task.error_message


def test_a_worker_dying_before_its_request_left_is_sent_once_and_not_called_uncertain(
    simulator, project, people, pending_task, inline_queue
):
    task = pending_task(project, people["owner"])
    # Killed between claiming and sending: never stamped, so provably never sent.
    Task.objects.filter(pk=task.pk).update(
        state=Task.State.SUBMITTING, submit_started_at=timezone.now() - timedelta(minutes=5)
    )
    lifecycle.mark_stale_submissions_uncertain()
    task.refresh_from_db()
    assert task.state == Task.State.PENDING and task.error_message == ""
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    tracker.sweep(enqueue=inline_queue)
    tracker.sweep(enqueue=inline_queue)
    task.refresh_from_db()
    assert task.state == Task.State.QUEUED and submits() == 1
    assert task.request_sent_at is not None


def test_a_stalled_worker_whose_task_was_taken_back_sends_nothing(
    simulator, project, people, pending_task, monkeypatch
):
    task = pending_task(project, people["owner"])
    real_request = lifecycle.video_request

    def stall_then_lose_the_claim(t):
        # While this worker was busy preparing, a sweeper gave the task back to the queue.
        Task.objects.filter(pk=t.pk).update(state=Task.State.PENDING, submit_started_at=None)
        return real_request(t)

    monkeypatch.setattr(lifecycle, "video_request", stall_then_lose_the_claim)
    assert lifecycle.submit(task.pk) is False
    assert submits() == 0
    task.refresh_from_db()
    assert task.state == Task.State.PENDING


def test_a_dns_failure_is_not_sent_and_not_billed(people, media, pending_task, make_project):
    project = make_project(people, base_url="http://no-such-host.invalid")
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.cost_charged == 0
    assert task.error_message.startswith("Not sent: could not reach the provider")
    assert "nothing was billed" in task.error_message


def test_a_failure_while_preparing_the_request_is_not_sent_and_not_billed(
    simulator, project, people, pending_task, monkeypatch
):
    task = pending_task(project, people["owner"])

    def unreadable(t):
        raise OSError("first frame missing from storage")

    monkeypatch.setattr(lifecycle, "video_request", unreadable)
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.cost_charged == 0
    assert "Not sent: OSError while preparing the request" in task.error_message
    assert submits() == 0


def test_a_rate_limited_submit_is_sent_when_retry_after_passes_not_at_the_next_sweep(
    simulator, project, people, pending_task, inline_queue
):
    task = pending_task(project, people["owner"])
    # What a 429 with Retry-After: 1 leaves: pending again, its wait recorded, created just now.
    Task.objects.filter(pk=task.pk).update(next_check_at=timezone.now() + timedelta(seconds=1))
    tracker.sweep(enqueue=inline_queue)
    assert inline_queue.jobs == []
    Task.objects.filter(pk=task.pk).update(next_check_at=timezone.now() - timedelta(milliseconds=1))
    tracker.sweep(enqueue=inline_queue)
    assert inline_queue.jobs == [("submit", task.pk)]
    task.refresh_from_db()
    assert task.state == Task.State.QUEUED and submits() == 1


def test_the_tracker_resends_a_rate_limited_submit_as_soon_as_retry_after_allows(
    simulator, project, people, pending_task, inline_queue
):
    # The simulator answers every "#ratelimit" submit 429 with Retry-After: 1.
    task = pending_task(project, people["owner"], text="Busy harbour #ratelimit")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.PENDING and "Sending again in 1 s; nothing was billed" in task.error_message
    tracker.run(enqueue=inline_queue, run_for_s=2.6)
    # Sent again about every second (not after the 10 s lost-message sweep), each refused, none billed.
    assert 3 <= submits() <= 4
    assert inline_queue.jobs[:2] == [("submit", task.pk), ("submit", task.pk)]


def test_an_answer_to_a_submit_that_cannot_be_read_is_uncertain_never_failed_or_sent_again(
    project, people, pending_task, monkeypatch
):
    def unreadable(self, http, account, request):
        # As a route does when the provider said 200 with a body it cannot read: the job may exist.
        raise ProviderError(ErrorKind.BAD_ANSWER, "The provider answered HTTP 200 with something that is not JSON")

    monkeypatch.setattr(VideosGateway, "submit", unreadable)
    task = pending_task(project, people["owner"])
    assert lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.UNCERTAIN and task.error_code == "uncertain"
    assert "answer could not be read" in task.error_message and "will not send it again" in task.error_message
    assert not lifecycle.submit(task.pk)
