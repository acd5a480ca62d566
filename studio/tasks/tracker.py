"""The tracker: a long-lived loop that follows every task in flight at its route's cadence.

It runs in a django-q2 cluster of its own (settings.TRACKER_CLUSTER), so it
never waits in line behind a submit or an archive, in the manner of
healthchecks' `sendalerts`: claim what is due, act, sleep briefly, again.

- Polls run concurrently on asynchronous HTTP clients (httpx.AsyncClient, on
  an event loop in a thread of the loop's own), so a hundred can wait on a slow
  provider at once without a thread each. They are spread over small
  connection pools (see CONNECTIONS) because one large httpcore pool costs the
  loop CPU in proportion to its size on every request.
- The loop itself only talks to the database: it claims due tasks in batches
  (one statement, see `lifecycle.claim_due_checks`) and records their answers
  in bulk; a record is fenced by the claim it answers, so a loop that was too
  slow never overwrites a newer claim. A poll that could not be sent in the
  first half of its claim is not sent late, and one still unanswered just
  before its claim lapses is abandoned: either way its task is handed back,
  due at once, and no two polls of one task are ever out at once.
- Any number of loops, in any number of tracker clusters on any number of
  machines, share the due tasks: a claim moves a task's next check one poll
  lease ahead, so no two loops poll it at once, and a loop killed mid-poll
  delays its tasks by that lease (12 s), never strands them.
- Every worker of a tracker cluster runs runs of the loop one after another
  from the moment it starts (django-q2's `post_spawn`), each run ending after
  `settings.TRACKER_RUN_S` (fresh connections, fresh memory); a worker that
  dies is replaced by django-q2's sentinel within its guard cycle, and the new
  worker starts tracking at once.
- The sweep (once a second) picks up what a lost queue message or a killed
  submit or archive worker left behind, and only that: each message's task
  records when it was queued, and only one still waiting after
  `settings.LOST_MESSAGE_AFTER_S` is queued again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F, Q
from django.utils import timezone

from studio.providers.base import ErrorKind, ProviderError, Report, tls_settings

from . import lifecycle
from .models import Task, WorkerLease

log = logging.getLogger(__name__)
State = Task.State

Enqueue = Callable[[str, int], None]

# Each running loop keeps a row "tracker:<id>" alive; `is_tracking` looks for one.
LOOP_PREFIX = "tracker:"
HEARTBEAT = timedelta(seconds=15)
HEARTBEAT_EVERY_S = 5.0
# While no loop is alive, the warning that says so is logged at most this often.
KICK_NAME = "kick:tracker"
KICK_EVERY = timedelta(seconds=15)
# Requests open at once per loop (each on a kept-alive connection): at a provider's 200 ms that is
# 500 polls a second. They are spread over small clients of POOL_SIZE connections each: httpcore
# (1.0) looks over every connection of a pool, for every idle one, whenever a request starts or
# ends (and asks the socket of each idle one whether the server hung up), so one pool of a hundred
# cost the loop 30 ms of CPU per poll where small pools cost well under one.
CONNECTIONS = 96
POOL_SIZE = 6
# Tasks claimed and not yet answered, per loop: enough to keep every connection busy, few enough
# that what one loop cannot send at once stays due in the database, where another loop takes it.
MAX_IN_FLIGHT = 2 * CONNECTIONS
CLAIM_BATCH = 200
# A poll not sent within this much of its claim is not sent at all: the task is handed back, due at
# once. Its claim lapses at POLL_CLAIM, when another loop may take it, so a late poll could otherwise
# reach the provider moments before that loop's. The claim's own time (Task.claimed_until) decides;
# this also bounds a batch the loop was slow to hand over.
SEND_WITHIN_S = lifecycle.POLL_CLAIM.total_seconds() / 2
# A poll still unanswered this long before its claim lapses is abandoned and its task handed back.
LAPSE_MARGIN_S = 1.0


def _seconds_left(task: Task) -> float:
    """Seconds until the task's claim lapses (a task polled outside a claim has a whole lease)."""
    if task.claimed_until is None:
        return lifecycle.POLL_CLAIM.total_seconds()
    return (task.claimed_until - timezone.now()).total_seconds()


# With nothing due and no answer in, the loop looks again this often.
IDLE_WAIT_S = 0.25
# A pass runs at most this often (unless a claim came back full): answers are
# written, and due tasks claimed, in batches rather than one statement each.
PASS_EVERY_S = 0.1
SWEEP_EVERY_S = 1.0
# A pending task whose submit message was never known to be queued (the broker
# refused it) is sent after this; one whose message was queued waits
# LOST_MESSAGE_AFTER_S (see `queue.enqueue_job`).
LOST_SUBMIT_AFTER = timedelta(seconds=10)


# --- Loops alive ----------------------------------------------------------------------------------------------


def beat(loop_id: str) -> None:
    holder = f"{socket.gethostname()[:40]}:{os.getpid()}"
    WorkerLease.objects.update_or_create(
        name=LOOP_PREFIX + loop_id, defaults={"holder": holder, "expires_at": timezone.now() + HEARTBEAT}
    )


def stop_beating(loop_id: str) -> None:
    WorkerLease.objects.filter(name=LOOP_PREFIX + loop_id).delete()


def is_tracking() -> bool:
    """Whether some tracking loop, anywhere, has shown it is alive within its heartbeat."""
    return WorkerLease.objects.filter(name__startswith=LOOP_PREFIX, expires_at__gte=timezone.now()).exists()


def take_kick() -> bool:
    """One kick per KICK_EVERY across the deployment: a conditional UPDATE decides who sends it."""
    now = timezone.now()
    WorkerLease.objects.get_or_create(name=KICK_NAME, defaults={"expires_at": now})
    return bool(WorkerLease.objects.filter(name=KICK_NAME, expires_at__lte=now).update(expires_at=now + KICK_EVERY))


def has_live_work() -> bool:
    return Task.objects.filter(state__in=Task.LIVE_STATES).exists()


# --- The loop -------------------------------------------------------------------------------------------------


class Stats:
    """What a run did, for its log line and the bench: polls made, database queries, time spent."""

    def __init__(self) -> None:
        self.polls = self.queries = self.claims = self.unsent = 0
        self.started = time.monotonic()

    def count_query(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def line(self, loop_id: str) -> str:
        seconds = time.monotonic() - self.started
        per_poll = self.queries / self.polls if self.polls else 0.0
        return (
            f"tracker {loop_id} pid {os.getpid()}: {self.polls} polls in {seconds:.0f} s "
            f"({self.polls / max(seconds, 0.001):.1f}/s), {self.claims} claims, "
            f"{self.unsent} handed back (not sent or answered in time), "
            f"{self.queries} queries ({per_poll:.2f} per poll)"
        )


def run_forever(*, enqueue: Enqueue) -> None:
    """Run after run, until this process is told to stop (SIGTERM); a run that fails is followed by another.

    A tracker cluster's worker runs this as it starts (`queue.start_worker`).
    """
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    while not stopping.is_set():
        try:
            run(enqueue=enqueue, stop=stopping)
        except Exception:
            log.exception("a tracking run failed; starting another")
            close_old_connections()
            stopping.wait(1.0)


def run(
    *,
    enqueue: Enqueue,
    run_for_s: float | None = None,
    until_idle: bool = False,
    stop: threading.Event | None = None,
) -> bool:
    """Follow every task in flight for `run_for_s` seconds (settings.TRACKER_RUN_S by default).

    `enqueue(kind, task_id)` hands submits and archives to their queues
    (`queue.enqueue_job`; an inline runner in tests). With `until_idle` the run
    also ends once nothing is live, and it ends early once `stop` is set.
    Returns whether live work remains.
    """
    loop_id = uuid.uuid4().hex[:16]
    deadline = time.monotonic() + (settings.TRACKER_RUN_S if run_for_s is None else run_for_s)
    stats = Stats()
    next_beat = next_sweep = next_report = 0.0
    with connection.execute_wrapper(stats.count_query), Poller(name=loop_id) as poller:
        try:
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                now = time.monotonic()
                next_pass = now + PASS_EVERY_S
                if now >= next_beat:
                    close_old_connections()  # honours CONN_MAX_AGE and health checks in a long run
                    beat(loop_id)
                    next_beat = now + HEARTBEAT_EVERY_S
                if now >= next_sweep:
                    sweep(enqueue=enqueue)
                    next_sweep = now + SWEEP_EVERY_S
                if now >= next_report:
                    if stats.polls:
                        log.info(stats.line(loop_id))
                    next_report = now + 30.0
                answered = record(poller.answered(), enqueue=enqueue, stats=stats)
                asked = min(CLAIM_BATCH, MAX_IN_FLIGHT - poller.in_flight)
                claimed = lifecycle.claim_due_checks(limit=asked)
                if claimed:
                    stats.claims += 1
                    poller.start(claimed, send_by=time.monotonic() + SEND_WITHIN_S)
                if until_idle and not poller.in_flight and not has_live_work():
                    return False
                if len(claimed) < asked or asked <= 0:  # nothing more due now, or no room: wait a little
                    if not answered:
                        poller.wait(IDLE_WAIT_S)
                    time.sleep(max(0.0, next_pass - time.monotonic()))
            # Answers still on their way are recorded before the run ends, so
            # the next run does not wait out their poll leases.
            poller.wait_all(lifecycle.POLL_TIMEOUT.read or 8.0)
            record(poller.answered(), enqueue=enqueue, stats=stats)
        finally:
            log.info(stats.line(loop_id))
            stop_beating(loop_id)
    return has_live_work()


def record(answers: list[tuple[Task, Report | ProviderError | None]], *, enqueue: Enqueue, stats: Stats) -> int:
    """Write a batch of answers; a None answer is a poll not sent or not answered in time: its task is handed back."""
    if not answers:
        return 0
    polled = [(task, answer) for task, answer in answers if answer is not None]
    if unsent := [task for task, answer in answers if answer is None]:
        stats.unsent += len(unsent)
        lifecycle.release_claims(unsent)
    stats.polls += len(polled)
    for task_id in lifecycle.apply_reports(polled):
        enqueue("archive", task_id)
    return len(answers)


class Poller:
    """Polls in flight on an asyncio event loop in a thread of its own; answers come back through a queue.

    Only `start`, `answered`, `wait` and `wait_all` are called from the loop's
    thread; the event loop's thread never touches the database.
    """

    def __init__(self, *, name: str = "", connections: int = CONNECTIONS) -> None:
        # Sent with every poll (X-Dailies-Tracker), so a provider's log tells the loops apart.
        self.name = f"{socket.gethostname()}:{os.getpid()}:{name}"
        self.in_flight = 0
        self._connections = connections
        # One token per connection, naming its client: a poll takes one, so no client ever has a
        # request waiting inside its pool (where httpcore scans the queue too).
        self._free: asyncio.Queue[httpx.AsyncClient] | None = None
        self._clients: list[httpx.AsyncClient] = []
        self._answers: queue.SimpleQueue[tuple[Task, Report | ProviderError | None]] = queue.SimpleQueue()
        self._arrived = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tracker-polls", daemon=True)
        # asyncio holds tasks weakly: a poll nobody references could be collected mid-flight and its
        # answer never come back.
        self._polls: set[asyncio.Task] = set()

    def __enter__(self) -> Poller:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result()
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _open(self) -> None:
        self._free = asyncio.Queue()
        certificates = tls_settings()  # read once per process, not once per client
        for _ in range(max(1, self._connections // POOL_SIZE)):
            client = httpx.AsyncClient(
                timeout=lifecycle.POLL_TIMEOUT,
                follow_redirects=True,
                headers={"User-Agent": "Dailies/0.1", "X-Dailies-Tracker": self.name},
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
                verify=certificates,
            )
            self._clients.append(client)
        for _ in range(POOL_SIZE):  # round after round, so every client's connections stay warm
            for client in self._clients:
                self._free.put_nowait(client)

    async def _close(self) -> None:
        pending = [t for t in asyncio.all_tasks(self._loop) if t is not asyncio.current_task()]
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for client in self._clients:
            await client.aclose()

    def start(self, tasks: list[Task], *, send_by: float | None = None) -> None:
        """Poll each task, unless it cannot be sent before `send_by` (time.monotonic()): then its answer is None."""
        self.in_flight += len(tasks)
        # One wake-up of the event loop for the batch, not one per task.
        self._loop.call_soon_threadsafe(self._begin, tasks, send_by)

    def _begin(self, tasks: list[Task], send_by: float | None) -> None:
        for task in tasks:
            poll = self._loop.create_task(self._poll(task, send_by))
            self._polls.add(poll)
            poll.add_done_callback(self._polls.discard)

    async def _poll(self, task: Task, send_by: float | None) -> None:
        assert self._free is not None
        report: Report | ProviderError | None = None
        if self._may_send(task, send_by):
            client = await self._free.get()
            try:
                if self._may_send(task, send_by):
                    # Abandoned (its connection closed) if still unanswered just before the claim lapses,
                    # when another loop may take the task: never two polls of one task at once.
                    async with asyncio.timeout(_seconds_left(task) - LAPSE_MARGIN_S):
                        report = await lifecycle.fetch_report_async(task, client)
            except TimeoutError:
                report = None
            except Exception as exc:  # a route's bug must not end the loop: the task is looked at again
                log.exception("poll of task %s failed", task.pk)
                why = f"Could not read the provider's answer ({type(exc).__name__})"
                report = ProviderError(ErrorKind.BAD_ANSWER, why)
            finally:
                self._free.put_nowait(client)
        self._answers.put((task, report))
        self._arrived.set()

    @staticmethod
    def _may_send(task: Task, send_by: float | None) -> bool:
        """Only in the first half of the task's claim (and before `send_by`), so an answer has time to come."""
        if send_by is not None and time.monotonic() >= send_by:
            return False
        return _seconds_left(task) > lifecycle.POLL_CLAIM.total_seconds() / 2

    def answered(self) -> list[tuple[Task, Report | ProviderError | None]]:
        self._arrived.clear()
        answers = []
        while True:
            try:
                answers.append(self._answers.get_nowait())
            except queue.Empty:
                break
        self.in_flight -= len(answers)
        return answers

    def wait(self, timeout: float) -> None:
        """Until an answer arrives or `timeout` passes."""
        self._arrived.wait(timeout)

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.in_flight > self._answers.qsize() and time.monotonic() < deadline:
            self._arrived.wait(0.05)
            self._arrived.clear()


# --- One pass, synchronously (tests, and the provider tests' own runs) ----------------------------------------


def step(*, pool: ThreadPoolExecutor, http: httpx.Client, enqueue: Enqueue) -> int:
    """One pass: sweep, then poll everything due on `pool`. Returns how many tasks were polled."""
    sweep(enqueue=enqueue)
    due = lifecycle.claim_due_checks(limit=CLAIM_BATCH)
    if not due:
        return 0
    reports = list(pool.map(lambda task: lifecycle.fetch_report(task, http), due))
    for task_id in lifecycle.apply_reports(list(zip(due, reports, strict=True))):
        enqueue("archive", task_id)
    return len(due)


# --- The sweep ------------------------------------------------------------------------------------------------


def sweep(*, enqueue: Enqueue) -> None:
    """Queue again only what is really lost: work whose message waited past its time, or whose worker died.

    A pending task's `lease_until` and an archiving task's `next_check_at` say
    until when its queued message may still be on its way (`queue.enqueue_job`
    and `lifecycle.apply_report` set them as they queue it; the workers move
    them as they take it up). Queueing it again pushes that time ahead by the
    same grace, so one lost message makes one copy, however often this runs.
    """
    lifecycle.mark_stale_submissions_uncertain()
    now = timezone.now()
    grace = lifecycle.lost_message_after()
    # Pending tasks whose submit message was never queued (the broker refused it) or waited past
    # its grace, and those whose wait after a rate limit (the provider's Retry-After) is over: those
    # are sent the moment it passes, not at the next lost-message sweep.
    stale_pending = (
        # A clip riding on another's request is never sent itself (its sender is).
        Task.objects.filter(state=State.PENDING, sample_of__isnull=True)
        .filter(Q(next_check_at__isnull=True, created_at__lt=now - LOST_SUBMIT_AFTER) | Q(next_check_at__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    )
    # Clips riding on a request whose sender's submission settled without handing it on (its worker died
    # between the two statements): handed on now.
    stranded = (
        Task.objects.filter(state__in=[State.PENDING, State.UNCERTAIN], sample_of__isnull=False)
        .exclude(sample_of__state__in=[State.PENDING, State.SUBMITTING])
        .exclude(sample_of__state=F("state"))
        .values_list("sample_of_id", flat=True)
        .distinct()
    )
    for sender_id in list(stranded[:100]):
        lifecycle.samples_follow(sender_id)
    for task_id, held in stale_pending.values_list("pk", "lease_until")[:100]:
        # submit() claims the task itself, so a duplicate message is harmless.
        if Task.objects.filter(pk=task_id, state=State.PENDING, lease_until=held).update(lease_until=now + grace):
            enqueue("submit", task_id)
    # Clips whose archive message waited past its grace, or whose worker died mid-download.
    stale_archives = Task.objects.filter(state=State.ARCHIVING, next_check_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    for task_id, check_at in stale_archives.values_list("pk", "next_check_at")[:100]:
        if Task.objects.filter(pk=task_id, state=State.ARCHIVING, next_check_at=check_at).update(
            next_check_at=now + grace
        ):
            enqueue("archive", task_id)
