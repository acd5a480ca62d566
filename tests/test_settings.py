"""Settings come from the environment and fail loudly on values we cannot read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio.settings import database_from_url, env_bool

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
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("SOME_FLAG", False)
    monkeypatch.setenv("SOME_FLAG", "off")
    assert env_bool("SOME_FLAG", True) is False


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE must not leak into a deploy check.
    dropped = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_is_clean_with_debug_off_and_a_real_secret():
    done = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "a-real-secret-key-with-enough-entropy-1234567890",
        ALLOWED_HOSTS="dailies.example",
    )
    assert done.returncode == 0, done.stderr + done.stdout


def test_debug_off_without_a_secret_refuses_to_start():
    done = run_manage("check", DEBUG="0", ALLOWED_HOSTS="dailies.example")
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr


def test_a_bad_redis_url_refuses_to_start():
    done = run_manage("check", REDIS_URL="http://localhost:6379")
    assert done.returncode != 0 and "REDIS_URL" in done.stderr
