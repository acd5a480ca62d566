"""The environment a subprocess started from the suite gets: an operator's, not the suite's.

Shared by the tests that start `manage.py` or gunicorn as a deployment would (`test_settings`,
`test_deploy`), like `tests/seaweedfs.py` is by those that start an object store.
"""

from __future__ import annotations

import os

# What shapes a deployment; each subprocess sets its own, so none of it leaks in from the suite's
# environment (CI's team run sets most of these).
DEPLOYMENT_VARIABLES = frozenset(
    {
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "STORAGE_URL",
        "AWS_STORAGE_BUCKET_NAME",
        "DAILIES_HTTPS",
        "SECURE_SSL_REDIRECT",
        "DAILIES_VAR_DIR",
        "MEDIA_ROOT",
        "DAILIES_SITE_URL",
        "HOST",
        # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE must not leak into a deploy check.
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
)


def environment(**env: str) -> dict[str, str]:
    """This process's environment without anything that shapes a deployment, plus `env`."""
    return {**{k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARIABLES}, **env}
