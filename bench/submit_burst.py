"""Bursts of concurrent clicks against the real deployment: what they create, what reaches the provider, and what
the budget holds afterwards.

Starts `manage.py serve` (gunicorn with several workers of 8 threads, and the django-q2 cluster) on a freshly
migrated throwaway database, then fires two bursts from threads, each request logged in with a real session and
carrying the CSRF and form tokens its own page gave it:

- 50 distinct drafts at a project whose budget allows exactly 10 of them;
- 20 copies of one variations=8 form (one form token) at a project with no budget.
- The same, drawn together on route 5 (Gemini API): 4 clips to a request, so 2 submit requests for 8 clips.

    .venv/bin/python bench/submit_burst.py                   # SQLite in a temporary folder, ORM broker
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/submit_burst.py               # a throwaway database on that server, Redis

With DATABASE_URL the bench creates its own database beside the one named (and drops it afterwards); it never
writes to the named one. "Submitted" counts the jobs the simulator accepted, from its own table, so a task
sent twice would show. `tests/test_burst.py` runs the same bursts against the test database and asserts on
these figures.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlparse

import httpx
from django.conf import settings as django_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from draft_to_clip import csrf, found, login  # the bench's own helpers, beside this file

BASE_DIR = Path(__file__).resolve().parent.parent
WEB_WORKERS = 3
QUEUE_WORKERS = 4
SIM_KEY = "sim-burst-key"
# Jobs stay "running" on the simulator for this long, so no clip renders while the bench counts submissions.
RENDER_SECONDS = 300


# --- The deployment ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """The DATABASE_URL (studio/settings.py) naming the database these connection settings point at."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    credentials = quote(settings_dict["USER"], safe="")
    if settings_dict.get("PASSWORD"):
        credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}@{settings_dict['HOST']}{port}/{quote(settings_dict['NAME'], safe='')}"


@contextmanager
def serve(
    *, database_url: str, folder: Path, web_workers: int = WEB_WORKERS, queue_workers: int = QUEUE_WORKERS
) -> Iterator[str]:
    """`manage.py serve` on that database, answering at the URL yielded; everything it started is killed after.

    Its log (gunicorn's access log, the cluster's) goes to `folder/serve.log`. REDIS_URL, when set in this
    process, is the cluster's broker too, under a cluster name of its own.
    """
    port = free_port()
    cluster = f"burst-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_WORKERS": str(web_workers),
        "Q_WORKERS": str(queue_workers),
        "Q_CLUSTER_NAME": cluster,
        "MEDIA_ROOT": str(folder / "media"),
        "SIMULATOR_DRAFT_SECONDS": str(RENDER_SECONDS),
        # A team deployment on this machine over plain http, with the simulator on, holding this
        # process's secret key (the provider keys both read are encrypted with it).
        "SECRET_KEY": django_settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DAILIES_HTTPS": "0",
        "DAILIES_SIMULATOR": "1",
        # Its own var/ folder, for the collected static files its pages name (DEBUG is off).
        "DAILIES_VAR_DIR": str(folder / "var"),
    }
    env.pop("DAILIES_SITE_URL", None)  # the simulator accounts must reach this server, not another
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "serve.log"
    subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    with open(log_path, "ab") as log:
        server = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "serve"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_answering(url, server, log_path=log_path)
        yield url
    finally:
        kill_everything(server)
        if env.get("REDIS_URL"):
            forget_queue(env["REDIS_URL"], cluster)


def wait_until_answering(url: str, server: subprocess.Popen, *, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"manage.py serve stopped (exit {server.returncode}):\n{tail(log_path)}")
        try:
            if httpx.get(f"{url}/login/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"manage.py serve did not answer on {url} within {timeout:.0f} s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def kill_everything(server: subprocess.Popen) -> None:
    """Kill `serve` and the process group of each child it started (gunicorn's and the cluster's workers).

    `serve` starts each child in a session of its own, so its own group does not hold them: it is frozen
    first, so it can start nothing more while its children are found and killed.
    """
    try:
        os.kill(server.pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    for child in children_of(server.pid):
        try:
            group = os.getpgid(child)
        except ProcessLookupError:
            continue
        if group != os.getpgrp():
            _kill_group(group)
    _kill_group(server.pid)
    server.wait(timeout=10)


def children_of(pid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …; comm may hold spaces and parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            pids.append(int(entry.name))
    return pids


def _kill_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def forget_queue(redis_url: str, cluster: str) -> None:
    """Drop what the cluster left in Redis (its queue and stats), so no later cluster finds it."""
    import redis

    connection = redis.from_url(redis_url)
    keys = list(connection.scan_iter(f"django_q:{cluster}:*"))
    if keys:
        connection.delete(*keys)


# --- The clicks ------------------------------------------------------------------------------------


def hidden(html: str, name: str) -> str:
    """The value of the form's hidden input `name` (in whichever order Django renders its attributes)."""
    tag = found(rf'(<input[^>]*name="{name}"[^>]*>)', html, what=f"{name} field")
    value = re.search(r'value="([^"]*)"', tag)
    return value.group(1) if value else ""


@dataclass
class Answers:
    """What a burst of posts got back."""

    statuses: Counter[int] = field(default_factory=Counter)
    # The editor's error, in words, on each answer that carried one.
    refusals: list[str] = field(default_factory=list)
    # The task and batch ids of the new cards the answers added to the page.
    cards: list[int] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    # What each 5xx answer says went wrong: the title of Django's debug page ("KeyError at /projects/1/draft").
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, answer: httpx.Response) -> None:
        text = answer.text
        refusal = re.search(r'role="alert">(.*?)</p>', text, re.S)
        new = text.split("hx-swap-oob", 1)[1] if "hx-swap-oob" in text else ""
        with self.lock:
            self.statuses[answer.status_code] += 1
            if refusal:
                self.refusals.append(" ".join(refusal.group(1).split()))
            if answer.status_code >= 500:
                title = re.search(r"<title>(.*?)</title>", text, re.S)
                self.errors.append(" ".join(title.group(1).split()) if title else f"HTTP {answer.status_code}")
            if batch := re.search(r'id="batch-(\d+)"', new):
                self.batches.append(int(batch.group(1)))
            elif card := re.search(r'id="task-(\d+)"', new):
                self.cards.append(int(card.group(1)))

    def by_class(self, hundred: int) -> int:
        return sum(n for status, n in self.statuses.items() if status // 100 == hundred)


def logged_in(url: str, user: str, password: str) -> httpx.Cookies:
    """A session's cookies after logging in through the login page (its CSRF token and all)."""
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
        login(client, user, password)
        return client.cookies


def editor(client: httpx.Client, project_id: int, prompt_id: str) -> tuple[str, str]:
    """(CSRF token, form token) of the project page's editor holding that prompt ("": a project with none yet)."""
    page = client.get(f"/projects/{project_id}/", params={"prompt": prompt_id} if prompt_id else None)
    page.raise_for_status()
    if hidden(page.text, "prompt_id") != prompt_id:
        raise RuntimeError(f"The editor does not hold prompt {prompt_id}.")
    return csrf(page.text), hidden(page.text, "form_token")


def post_together(url: str, cookies: httpx.Cookies, project_id: int, posts: list[tuple[str, dict]]) -> Answers:
    """Each (CSRF token, form) posted as the editor does (HTMX), from its own thread, all released at once."""
    answers = Answers()
    start = threading.Barrier(len(posts), timeout=120)

    def click(post: tuple[str, dict]) -> None:
        token, form = post
        with httpx.Client(base_url=url, cookies=cookies, timeout=120) as client:
            start.wait()
            answers.record(
                client.post(
                    f"/projects/{project_id}/draft", data=form, headers={"HX-Request": "true", "X-CSRFToken": token}
                )
            )

    began = time.monotonic()
    with ThreadPoolExecutor(len(posts)) as pool:
        for done in [pool.submit(click, post) for post in posts]:
            done.result()
    answers.seconds = time.monotonic() - began
    return answers


def distinct_drafts(url: str, *, cookies: httpx.Cookies, project_id: int, forms: list[dict]) -> Answers:
    """Each form from its own fresh page (its own form token), on the prompt its `prompt_id` names."""

    def fill(form: dict) -> tuple[str, dict]:
        with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
            token, form_token = editor(client, project_id, form["prompt_id"])
        return token, {**form, "form_token": form_token}

    with ThreadPoolExecutor(min(16, len(forms))) as pool:
        posts = list(pool.map(fill, forms))
    return post_together(url, cookies, project_id, posts)


def copies_of_one_form(url: str, *, cookies: httpx.Cookies, project_id: int, form: dict, copies: int) -> Answers:
    """One page's form (one form token) posted `copies` times at once: a double click, many times over."""
    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
        token, form_token = editor(client, project_id, form["prompt_id"])
    return post_together(url, cookies, project_id, [(token, {**form, "form_token": form_token})] * copies)


# --- What the database and the provider side show --------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """A project's tasks and budget, and what the simulator has accepted, at one moment."""

    tasks: int
    batches: int
    prompts: int
    versions: int
    still_sending: int
    limit: Decimal | None
    held: Decimal
    jobs_accepted: int
    submit_requests: int


def ledger(project_id: int) -> Ledger:
    from django.utils import timezone

    from studio.prompts.models import Prompt, PromptVersion
    from studio.simulator.models import SimulatedJob, SimulatorRequest
    from studio.tasks import budgets
    from studio.tasks.models import Batch, Task

    tasks = Task.objects.filter(project_id=project_id)
    budget = budgets.budget_of(project_id)
    since = budget.period_start(timezone.now()) if budget else None
    return Ledger(
        tasks=tasks.count(),
        batches=Batch.objects.filter(project_id=project_id).count(),
        prompts=Prompt.objects.filter(project_id=project_id).count(),
        versions=PromptVersion.objects.filter(prompt__project_id=project_id).count(),
        still_sending=tasks.filter(state__in=(Task.State.PENDING, Task.State.SUBMITTING)).count(),
        limit=budget.limit if budget else None,
        held=budgets.held(project_id, since=since),
        jobs_accepted=SimulatedJob.objects.count(),
        submit_requests=SimulatorRequest.objects.filter(method="POST").count(),
    )


def ledger_once_sent(project_id: int, *, timeout: float = 60) -> Ledger:
    """The ledger once the cluster has sent every task (none pending or submitting), or at the timeout."""
    deadline = time.monotonic() + timeout
    while (now := ledger(project_id)).still_sending and time.monotonic() < deadline:
        time.sleep(0.25)
    return now


@dataclass(frozen=True)
class Burst:
    title: str
    answers: Answers
    before: Ledger
    after: Ledger

    @property
    def submitted(self) -> int:
        """Jobs the simulator accepted during the burst."""
        return self.after.jobs_accepted - self.before.jobs_accepted

    def report(self) -> str:
        a, before, after = self.answers, self.before, self.after
        limit = "none" if after.limit is None else f"${after.limit}"
        example = f' (e.g. "{a.refusals[0]}")' if a.refusals else ""
        return "\n".join(
            [
                self.title,
                f"  requests   {sum(a.statuses.values())} in {a.seconds:.1f} s: 2xx {a.by_class(2)}, "
                f"3xx {a.by_class(3)}, 4xx {a.by_class(4)}, 5xx {a.by_class(5)}"
                + "".join(f"\n             5xx: {n} × {error}" for error, n in Counter(a.errors).most_common()),
                f"  answers    {len(a.cards)} new cards, {len(a.batches)} naming a batch "
                f"({len(set(a.batches))} distinct), {len(a.refusals)} refusals in words{example}",
                f"  tasks      {after.tasks - before.tasks} created in {after.batches - before.batches} batches; "
                f"{self.submitted} submitted (jobs the simulator accepted; "
                f"{after.submit_requests - before.submit_requests} submit requests), "
                f"{after.still_sending} still pending or submitting",
                f"  prompts    {after.prompts - before.prompts} new prompts, "
                f"{after.versions - before.versions} new versions",
                f"  budget     limit {limit}; held ${before.held:.2f} before → ${after.held:.2f} after",
            ]
        )


# --- The bench ---------------------------------------------------------------------------------------


def draft_fields(**overrides: str) -> dict[str, str]:
    """The editor's fields for a 4 s 720p fast draft, as the page posts them."""
    return {
        "prompt": "A lighthouse at dusk, waves below, slow push in",
        "negative_prompt": "",
        "tier": "fast",
        "aspect_ratio": "16:9",
        "duration_s": "4",
        "resolution": "720p",
        "seed": "",
        "variations": "1",
        **overrides,
    }


def quote_of_one_draft(account) -> Decimal:
    """What one 4 s 720p fast draft costs on this account, by its price card."""
    from studio.money.prices import price_of
    from studio.providers.base import Tier
    from studio.tasks.lifecycle import model_for

    parameters = {"duration_s": 4, "aspect_ratio": "16:9", "resolution": "720p", "audio": False}
    quote = price_of(account=account, model=model_for(account, Tier.FAST), parameters=parameters)
    if quote is None:
        raise RuntimeError(f"No price card for a fast draft on {account.route}.")
    return quote


def new_project(owner, *, name: str, prompts: int, route: str = "videos-gateway"):
    """A project drafting on the simulator's `route` (route 4 unless named), owned by `owner`, with that many
    prompts (v1 each)."""
    from studio.projects.models import Membership, Project
    from studio.prompts.models import Prompt
    from studio.providers.models import ProviderAccount
    from studio.simulator.engine import issue_key

    project = Project.objects.create(name=name)
    account = ProviderAccount(
        project=project,
        label="Simulator",
        route=route,
        base_url=f"/simulator/{route}",
        poll_interval_s=5.0,
    )
    account.set_api_key(issue_key(SIM_KEY))  # the simulator accepts only keys it issued
    account.save()
    project.draft_account = project.final_account = account
    project.save()
    Membership.objects.create(project=project, user=owner, role="owner")
    made = []
    for n in range(prompts):
        prompt = Prompt.objects.create(project=project, title=f"Prompt {n}", created_by=owner)
        prompt.record_version(text=f"Prompt {n}: harbour lights at dawn", negative_prompt="", author=owner)
        made.append(prompt)
    return project, made


def throwaway_database(
    folder: Path, *, server_url: str | None, prefix: str = "dailies_burst"
) -> tuple[str, str | None]:
    """(DATABASE_URL of a new empty database, the PostgreSQL database to drop afterwards or None).

    SQLite in `folder` unless `server_url` names a PostgreSQL database: then a new one beside it on that server,
    named `prefix` and a random suffix.
    """
    if not server_url:
        return f"sqlite:///{folder / 'bench.sqlite3'}", None
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as server:
        server.execute(f'CREATE DATABASE "{name}"')
    return urlparse(server_url)._replace(path=f"/{name}").geturl(), name


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=50, help="distinct drafts in the first burst")
    parser.add_argument("--budget-for", type=int, default=10, help="how many of those the budget allows")
    parser.add_argument("--copies", type=int, default=20, help="copies of the one form in the second burst")
    parser.add_argument("--variations", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=WEB_WORKERS)
    parser.add_argument("--queue-workers", type=int, default=QUEUE_WORKERS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (serve.log, SQLite file)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="dailies-burst-"))
    server_url = os.environ.get("DATABASE_URL")
    url, to_drop = throwaway_database(folder, server_url=server_url)
    try:
        run(args, folder=folder, database_url=url)
    finally:
        if server_url and to_drop:
            # Django's connections to it close with this process; FORCE ends any the server still counts.
            drop_database(server_url, to_drop)
        if args.keep:
            print(f"\nKept {folder} (serve.log has the server's log).")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def open_database(database_url: str, *, media_root: Path, **env: str) -> None:
    """Set Django up in this process on the deployment's (throwaway) database, and migrate it.

    This process sets the projects up and reads what happened, so it runs as a team deployment too:
    those settings want a secret and hosts, and the servers started later inherit the same ones.
    """
    os.environ |= {"DATABASE_URL": database_url, "MEDIA_ROOT": str(media_root), **env}
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("DAILIES_SIMULATOR", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run(args: argparse.Namespace, *, folder: Path, database_url: str) -> None:
    started = time.monotonic()
    open_database(database_url, media_root=folder / "media")
    from django.contrib.auth import get_user_model

    from studio.money.models import Budget

    password = uuid.uuid4().hex
    owner = get_user_model().objects.create_user("burst", password=password)
    # Two drafts to a prompt: edits of one prompt queue on its row, so across prompts only the budget's lock
    # keeps concurrent drafts from overrunning it together.
    budgeted, budgeted_prompts = new_project(owner, name="Budget for ten", prompts=25)
    limit = args.budget_for * quote_of_one_draft(budgeted.draft_account)
    Budget.objects.create(project=budgeted, limit=limit, period=Budget.Period.TOTAL)
    # No prompt yet: the form is the project's first, so nothing but the form token joins its copies.
    unlimited, _ = new_project(owner, name="No budget", prompts=0)
    # Route 5 renders up to 4 clips from one request: variations drawn together.
    together, _ = new_project(owner, name="Drawn together", prompts=0, route="gemini")
    database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    backend = f"{database}, {'Redis' if os.environ.get('REDIS_URL') else 'ORM'} broker"
    print(f"Database migrated and projects set up in {time.monotonic() - started:.1f} s ({backend}).")

    started = time.monotonic()
    with serve(
        database_url=database_url, folder=folder, web_workers=args.web_workers, queue_workers=args.queue_workers
    ) as url:
        print(
            f"manage.py serve answering at {url} after {time.monotonic() - started:.1f} s: "
            f"{args.web_workers} web workers × 8 threads, {args.queue_workers} queue workers.\n"
        )
        cookies = logged_in(url, "burst", password)
        before = ledger(budgeted.pk)
        forms = [
            draft_fields(
                prompt=f"Take {n}: a lighthouse at dusk, waves below, slow push in",
                prompt_id=str(budgeted_prompts[n % len(budgeted_prompts)].pk),
            )
            for n in range(args.drafts)
        ]
        answers = distinct_drafts(url, cookies=cookies, project_id=budgeted.pk, forms=forms)
        burst = Burst(
            f"{args.drafts} distinct drafts at a budget for {args.budget_for}",
            answers,
            before,
            ledger_once_sent(budgeted.pk),
        )
        print(burst.report(), end="\n\n")

        copied = [
            (unlimited, "no budget", {"prompt": "Gulls over a breakwater, handheld"}),
            (
                together,
                "drawn together (route 5, 4 to a request)",
                {"prompt": "Terns over a breakwater, handheld", "one_request": "on"},
            ),
        ]
        for project, how, fields in copied:
            before = ledger(project.pk)
            form = draft_fields(variations=str(args.variations), prompt_id="", **fields)
            answers = copies_of_one_form(url, cookies=cookies, project_id=project.pk, form=form, copies=args.copies)
            title = f"{args.copies} copies of one variations={args.variations} form, {how}"
            print(Burst(title, answers, before, ledger_once_sent(project.pk)).report(), end="\n\n")


if __name__ == "__main__":
    main()
