"""Settings come from the environment and fail loudly on values we cannot read."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio import settings as settings_module
from studio.settings import database_from_url, env_bool, env_number
from tests.deployment import environment

ROOT = Path(__file__).resolve().parent.parent


def test_postgres_urls_are_parsed():
    db = database_from_url("postgres://dailies:s%40cret@db.internal:6543/studio?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "dailies",
        "s@cret",
        "db.internal",
        "6543",
        "studio",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize("url", ["mysql://x@y/z", "postgres://x@y/", "postgres://x@y:notaport/db", "sqlite://"])
def test_unusable_database_urls_stop_start_up(url):
    with pytest.raises(ImproperlyConfigured):
        database_from_url(url)


def test_yes_no_values_are_strict(monkeypatch):
    monkeypatch.setattr(settings_module, "PROBLEMS", problems := [])
    monkeypatch.setenv("SOME_FLAG", "maybe")
    assert env_bool("SOME_FLAG", False) is False
    assert problems == ["SOME_FLAG='maybe' is not a yes/no value (use 1/0, true/false)."]
    monkeypatch.setenv("SOME_FLAG", "off")
    assert env_bool("SOME_FLAG", True) is False
    assert len(problems) == 1


def test_a_number_that_is_not_one_or_too_small_is_noted_and_reading_goes_on(monkeypatch):
    monkeypatch.setattr(settings_module, "PROBLEMS", problems := [])
    monkeypatch.setenv("SOME_NUMBER", "many")
    assert env_number("SOME_NUMBER", 4) == 4
    monkeypatch.setenv("SOME_NUMBER", "1")
    assert env_number("SOME_NUMBER", 4, minimum=2) == 4
    assert problems == ["SOME_NUMBER='many' is not a number.", "SOME_NUMBER='1' must be at least 2."]


TEAM = {"DATABASE_URL": "postgres://dailies@db.internal:5432/dailies", "ALLOWED_HOSTS": "dailies.example"}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_of(tmp_path: Path, *names: str, **env: str) -> dict:
    """These settings as a process started with this environment (and its own var/ folder) reads them."""
    script = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )
    done = run_manage("shell", "--no-imports", "-c", script, DAILIES_VAR_DIR=str(tmp_path / "var"), **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_debug_is_off_unless_asked_for(tmp_path):
    assert settings_of(tmp_path, "DEBUG") == {"DEBUG": False}
    assert settings_of(tmp_path, "DEBUG", DEBUG="1") == {"DEBUG": True}


def test_the_embedded_default_makes_its_secret_key_once_keeps_it_private_and_reuses_it(tmp_path):
    first = settings_of(tmp_path, "SECRET_KEY")["SECRET_KEY"]
    kept = tmp_path / "var" / "secret_key"
    assert kept.read_text().strip() == first and len(first) >= 50
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert settings_of(tmp_path, "SECRET_KEY")["SECRET_KEY"] == first
    # Another machine (another var/ folder) has a key of its own.
    assert settings_of(tmp_path / "elsewhere", "SECRET_KEY")["SECRET_KEY"] != first


def test_a_secret_key_that_is_set_is_used_and_nothing_is_written(tmp_path):
    assert settings_of(tmp_path, "SECRET_KEY", SECRET_KEY="k" * 60) == {"SECRET_KEY": "k" * 60}
    assert not (tmp_path / "var" / "secret_key").exists()


def test_the_embedded_default_allows_this_machines_names_and_the_address_it_listens_on(tmp_path):
    hosts = settings_of(tmp_path, "ALLOWED_HOSTS", HOST="studio.lan")["ALLOWED_HOSTS"]
    assert {"127.0.0.1", "localhost", "[::1]", "studio.lan"} <= set(hosts)


def test_https_is_required_in_a_team_deployment_and_not_on_plain_http_at_home(tmp_path):
    names = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS")
    at_home = settings_of(tmp_path, *names)
    assert at_home == dict.fromkeys(names, False) | {"SECURE_HSTS_SECONDS": 0}
    team = settings_of(tmp_path, *names, SECRET_KEY="t" * 60, **TEAM)
    assert team == dict.fromkeys(names, True) | {"SECURE_HSTS_SECONDS": 31536000}
    # A team deployment's own developer, or a test run, on plain http.
    assert settings_of(tmp_path, *names, SECRET_KEY="t" * 60, DAILIES_HTTPS="0", **TEAM) == at_home


@pytest.mark.parametrize("debug", ["0", "1"])
def test_a_team_deployment_without_a_secret_refuses_to_start(debug):
    done = run_manage("check", DEBUG=debug, **TEAM)
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr


def test_a_team_deployment_without_allowed_hosts_refuses_to_start():
    done = run_manage("check", SECRET_KEY="t" * 60, DATABASE_URL=TEAM["DATABASE_URL"])
    assert done.returncode != 0 and "ALLOWED_HOSTS must be set" in done.stderr


def test_a_bad_log_level_refuses_to_start():
    done = run_manage("check", LOG_LEVEL="chatty")
    assert done.returncode != 0 and "LOG_LEVEL" in done.stderr


def test_a_bad_redis_url_refuses_to_start():
    done = run_manage("check", REDIS_URL="http://localhost:6379")
    assert done.returncode != 0 and "REDIS_URL" in done.stderr


def test_every_problem_is_named_at_once_in_one_short_message_without_a_traceback():
    done = run_manage("check", DEBUG="0", DATABASE_URL=TEAM["DATABASE_URL"], LOG_LEVEL="chatty", Q_WORKERS="lots")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "Dailies cannot start:",
        "  - SECRET_KEY must be set in a team deployment (DATABASE_URL is set).",
        "  - ALLOWED_HOSTS must be set in a team deployment (comma-separated host names).",
        "  - Q_WORKERS='lots' is not a number.",
        "  - LOG_LEVEL='CHATTY' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL.",
    ]


def test_the_web_server_started_on_its_own_says_the_same_and_stops_instead_of_retrying(tmp_path):
    gunicorn = Path(sys.executable).parent / "gunicorn"
    done = subprocess.run(
        [str(gunicorn), "studio.wsgi:application", "--bind", "127.0.0.1:0", "--no-control-socket"],
        cwd=ROOT,
        env=environment(DEBUG="0", DATABASE_URL=TEAM["DATABASE_URL"], DAILIES_VAR_DIR=str(tmp_path / "var")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "Dailies cannot start:\n  - SECRET_KEY must be set" in done.stderr
    assert "  - ALLOWED_HOSTS must be set" in done.stderr
    # gunicorn gave up at the first worker: one message, not one per restarted worker.
    assert done.stderr.count("Dailies cannot start") == 1
