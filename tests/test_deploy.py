"""Safe by default: the deploy check, pages served with DEBUG off, the CSP, error reports and logs that
never show a provider key, and the health check load balancers ask."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from studio.logs import HIDDEN, JsonLines, hide_keys
from studio.providers import models as provider_models
from studio.providers.models import ProviderAccount
from studio.providers.registry import ROUTES, get_route
from studio.settings import media_origins, media_storage
from tests.deployment import environment

ROOT = Path(__file__).resolve().parent.parent
# A provider key of no recognisable shape, so only `sensitive_variables` can keep it out of a report.
KEY = "Zq7XwPlainProviderKey4242"
# The same as a route's header would carry it, which the log filter recognises anywhere.
SHAPED_KEY = "sk-live-0123456789abcdefXYZ"


# --- A deployment as an operator starts it -------------------------------------


def run(*command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def test_the_deploy_check_is_clean_for_a_team_deployment():
    env = environment(
        SECRET_KEY="a team deployment's own secret: long, random-looking and 1234567890",
        ALLOWED_HOSTS="dailies.example",
        DATABASE_URL="postgres://dailies@db.internal:5432/dailies",
    )
    done = run(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert "no issues" in done.stdout


@dataclass
class Served:
    url: str
    project_id: int
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SETUP = """
import django; django.setup()
from django.contrib.auth import get_user_model
from studio.projects.models import Membership, Project
owner = get_user_model().objects.create_user(username="owner", password="pw-owner")
project = Project.objects.create(name="Moonrise")
Membership.objects.create(project=project, user=owner, role="owner")
print(project.pk)
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """The embedded default with DEBUG off and only SECRET_KEY and ALLOWED_HOSTS set, as `make run` starts
    it (migrate, collectstatic, gunicorn), in a var/ folder of its own."""
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    env = environment(
        DEBUG="0",
        SECRET_KEY="the server's own secret: long, random-looking and 1234567890",
        ALLOWED_HOSTS="127.0.0.1",
        DAILIES_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="studio.settings",
    )
    run(sys.executable, "manage.py", "migrate", "--noinput", env=env)
    run(sys.executable, "manage.py", "collectstatic", "--noinput", env=env)
    project_id = int(run(sys.executable, "-c", SETUP, env=env).stdout.split()[-1])
    log = var / "gunicorn.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log.open("w") as sink:
        server = subprocess.Popen(
            [str(gunicorn), "studio.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield Served(url=url, project_id=project_id, log=log)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def signed_in(served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as browser:
        login = browser.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token, login.text[:2000]
        answer = browser.post(
            "/login/", data={"username": "owner", "password": "pw-owner", "csrfmiddlewaretoken": token[1]}
        )
        assert answer.status_code == 302, answer.text[:2000]
        yield browser


def test_debug_off_serves_every_page_with_its_collected_static_files(served, signed_in):
    project = f"/projects/{served.project_id}"
    pages = ["/", f"{project}/", f"{project}/gallery", f"{project}/spend", f"{project}/members/"]
    pages += [f"{project}/settings", f"{project}/activity", f"{project}/accounts/", f"{project}/budget"]
    for page in pages:
        answer = signed_in.get(page)
        assert answer.status_code == 200, (page, answer.text[:3000], served.log.read_text()[-3000:])
        assert "script-src 'self'" in answer.headers["content-security-policy"], page
        static = re.findall(r'(?:href|src)="(/static/[^"]+)"', answer.text)
        assert static, page
        for asset in static:
            # collectstatic's hashed name, served by WhiteNoise with a far-future cache.
            assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg|ico)$", asset), (page, asset)
            file = signed_in.get(asset)
            assert file.status_code == 200 and "immutable" in file.headers["cache-control"], asset


def test_the_icon_browsers_ask_for_on_their_own_is_there(served):
    answer = httpx.get(f"{served.url}/favicon.ico", follow_redirects=True)
    assert answer.status_code == 200, answer.history
    assert answer.headers["content-type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert answer.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    # Pages name the same icon (and its SVG) in their head, under collectstatic's hashed names.
    login = httpx.get(f"{served.url}/login/").text
    icons = re.findall(r'<link rel="icon" href="(/static/img/favicon\.[0-9a-f]{12}\.(?:svg|ico))"', login)
    assert len(icons) == 2 and all(httpx.get(f"{served.url}{icon}").status_code == 200 for icon in icons)


def test_debug_off_over_plain_http_at_home_keeps_cookies_usable_and_does_not_redirect(served):
    login = httpx.get(f"{served.url}/login/")
    assert login.status_code == 200
    assert "secure" not in login.headers["set-cookie"].lower()


def test_the_health_check_answers_without_signing_in(served):
    answer = httpx.get(f"{served.url}/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"database": "ok", "broker": "ok", "storage": "ok"}


def test_the_servers_log_lines_are_json(served):
    httpx.get(f"{served.url}/no-such-page")
    for _attempt in range(50):
        lines = [line for line in served.log.read_text().splitlines() if line.startswith("{")]
        if any("no-such-page" in line for line in lines):
            break
        time.sleep(0.1)
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "django.request" and e["status"] == 404 and e["path"] == "/no-such-page" for e in entries)


# --- The Content-Security-Policy -------------------------------------------------


def policy_of(header: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in header.split(";") if directive.strip())
    return {name: sources for name, *sources in parts}


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "inline style": re.compile(r"<style\b|<[^>]+\sstyle=", re.I),
    "inline handler": re.compile(r"<[^>]+\s(?:on[a-z]+|hx-on[:\w-]*)\s*=", re.I),
}


@pytest.fixture
def every_page(project, people, pending_task, archived_clip) -> list[str]:
    owner = people["owner"]
    first = archived_clip(pending_task(project, owner))
    second = archived_clip(pending_task(project, owner, text="Waves on basalt at dawn", seed=2))
    p = f"/projects/{project.pk}"
    version = first.task.prompt_version
    return [
        "/",
        "/projects/new",
        f"{p}/",
        f"{p}/settings",
        f"{p}/members/",
        f"{p}/activity",
        f"{p}/grids/new",
        f"{p}/accounts/",
        f"/accounts/{project.draft_account_id}/",
        f"{p}/gallery",
        f"{p}/compare?a={first.pk}&b={second.pk}",
        f"/clips/{first.pk}/",
        f"/prompts/{version.prompt_id}/history",
        f"{p}/budget",
        f"{p}/spend",
    ]


@pytest.mark.django_db
def test_every_page_allows_only_our_own_scripts_and_styles_and_carries_none_inline(every_page, owner_client):
    for page in [*every_page, "/login/"]:
        answer = (Client() if page == "/login/" else owner_client).get(page)
        assert answer.status_code == 200, page
        policy = policy_of(answer["Content-Security-Policy"])
        assert policy["default-src"] == policy["script-src"] == policy["style-src"] == ["'self'"], page
        assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"], page
        # Pictures and video also from the object store, where there is one, and never from just anywhere.
        assert policy["img-src"][:3] == ["'self'", "data:", "blob:"] and policy["media-src"][0] == "'self'", page
        assert not any("*" in source or "unsafe" in source for sources in policy.values() for source in sources), page
        html = answer.content.decode()
        for what, pattern in INLINE.items():
            assert not pattern.search(html), f"{page} has an {what}: {pattern.search(html)[0]}"


def test_media_may_come_from_the_object_store_that_presigns_its_links():
    store = media_storage({"STORAGE_URL": "s3://key:secret@media.internal:8333/clips?secure=0"})
    assert media_origins(store) == ["http://media.internal:8333"]
    amazon = media_storage({"STORAGE_URL": "s3://key:secret@/dailies-media?region=eu-west-1"})
    assert "https://dailies-media.s3.eu-west-1.amazonaws.com" in media_origins(amazon)
    assert media_origins(media_storage({})) == []


def test_the_policy_names_the_object_store_for_pictures_and_video(tmp_path):
    script = "from django.conf import settings as s; print(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['media-src'])"
    env = environment(DAILIES_VAR_DIR=str(tmp_path), STORAGE_URL="s3://key:secret@media.internal:8333/clips?secure=0")
    done = run(sys.executable, "manage.py", "shell", "--no-imports", "-c", script, env=env)
    assert "http://media.internal:8333" in done.stdout


# --- Error reports never show a key ----------------------------------------------


def refusing_transport(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("the provider hung up", request=request)


def exception_report(call) -> str:
    try:
        call()
    except Exception:
        return ExceptionReporter(None, *sys.exc_info()).get_traceback_html()
    raise AssertionError("the call did not fail")


def google_key_file(token_uri: str) -> tuple[str, str]:
    """Route 6's kind of key, a service-account key file, and a line of its private key (what must never show)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key = {
        "type": "service_account",
        "private_key_id": "1" * 40,
        "private_key": pem,
        "client_email": "dailies@dailies-test.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }
    return json.dumps(key), pem.splitlines()[1]


def account_with_its_key(slug: str) -> tuple[ProviderAccount, list[str], str]:
    """An account of the route on an address that hangs up, the secrets its key holds, and a job id of its form."""
    if slug != "google-cloud":
        account = ProviderAccount(route=slug, base_url="https://provider.invalid", options={})
        account.set_api_key(KEY)
        return account, [KEY], "job-1"
    options = {"project_id": "dailies-test", "location": "us-central1"}
    account = ProviderAccount(route=slug, base_url="https://provider.invalid", options=options)
    key, private_line = google_key_file("https://provider.invalid/token")
    account.set_api_key(key)
    model = "projects/dailies-test/locations/us-central1/publishers/google/models/veo-3.1-fast-generate-001"
    return account, [private_line], f"{model}/operations/1"


@pytest.mark.parametrize("slug", sorted(ROUTES))
def test_a_routes_error_report_never_shows_its_key(slug, settings):
    settings.DEBUG = True  # the debug page's filter, on even here
    route = get_route(slug)
    account, secrets, job = account_with_its_key(slug)
    sent: list[httpx.Request] = []

    def hang_up(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return refusing_transport(request)

    with httpx.Client(transport=httpx.MockTransport(hang_up)) as http:
        for call in (lambda: route.poll(http, account, job), lambda: route.check_account(http, account)):
            report = exception_report(call)
            # Route 6 sends a signed assertion (as good as its key for an hour) to get a token: that too.
            carried = [*secrets, *(assertion[-40:] for assertion in _assertions(sent))]
            assert "ConnectError" in report and not [secret for secret in carried if secret in report]
            # Without the filter the same frames would show one: the test is not vacuous.
            try:
                call()
            except httpx.ConnectError:
                unfiltered = ExceptionReporter(None, *sys.exc_info())
                unfiltered.filter = SafeExceptionReporterFilter()  # inactive with DEBUG on
                assert [secret for secret in carried if secret in unfiltered.get_traceback_html()]


def _assertions(requests: list[httpx.Request]) -> list[str]:
    """The signed JWTs of the token requests among these."""
    return [value for r in requests for value in parse_qs(r.content.decode()).get("assertion", [])]


@pytest.mark.django_db
def test_a_server_error_on_the_account_form_never_shows_the_key_even_with_debug_on(
    settings, people, project, monkeypatch
):
    settings.DEBUG = True

    class BrokenCipher:
        def encrypt(self, raw: bytes) -> bytes:
            raise RuntimeError("the cipher broke")

    # The failure comes from inside set_api_key, with the new key in its frame.
    monkeypatch.setattr(provider_models, "_fernet", BrokenCipher)
    client = Client(raise_request_exception=False)
    client.force_login(people["owner"])
    form = {"label": "Gateway", "route": "videos-gateway", "base_url": "https://provider.invalid"}
    for url in (f"/projects/{project.pk}/accounts/add", f"/accounts/{project.draft_account_id}/"):
        answer = client.post(url, {**form, "poll_interval_s": "", "api_key": KEY, "options_text": ""})
        page = answer.content.decode()
        # The DEBUG page, with the traceback through set_api_key, and no key on it.
        assert answer.status_code == 500 and "the cipher broke" in page and "set_api_key" in page, url
        assert KEY not in page, url


# --- Logs: JSON, tracebacks, no keys -----------------------------------------------


def broken_view(request):
    api_key = KEY
    raise RuntimeError(f"the provider refused Authorization: Bearer {SHAPED_KEY} (x-api-key: {api_key})")


urlpatterns = [path("broken", broken_view)]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the configured stderr handler writes (its filter and formatter as configured), for a test."""
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonLines)]
    assert isinstance(handler, logging.StreamHandler)
    lines = io.StringIO()
    before = handler.setStream(lines)
    yield lines
    handler.setStream(before)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_server_error_is_logged_with_its_traceback_and_without_the_key(log_lines):
    answer = Client(raise_request_exception=False).get("/broken")
    assert answer.status_code == 500 and KEY.encode() not in answer.content
    (line,) = [line for line in log_lines.getvalue().splitlines() if '"django.request"' in line]
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["status"] == 500 and entry["path"] == "/broken"
    assert "Traceback" in entry["traceback"] and "broken_view" in entry["traceback"]
    assert (
        "RuntimeError: the provider refused Authorization: Bearer [hidden] (x-api-key: [hidden])" in entry["traceback"]
    )
    assert SHAPED_KEY not in log_lines.getvalue() and KEY not in log_lines.getvalue()


def test_studios_own_log_lines_mask_keys_in_messages_and_extras(log_lines):
    logging.getLogger("studio.tasks").warning("sent %s", {"x-goog-api-key": KEY}, extra={"link": f"/f?key={KEY}"})
    entry = json.loads(log_lines.getvalue())
    assert entry["logger"] == "studio.tasks" and entry["message"] == "sent {'x-goog-api-key': '[hidden]'}"
    assert entry["link"] == "/f?key=[hidden]" and KEY not in log_lines.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {KEY}",
        f"{{'Authorization': 'Bearer {KEY}', 'Accept': 'application/json'}}",
        f"HTTP_AUTHORIZATION='Bearer {KEY}'",
        f"{{'x-api-key': '{KEY}'}}",
        f"x-goog-api-key={KEY}",
        f"GET https://generativelanguage.example/v1beta/files/abc:download?alt=media&key={KEY}",
        f'"api_key": "{KEY}"',
        f"tried {SHAPED_KEY} and sim-{KEY}",
        f"refused ya29.{KEY}",
        f'{{"private_key": "-----BEGIN PRIVATE KEY-----\\n{KEY}\\n-----END PRIVATE KEY-----\\n"}}',
        f"-----BEGIN RSA PRIVATE KEY-----\n{KEY}\n",
    ],
)
def test_anything_shaped_like_a_key_is_masked(text):
    masked = hide_keys(text)
    assert KEY not in masked and SHAPED_KEY not in masked and HIDDEN in masked


def test_words_that_are_not_keys_are_left_alone():
    text = "Draft #12 of prompt v3 is done: 4 s, 720p, seed 1234 (task key 7)."
    assert hide_keys(text) == text


# --- /healthz ------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthy_answers_ok_for_each_without_writing_anything(media):
    with CaptureQueriesContext(connection) as queries:
        answer = Client().get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert "no-cache" in answer["Cache-Control"]
    assert all(query["sql"].lstrip().upper().startswith("SELECT") for query in queries.captured_queries)


def _closed_port() -> int:
    return _free_port()  # nothing listens on a port just handed back


@pytest.mark.django_db
def test_a_broker_that_does_not_answer_is_named(settings, media):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    answer = Client().get("/healthz")
    assert answer.status_code == 503 and answer.json() == {"database": "ok", "broker": "down", "storage": "ok"}


@pytest.mark.django_db
def test_a_storage_that_does_not_answer_is_named(settings):
    from botocore.config import Config

    options = media_storage({"STORAGE_URL": f"s3://key:secret@127.0.0.1:{_closed_port()}/nowhere?secure=0"})["OPTIONS"]
    options["client_config"] = Config(retries={"max_attempts": 1}, connect_timeout=1)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    answer = Client().get("/healthz")
    assert answer.status_code == 503 and answer.json() == {"database": "ok", "broker": "ok", "storage": "down"}
    assert "secret" not in answer.content.decode()


@pytest.mark.django_db
def test_balancers_probe_over_plain_http_where_everything_else_is_sent_to_https(settings, media):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/login/").status_code == 301
    assert client.get("/healthz").status_code == 200


def test_link_tokens_in_paths_are_hidden_from_logs_and_the_access_log():
    from studio.access_log import AccessLogWithoutTokens
    from studio.logs import hide_keys

    assert hide_keys("Not Found: /invites/Zx81-secret") == "Not Found: /invites/[hidden]"
    assert hide_keys("GET /i/abc123?x=1 HTTP/1.1") == "GET /i/[hidden]?x=1 HTTP/1.1"
    assert hide_keys("POST /hooks/tasks/tok_9/") == "POST /hooks/tasks/[hidden]/"
    assert hide_keys("GET /projects/12/ HTTP/1.1") == "GET /projects/12/ HTTP/1.1"

    class Config:  # what gunicorn's Logger reads when it builds its handlers
        errorlog = "-"
        loglevel = "info"
        accesslog = None
        access_log_format = "%(r)s"
        syslog = False
        logconfig = None
        logconfig_dict: dict = {}
        logconfig_json = None
        capture_output = False
        disable_redirect_access_to_syslog = False
        user = 0
        group = 0
        umask = 0
        env: dict = {}

    class Response:
        status = "200 OK"
        headers: list = []
        sent = 10
        response_length = 10

    class Request:
        headers: list = []
        method = "GET"
        path = "/invites/Zx81-secret"
        query = ""
        version = (1, 1)
        uri = "/invites/Zx81-secret"

    logger = AccessLogWithoutTokens.__new__(AccessLogWithoutTokens)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/invites/Zx81-secret",
        "PATH_INFO": "/invites/Zx81-secret",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    logger.cfg = Config()
    from datetime import timedelta

    atoms = logger.atoms(Response(), Request(), environ, timedelta(seconds=0.01))
    assert "Zx81-secret" not in atoms["r"] + atoms["U"]
