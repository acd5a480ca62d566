"""`/healthz`, for load balancers: can this web server reach its database, its broker and its storage?

200 with {"database": "ok", "broker": "ok", "storage": "ok"}, or 503 with "down" beside what is not.
No login, no secrets in the answer (why a check failed goes to the log), no writes anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache

import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.models import OrmQ

logger = logging.getLogger(__name__)

# Long enough for a healthy answer over a network, short enough for a balancer's own timeout.
TIMEOUT_S = 3.0
# Storage calls cannot be given a timeout of their own, so they run here and are waited for this
# long. One thread: a storage that hangs holds it, and the probes after it fail fast instead of
# piling up threads.
_storage_calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz-storage")


def database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)


def broker() -> None:
    """django-q2's broker: Redis answers PING, or the ORM broker's queue table can be read."""
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).ping()
    else:
        OrmQ.objects.using(settings.Q_CLUSTER["orm"]).exists()


def _list_a_tiny_prefix() -> None:
    # One listing of a prefix nothing is stored under: on object storage it proves the bucket is
    # there and the key may read it; a folder that is not there is an answer too.
    try:
        default_storage.listdir("healthz")
    except FileNotFoundError:
        pass


def storage() -> None:
    _storage_calls.submit(_list_a_tiny_prefix).result(timeout=TIMEOUT_S)


CHECKS: dict[str, Callable[[], None]] = {"database": database, "broker": broker, "storage": storage}


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    answers = {}
    for name, check in CHECKS.items():
        try:
            check()
        except FutureTimeout:
            logger.warning("Health check: %s did not answer within %s s", name, TIMEOUT_S)
            answers[name] = "down"
        except Exception:
            logger.warning("Health check: %s is down", name, exc_info=True)
            answers[name] = "down"
        else:
            answers[name] = "ok"
    healthy = all(answer == "ok" for answer in answers.values())
    return JsonResponse(answers, status=200 if healthy else 503)
