"""Money: a task is sent to its provider exactly once, whatever the workers do."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

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
    # What a killed worker leaves behind: claimed, maybe sent, nothing recorded.
    Task.objects.filter(pk=task.pk).update(
        state=Task.State.SUBMITTING, submit_started_at=timezone.now() - timedelta(minutes=5)
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
    assert task.state == Task.State.FAILED
    assert "Nothing was sent, so nothing was billed" in task.error_message


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
