"""Tracking at scale (issue 12): N tasks in flight on a load fake, followed by the real worker processes.

Puts `--tasks` tasks in flight through the real submit path (`lifecycle.new_task`, then `queue.enqueue_job`,
as the Draft view does; the main cluster's workers send them) against bench/load_provider.py, with the real
clusters running as `make run` starts them: the main cluster (submits), the archive cluster and
`--trackers` tracker clusters (`manage.py qcluster` with Q_CLUSTER_NAME=<name>, <name>-archive,
<name>-tracker). Then, unless --no-naive, the one-loop-per-operation pattern (bench/one_loop_per_operation.py)
follows the same number of jobs on the same fake, and both are printed side by side:

- poll gap p50/p99 (between consecutive polls of a job, from the fake's log) against the route's cadence;
- provider said done (the first poll answered "success") → archived, p50/p99; and render end → archived;
- polls/s reached (busiest 30 s) vs needed (tasks / cadence);
- CPU seconds and peak RSS (VmHWM) of every process;
- database queries per poll (the tracking loops' own count);
- tasks polled by more than one tracker within half a cadence (double polls), and tasks not done (stuck);
- what archiving cost per second of video (probe, poster), from the archive workers' log.

    .venv/bin/python bench/tracking_at_scale.py --tasks 200 --render-s 60          # SQLite + ORM broker
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/tracking_at_scale.py --tasks 1000 --render-s 120 --latency-ms 200

With DATABASE_URL a throwaway database is made beside the one named and dropped afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_provider import sample_video
from submit_burst import drop_database, forget_queue, free_port, open_database, throwaway_database

BASE_DIR = Path(__file__).resolve().parent.parent
CADENCE_S = 10.0  # route 4's documented 10–15 s, as its adapter asks


# --- Processes and what they cost ------------------------------------------------------------------------------


@dataclass
class Started:
    role: str
    process: subprocess.Popen
    log: Path


@dataclass
class Usage:
    """CPU seconds and peak RSS per pid, sampled while the run lasts (workers may be replaced)."""

    cpu: dict[int, float] = field(default_factory=dict)
    peak_kib: dict[int, int] = field(default_factory=dict)
    title: dict[int, str] = field(default_factory=dict)
    group: dict[int, str] = field(default_factory=dict)

    def sample(self, groups: dict[int, str]) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                pgrp = int(stat[2])
                if pgrp not in groups:
                    continue
                pid = int(entry.name)
                self.cpu[pid] = (int(stat[11]) + int(stat[12])) / tick
                status = (entry / "status").read_text()
                hwm = re.search(r"VmHWM:\s+(\d+)", status)
                self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), int(hwm.group(1)) if hwm else 0)
                self.title[pid] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:70]
                self.group[pid] = groups[pgrp]
            except (OSError, IndexError, ValueError):
                continue


def start(role: str, command: list[str], *, env: dict[str, str], folder: Path) -> Started:
    log = folder / f"{role}.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Started(role, process, log)


def stop(started: list[Started]) -> None:
    for one in started:
        try:
            os.killpg(one.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        one.process.wait(10)


def sampling(usage: Usage, started: list[Started], stop_event: threading.Event) -> threading.Thread:
    def run() -> None:
        while not stop_event.wait(1.0):
            usage.sample({one.process.pid: one.role for one in started})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# --- Figures from the fake's log ------------------------------------------------------------------------------


@dataclass
class Line:
    at: float
    method: str
    path: str
    who: str
    said: str


def read_log(path: Path) -> list[Line]:
    lines = []
    for raw in path.read_text().splitlines():
        parts = raw.split(" ")
        if len(parts) == 6:
            lines.append(Line(float(parts[0]), parts[1], parts[2], parts[4], parts[5]))
    return lines


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Figures:
    label: str
    tasks: int
    gaps: list[float]
    said_done_to_archived: list[float]
    render_end_to_archived: list[float]
    polls_per_s: float
    needed_per_s: float
    double_polls: int
    polled_by_several: int
    stuck: int
    in_flight_after_s: float | None = None
    peak_in_flight: int | None = None
    queries_per_poll: float | None = None
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)


def poll_figures(lines: list[Line], *, who: re.Pattern, cadence: float) -> tuple[list[float], float, int, int, dict]:
    """(gaps, busiest-30-s polls/s, double polls, jobs polled by more than one poller, first success per job)."""
    by_job: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        if line.method == "GET" and not line.path.endswith("/content") and who.search(line.who):
            by_job[line.path.rsplit("/", 1)[1]].append(line)
    gaps, doubles, several, said_done = [], 0, 0, {}
    for job, polls in by_job.items():
        polls.sort(key=lambda line: line.at)
        running = [p for p in polls if p.said != "success"]
        if first_success := next((p for p in polls if p.said == "success"), None):
            said_done[job] = first_success.at
            running.append(first_success)
        for a, b in itertools.pairwise(running):
            gaps.append(b.at - a.at)
            if b.at - a.at < cadence / 2 and a.who != b.who:
                doubles += 1
        # By process (host:pid): successive runs of the loop in one worker are one poller.
        several += len({p.who.rsplit(":", 1)[0] for p in polls}) > 1
    times = sorted(line.at for polls in by_job.values() for line in polls)
    busiest, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] > 30:
            start += 1
        busiest = max(busiest, end - start + 1)
    return gaps, busiest / 30, doubles, several, said_done


# --- One run of Dailies' own workers --------------------------------------------------------------------------


def run_dailies(args, *, name: str, folder: Path, database_url: str, fake_url: str, fake_log: Path) -> Figures:
    from django.contrib.auth import get_user_model

    from studio.projects.models import Project
    from studio.prompts.models import Prompt
    from studio.providers.base import Tier
    from studio.providers.models import ProviderAccount
    from studio.tasks import lifecycle, queue
    from studio.tasks.models import Task, WorkerLease

    owner = get_user_model().objects.create_user(username=f"bench-{uuid.uuid4().hex[:6]}", password="x")
    project = Project.objects.create(name="Tracking at scale")
    account = ProviderAccount(project=project, label="Load fake", route="videos-gateway", base_url=fake_url)
    account.set_api_key("bench-key")
    account.save()
    project.draft_account = project.final_account = account
    project.save()
    version = Prompt.objects.create(project=project, title="load").record_version(
        text="A lighthouse at dusk, waves below", negative_prompt="", author=owner
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(folder / "media"),
        "Q_WORKERS": str(args.submit_workers),
        "Q_ARCHIVE_WORKERS": str(args.archive_workers),
        "LOG_LEVEL": "INFO",
    }
    clusters = [("submit", name), ("archive", f"{name}-archive")]
    clusters += [(f"tracker-{n + 1}", f"{name}-tracker") for n in range(args.trackers)]
    started = [
        start(role, [sys.executable, "manage.py", "qcluster"], env={**env, "Q_CLUSTER_NAME": q}, folder=folder)
        for role, q in clusters
    ]
    usage, stop_sampling = Usage(), threading.Event()
    sampler = sampling(usage, started, stop_sampling)
    try:
        deadline = time.monotonic() + 60
        while WorkerLease.objects.filter(name__startswith="tracker:").count() < args.trackers:
            if time.monotonic() > deadline:
                raise RuntimeError("the tracker clusters did not start their loops within 60 s")
            time.sleep(0.2)
        # The burst: every task created and its submit queued, as the Draft view does, as fast as it goes.
        burst = time.monotonic()
        ids = []
        parameters = {"duration_s": 8, "aspect_ratio": "16:9", "resolution": "720p", "audio": False}
        for _ in range(args.tasks):
            task = lifecycle.new_task(
                project=project,
                prompt_version=version,
                account=account,
                tier=Tier.FAST,
                kind="draft",
                parameters=parameters,
                seed=1,
                user=owner,
            )
            queue.enqueue_job("submit", task.pk)
            ids.append(task.pk)
        created_s = time.monotonic() - burst
        tasks = Task.objects.filter(pk__in=ids)
        in_flight_after, peak = None, 0
        while time.monotonic() - burst < 600 and in_flight_after is None:
            peak = max(peak, tasks.filter(state__in=Task.TRACKED_STATES).count())
            followed = (*Task.TRACKED_STATES, Task.State.ARCHIVING, Task.State.DONE)
            if tasks.filter(state__in=followed).count() == len(ids):
                in_flight_after = time.monotonic() - burst
            time.sleep(0.2)
        after = in_flight_after or float("nan")
        print(
            f"  {len(ids)} tasks created in {created_s:.1f} s; all in flight {after:.1f} s after the first", flush=True
        )
        if args.kill_after:
            time.sleep(args.kill_after)
            kill_a_loop(WorkerLease, fake_log)
        # Until every task is done, or the renders are over by `--settle-s` and what is left is stuck.
        end = time.monotonic() + args.render_s + args.settle_s
        while time.monotonic() < end and tasks.exclude(state=Task.State.DONE).exists():
            peak = max(peak, tasks.filter(state__in=Task.TRACKED_STATES).count())
            time.sleep(1)
        usage.sample({one.process.pid: one.role for one in started})
    finally:
        stop_sampling.set()
        sampler.join(5)
        loops = loop_lines(started)
        sentinels = {one.process.pid for one in started}
        stop(started)
        if os.environ.get("REDIS_URL"):
            for q in (name, f"{name}-archive", f"{name}-tracker"):
                forget_queue(os.environ["REDIS_URL"], q)
    lines = read_log(fake_log)
    gaps, per_s, doubles, several, said_done = poll_figures(lines, who=re.compile(r":"), cadence=CADENCE_S)
    done = {
        t.provider_task_id: (t.finished_at, t.request_sent_at)
        for t in Task.objects.filter(pk__in=ids, state=Task.State.DONE)
        if t.finished_at and t.request_sent_at
    }
    to_archived = [finished.timestamp() - said_done[job] for job, (finished, _) in done.items() if job in said_done]
    render_end = [(finished - sent).total_seconds() - args.render_s for finished, sent in done.values()]
    figures = Figures(
        label=f"Dailies ({args.trackers} tracker cluster{'s' if args.trackers > 1 else ''})",
        tasks=len(ids),
        gaps=gaps,
        said_done_to_archived=to_archived,
        render_end_to_archived=render_end,
        polls_per_s=per_s,
        needed_per_s=len(ids) / CADENCE_S,
        double_polls=doubles,
        polled_by_several=several,
        stuck=Task.objects.filter(pk__in=ids).exclude(state=Task.State.DONE).count(),
        in_flight_after_s=in_flight_after,
        peak_in_flight=peak,
        queries_per_poll=sum(q for _, q in loops.values()) / max(1, sum(p for p, _ in loops.values())),
    )
    loop_pids = {pid for one in started if one.role.startswith("tracker") for pid in loop_pids_in(one.log)}
    for pid, kib in usage.peak_kib.items():
        what = "the tracking loop" if pid in loop_pids else "sentinel" if pid in sentinels else "cluster process"
        key = f"{usage.group[pid]} pid {pid}: {what}"
        figures.peak_rss_mib[key] = kib / 1024
        figures.cpu_s[key] = usage.cpu.get(pid, 0.0)
    print_archive_costs(started)
    return figures


def loop_lines(started: list[Started]) -> dict[str, tuple[int, int]]:
    """Each tracking loop's last stats line: loop id → (polls, queries)."""
    loops: dict[str, tuple[int, int]] = {}
    pattern = re.compile(r"tracker (\w+) pid \d+: (\d+) polls in .*?, (\d+) queries")
    for one in started:
        if one.role.startswith("tracker") and one.log.exists():
            for match in pattern.finditer(one.log.read_text(errors="replace")):
                loops[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return loops


def loop_pids_in(log: Path) -> set[int]:
    return {int(pid) for pid in re.findall(r"tracker \w+ pid (\d+):", log.read_text(errors="replace"))}


def print_archive_costs(started: list[Started]) -> None:
    pattern = re.compile(
        r"archived task \d+: ([\d.]+) s of video, \d+ bytes; download ([\d.]+) s, probe ([\d.]+) s, "
        r"hash ([\d.]+) s, poster ([\d.]+) s, store ([\d.]+) s"
    )
    rows = []
    for one in started:
        if one.role == "archive" and one.log.exists():
            rows += [tuple(map(float, m.groups())) for m in pattern.finditer(one.log.read_text(errors="replace"))]
    if not rows:
        print("  archiving: no archive timings logged")
        return
    seconds = sum(r[0] for r in rows)
    names = ["download", "probe", "hash", "poster", "store"]
    costs = ", ".join(f"{n} {sum(r[i + 1] for r in rows) / seconds * 1000:.1f} ms" for i, n in enumerate(names))
    whole = statistics.median(sum(r[1:]) for r in rows)
    print(
        f"  archiving {len(rows)} clips ({seconds / len(rows):.0f} s each): per second of video {costs}; "
        f"median whole archive {whole:.2f} s",
        flush=True,
    )


def kill_a_loop(WorkerLease, fake_log: Path) -> None:
    from django.utils import timezone

    row = WorkerLease.objects.filter(name__startswith="tracker:", expires_at__gte=timezone.now()).first()
    pid = int(row.holder.rsplit(":", 1)[1])
    held = {line.path.rsplit("/", 1)[1] for line in read_log(fake_log) if line.who.endswith(row.name.split(":", 1)[1])}
    os.kill(pid, signal.SIGKILL)
    killed = time.time()
    deadline = time.monotonic() + 30
    replaced = None
    while time.monotonic() < deadline and replaced is None:
        if (
            WorkerLease.objects.filter(name__startswith="tracker:", expires_at__gte=timezone.now())
            .exclude(holder=row.holder)
            .exclude(name=row.name)
            .count()
            >= 1
        ):
            replaced = time.time() - killed
        time.sleep(0.1)
    time.sleep(16)
    lines = [line for line in read_log(fake_log) if line.at > killed and line.method == "GET"]
    again: dict[str, float] = {}
    for line in lines:
        job = line.path.rsplit("/", 1)[1]
        again.setdefault(job, line.at - killed)
    slowest = max((again.get(job, float("inf")) for job in held), default=float("nan"))
    print(
        f"  SIGKILL of tracker pid {pid}: new loop {replaced or float('nan'):.1f} s later; every task it had polled "
        f"({len(held)}) polled again within {slowest:.1f} s",
        flush=True,
    )


# --- The one-loop-per-operation pattern -------------------------------------------------------------------------


def run_naive(args, *, folder: Path, fake_url: str, fake_log: Path) -> Figures:
    one = start(
        "one-loop-per-operation",
        [
            sys.executable,
            "bench/one_loop_per_operation.py",
            "--base-url",
            fake_url,
            "--tasks",
            str(args.tasks),
            "--cadence",
            str(CADENCE_S),
            "--folder",
            str(folder / "naive"),
        ],
        env=dict(os.environ),
        folder=folder,
    )
    usage, stop_sampling = Usage(), threading.Event()
    sampler = sampling(usage, [one], stop_sampling)
    try:
        one.process.wait(timeout=args.render_s + args.settle_s + 120)
    except subprocess.TimeoutExpired:
        pass
    finally:
        stop_sampling.set()
        sampler.join(5)
        stop([one])
    lines = read_log(fake_log)
    gaps, per_s, doubles, several, said_done = poll_figures(lines, who=re.compile("one-loop"), cadence=CADENCE_S)
    downloads: dict[str, float] = {}
    for line in lines:
        if line.path.endswith("/content") and "one-loop" in line.who:
            downloads.setdefault(line.path.split("/")[3], line.at)
    to_archived = [downloads[job] - said_done[job] for job in downloads if job in said_done]
    figures = Figures(
        label="one loop per operation",
        tasks=args.tasks,
        gaps=gaps,
        said_done_to_archived=to_archived,
        render_end_to_archived=[],
        polls_per_s=per_s,
        needed_per_s=args.tasks / CADENCE_S,
        double_polls=doubles,
        polled_by_several=several,
        stuck=args.tasks - len(downloads),
    )
    for pid, kib in usage.peak_kib.items():
        key = f"{usage.group[pid]} pid {pid}"
        figures.peak_rss_mib[key] = kib / 1024
        figures.cpu_s[key] = usage.cpu.get(pid, 0.0)
    return figures


# --- The report ----------------------------------------------------------------------------------------------


def report(figures: list[Figures], args) -> None:
    print(
        f"\nTracking {args.tasks} tasks, render {args.render_s:.0f} s, provider response {args.latency_ms:.0f} ms, "
        f"cadence {CADENCE_S:.0f} s (route 4)\n"
    )
    width = 34
    print(" " * width + "".join(f"{f.label:>38}" for f in figures))

    def row(name: str, values: list[str]) -> None:
        print(f"{name:<{width}}" + "".join(f"{v:>38}" for v in values))

    row("poll gap p50 / p99 (s)", [f"{percentile(f.gaps, 50):.1f} / {percentile(f.gaps, 99):.1f}" for f in figures])
    row(
        "said done → archived p50 / p99 (s)",
        [
            f"{percentile(f.said_done_to_archived, 50):.1f} / {percentile(f.said_done_to_archived, 99):.1f}"
            for f in figures
        ],
    )
    row(
        "render end → archived p50 / p99 (s)",
        [
            f"{percentile(f.render_end_to_archived, 50):.1f} / {percentile(f.render_end_to_archived, 99):.1f}"
            if f.render_end_to_archived
            else "-"
            for f in figures
        ],
    )
    row("polls/s reached / needed", [f"{f.polls_per_s:.1f} / {f.needed_per_s:.1f}" for f in figures])
    row("queries per poll", [f"{f.queries_per_poll:.2f}" if f.queries_per_poll is not None else "-" for f in figures])
    row("double polls / by >1 loop process", [f"{f.double_polls} / {f.polled_by_several}" for f in figures])
    row("stuck (not done)", [str(f.stuck) for f in figures])
    row("most followed at once", [str(f.peak_in_flight) if f.peak_in_flight is not None else "-" for f in figures])
    row("all in flight after (s)", [f"{f.in_flight_after_s:.1f}" if f.in_flight_after_s else "-" for f in figures])
    row("CPU s total", [f"{sum(f.cpu_s.values()):.0f}" for f in figures])
    row("peak RSS, largest process (MiB)", [f"{max(f.peak_rss_mib.values(), default=0):.0f}" for f in figures])
    for f in figures:
        print(f"\n{f.label}: every process (CPU s, peak RSS MiB)")
        for key in sorted(f.peak_rss_mib):
            print(f"  {f.cpu_s[key]:7.1f} s {f.peak_rss_mib[key]:7.0f} MiB  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--render-s", type=float, default=120)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--trackers", type=int, default=1, help="tracker clusters (one worker, one loop each)")
    parser.add_argument("--submit-workers", type=int, default=4)
    parser.add_argument("--archive-workers", type=int, default=6)
    parser.add_argument("--settle-s", type=float, default=90, help="after the renders end, how long before stuck")
    parser.add_argument("--kill-after", type=float, default=0, help="SIGKILL one tracking loop this long in")
    parser.add_argument("--no-naive", action="store_true", help="skip the one-loop-per-operation run")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="dailies-scale-"))
    # This process queues on the run's own queues (and signs its messages as their clusters expect).
    name = os.environ["Q_CLUSTER_NAME"] = f"scale-{uuid.uuid4().hex[:6]}"
    server_url = os.environ.get("DATABASE_URL")
    url, to_drop = throwaway_database(folder, server_url=server_url, prefix="dailies_scale")
    try:
        open_database(url, media_root=folder / "media")
        sample_video(folder)  # rendered once, before the clock starts
        port = free_port()
        fake_log = folder / "provider.log"
        fake = start(
            "load-provider",
            [
                sys.executable,
                "bench/load_provider.py",
                "--port",
                str(port),
                "--render-s",
                str(args.render_s),
                "--latency-ms",
                str(args.latency_ms),
                "--log",
                str(fake_log),
                "--video-folder",
                str(folder),
            ],
            env=dict(os.environ),
            folder=folder,
        )
        time.sleep(1.5)
        fake_url = f"http://127.0.0.1:{port}"
        try:
            print(f"Dailies' workers following {args.tasks} tasks…", flush=True)
            figures = [
                run_dailies(args, name=name, folder=folder, database_url=url, fake_url=fake_url, fake_log=fake_log)
            ]
            if not args.no_naive:
                print(f"One loop per operation following {args.tasks} jobs…", flush=True)
                figures.append(run_naive(args, folder=folder, fake_url=fake_url, fake_log=fake_log))
        finally:
            stop([fake])
        report(figures, args)
    finally:
        from django.db import connections

        connections.close_all()
        if server_url and to_drop:
            drop_database(server_url, to_drop)
        if args.keep:
            print(f"\nKept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
