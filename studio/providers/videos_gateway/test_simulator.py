"""The simulator speaks seed 004's /v1/videos protocol over real HTTP, limits included."""

from __future__ import annotations

import time

import httpx
import pytest

from studio.simulator.engine import issue_key
from studio.simulator.models import SimulatorRequest

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = {"Authorization": "Bearer sim-contract"}
BODY = {
    "model": "veo-3.1-lite-generate-preview",
    "prompt": "Rain on a tin roof",
    "duration": 4,
    "resolution": "720p",
    "aspect_ratio": "9:16",
    "generate_audio": True,
    "seed": 99,
}


@pytest.fixture
def gateway(simulator):
    issue_key("sim-contract")
    with httpx.Client(base_url=f"{simulator.url}/simulator/videos-gateway", timeout=30) as client:
        yield client


def test_submit_answers_a_top_level_receipt(gateway):
    answer = gateway.post("/v1/videos", json=BODY, headers=AUTH)
    assert answer.status_code == 200
    receipt = answer.json()
    assert receipt["id"] == receipt["task_id"] and receipt["task_id"].startswith("task_")
    assert receipt["object"] == "video" and receipt["status"] == "QUEUED" and receipt["progress"] == 0
    assert isinstance(receipt["created_at"], int)


def test_the_alias_path_works_too(gateway):
    answer = gateway.post("/v1/video/generations", json=BODY, headers=AUTH)
    task_id = answer.json()["task_id"]
    assert gateway.get(f"/v1/video/generations/{task_id}", headers=AUTH).json()["task_id"] == task_id


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"duration": 5}, "duration must be 4, 6 or 8"),
        ({"resolution": "1080p", "duration": 4}, "only support 8-second duration"),
        ({"resolution": "4k", "duration": 8}, "4k is not available"),
        ({"aspect_ratio": "1:1"}, "aspect_ratio must be"),
        ({"seed": 2**32}, "seed must be"),
        ({"person_generation": "everyone"}, "person_generation must be"),
        ({"model": "veo-9"}, "Unknown model"),
        ({"prompt": ""}, "prompt is required"),
    ],
)
def test_business_failures_are_http_200_error_objects(gateway, change, words):
    answer = gateway.post("/v1/videos", json={**BODY, **change}, headers=AUTH)
    assert answer.status_code == 200
    error = answer.json()["error"]
    assert words in error["message"] and error["type"] and error["code"]
    assert "task_id" not in answer.json()


@pytest.mark.parametrize("key", ["nope", "sim-never-issued"])
def test_a_key_the_simulator_did_not_issue_is_401(gateway, key):
    answer = gateway.post("/v1/videos", json=BODY, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 401 and "error" in answer.json()


def test_a_job_walks_through_its_states_then_serves_its_video_with_range(gateway):
    task_id = gateway.post("/v1/videos", json=BODY, headers=AUTH).json()["task_id"]
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = gateway.get(f"/v1/videos/{task_id}", headers=AUTH).json()
        if not seen or seen[-1] != status["status"]:
            seen.append(status["status"])
        assert status["progress"].endswith("%")
        if status["status"] == "SUCCESS":
            break
        time.sleep(0.02)
    assert seen[-1] == "SUCCESS" and "IN_PROGRESS" in seen and seen[0] in ("SUBMITTED", "QUEUED")
    assert status["result_url"] == f"/v1/videos/{task_id}/content"

    whole = gateway.get(status["result_url"], headers=AUTH)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = gateway.get(status["result_url"], headers={**AUTH, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    tail = gateway.get(status["result_url"], headers={**AUTH, "Range": f"bytes={len(whole.content)}-"})
    assert tail.status_code == 416


def test_the_block_marker_ends_in_failure_with_a_safety_reason(gateway):
    task_id = gateway.post("/v1/videos", json={**BODY, "prompt": "x #blocked"}, headers=AUTH).json()["task_id"]
    time.sleep(0.7)
    status = gateway.get(f"/v1/videos/{task_id}", headers=AUTH).json()
    assert status["status"] == "FAILURE" and "safety" in status["fail_reason"]
    assert gateway.get(f"/v1/videos/{task_id}/content", headers=AUTH).status_code == 404


def test_the_request_log_masks_keys(gateway):
    gateway.post("/v1/videos", json=BODY, headers=AUTH)
    entry = SimulatorRequest.objects.get()
    assert "sim-contract" not in str(entry.headers)


def test_the_request_log_masks_a_key_in_any_header_or_query_even_one_this_route_does_not_read(gateway):
    secret = "sim-contract-secret-key"
    gateway.get("/v1/videos/nope", params={"key": secret, "taskId": "x"}, headers={"x-goog-api-key": secret, **AUTH})
    entry = SimulatorRequest.objects.get()
    assert secret not in str(entry.headers) and secret not in entry.path
    assert "taskId=x" in entry.path and entry.headers["X-Goog-Api-Key"].endswith("…")
