"""Browser fixtures: Debian's Chromium, driven by Playwright, against the app on `live_server`.

Finished clips are made once per run — two drafts and a final, posted
through the draft form and brought home by the same worker steps as in
production — because rendering and polling take most of a minute. The
transactional database is emptied after every test, so the rows are kept as
a serialized snapshot and put back before each test; the files stay where
they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Model
from django.test import override_settings

from studio.clips.models import Clip
from studio.projects.models import Membership, Project
from studio.prompts.models import Prompt, PromptVersion
from studio.providers.models import ProviderAccount
from studio.simulator.models import SimulatorKey
from studio.tasks import lifecycle
from studio.tasks.models import Task

# Playwright's sync API keeps an event loop running in this thread, and Django
# refuses ORM calls from a thread with a running loop. The test thread only
# makes plain synchronous calls, so tell Django that is what they are.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SNAPSHOT_MODELS: list[type[Model]] = [
    get_user_model(),
    Project,
    ProviderAccount,
    Membership,
    Prompt,
    PromptVersion,
    Task,
    Clip,
    # The key the simulator issued for the project's account: it accepts no other.
    SimulatorKey,
]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests leave their screenshots (test-artifacts/screenshots); may not exist yet."""
    return _SCREENSHOTS


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Debian's chromium at {CHROMIUM}, and it is not there. "
            "`make test` installs it (apt-get install chromium); Playwright's own download is not used.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass(frozen=True)
class Studio:
    url: str
    snapshot: str  # the rows, serialized
    clip_ids: tuple[int, int, int]


@dataclass(frozen=True)
class Clips:
    short: Clip  # draft: 4 s, 720p, silent, prompt v1
    draft: Clip  # draft: 8 s, 720p, silent, prompt v2
    final: Clip  # the final of `draft`: 8 s, 1080p, with audio

    @property
    def project_id(self) -> int:
        return self.final.task.project_id


@dataclass(frozen=True)
class Made:
    """What `made_once` leaves for every module: the settings it ran under, the rows and the clips' ids."""

    settings: dict
    snapshot: str
    clip_ids: tuple[int, int, int]


@pytest.fixture(scope="session")
def made_once(
    django_db_setup,
    live_server,
    django_db_blocker,
    tmp_path_factory,
    make_people,
    make_project,
    client_for,
    draft_form,
    run_worker,
) -> Made:
    """People, a project and three finished clips, made once for the whole run (most of a minute of
    rendering and polling), then kept as a snapshot and the database emptied again."""
    settings = {
        "MEDIA_ROOT": tmp_path_factory.mktemp("media"),
        "SITE_URL": live_server.url,
        "SIMULATOR": {"draft_seconds": 0.6, "final_seconds": 1.2},
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    }
    with override_settings(**settings), django_db_blocker.unblock():
        clip_ids = _make_clips(make_people, make_project, client_for, draft_form, run_worker)
        rows = [row for model in SNAPSHOT_MODELS for row in model._default_manager.all()]
        snapshot = serializers.serialize("json", rows)
        # Each test puts the rows back (`clips`); what runs next starts from an empty database.
        call_command("flush", interactive=False, verbosity=0)
    return Made(settings=settings, snapshot=snapshot, clip_ids=clip_ids)


@pytest.fixture(scope="module")
def studio(live_server, made_once: Made):
    """The app on live_server with the settings its clips were made under, for one module's tests.

    The settings are held per module, not for the whole run, so the tests that are not browser
    tests never see them."""
    with override_settings(**made_once.settings):
        yield Studio(url=live_server.url, snapshot=made_once.snapshot, clip_ids=made_once.clip_ids)


def _make_clips(make_people, make_project, client_for, draft_form, run_worker) -> tuple[int, int, int]:
    people = make_people()
    # The route's shortest allowed poll cadence, so each clip waits one poll, not two.
    project = make_project(people, poll_interval_s=5.0)
    client = client_for(people["owner"])
    silent_720p = {"resolution": "720p", "variations": "1", "seed": "1234"}
    for words in (
        {"duration_s": "4"},
        {
            "duration_s": "8",
            "prompt": "A lighthouse at dawn, waves below, gulls wheeling, slow push in",
            "negative_prompt": "text overlays",
        },
    ):
        answer = client.post(f"/projects/{project.pk}/draft", draft_form(**silent_720p, **words))
        assert answer.status_code == 302, answer.content.decode()[:2000]
    short, draft = Task.objects.order_by("pk")
    # Promoted before the draft is done (the view waits for that) so all three render at once.
    final, _created = lifecycle.promote(draft=draft, user=people["owner"])
    tasks = run_worker(short.pk, draft.pk, final.pk)
    assert all(task.state == Task.State.DONE for task in tasks), [task.error_message for task in tasks]
    short_clip, draft_clip, final_clip = (Clip.objects.get(task=task).pk for task in tasks)
    return short_clip, draft_clip, final_clip


@pytest.fixture
def clips(studio, transactional_db) -> Clips:
    """The module's clips, their project and its people, put back into this test's database."""
    with transaction.atomic():
        for row in serializers.deserialize("json", studio.snapshot):
            row.save()
        # PostgreSQL's id sequences do not move for rows saved with their ids.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), SNAPSHOT_MODELS):
                cursor.execute(sql)
    return Clips(*(Clip.objects.select_related("task__prompt_version").get(pk=pk) for pk in studio.clip_ids))


@pytest.fixture
def page(browser, studio, request, screenshots):
    """A fresh browser tab on the live server; a screenshot of where it ended up is saved afterwards."""
    context = browser.new_context(base_url=studio.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    _screenshot(page, screenshots / f"{request.node.name}.png")
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shoot(page, request, screenshots):
    """Save a screenshot of a page met along the way, as <test name>-<label>.png."""
    return lambda label: _screenshot(page, screenshots / f"{request.node.name}-{label}.png")


def _screenshot(page, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def _log_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-" + username)
    page.click("button:has-text('Log in')")
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture
def owner_page(page, clips):
    _log_in(page, "owner")
    return page
