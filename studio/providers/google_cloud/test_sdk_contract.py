"""Route 6's contract with Google's own client: google-genai in its Google Cloud mode drives our simulator.

`genai.Client(vertexai=True, project=…, location=…, credentials=…)` with a service-account key the
simulator issued: the SDK's `generate_videos` → `operations.get` (fetchPredictOperation) → the
operation's videos, exactly as Google's documentation shows it, against the simulator on loopback.
google-auth signs the token request and refreshes the token itself, so the simulator's token
endpoint is proven too; videos kept in a bucket are fetched with google-auth's own authorised
session from the simulated Cloud Storage. Nothing of the SDK is replaced; only its base URL points
here, and it speaks its default API version in this mode (v1beta1).

google-genai 2.34 (the dev dependency, pinned below 3 for route 5) is what this was written against.
"""

from __future__ import annotations

import io
import json
import time
from urllib.parse import quote

import av
import pytest
from django.conf import settings
from PIL import Image

from studio.simulator.models import SimulatedJob, SimulatorRequest
from studio.simulator.service_accounts import issue_key_file

genai = pytest.importorskip("google.genai", reason="google-genai is a dev dependency (pip install -e '.[dev]')")
types = pytest.importorskip("google.genai.types")
errors = pytest.importorskip("google.genai.errors")
service_account = pytest.importorskip("google.oauth2.service_account")
auth_requests = pytest.importorskip("google.auth.transport.requests")
auth_errors = pytest.importorskip("google.auth.exceptions")

pytestmark = pytest.mark.django_db(transaction=True)

FAST = "veo-3.1-fast-generate-001"
PROJECT_ID = "dailies-sim"
LOCATION = "us-central1"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@pytest.fixture
def credentials_of(simulator):
    """`credentials_of(key_file)`: google-auth's own service-account credentials from a key file."""

    def make(key_file: str | None = None):
        key_file = key_file or issue_key_file(
            project_id=PROJECT_ID, token_uri=f"{settings.SITE_URL}/simulator/google-cloud/token"
        )
        return service_account.Credentials.from_service_account_info(json.loads(key_file), scopes=SCOPES)

    return make


@pytest.fixture
def client_with(simulator):
    """`client_with(credentials)`: Google's client in its Google Cloud mode, pointed at route 6's simulator."""
    made = []

    def make(credentials):
        made.append(
            genai.Client(
                vertexai=True,
                project=PROJECT_ID,
                location=LOCATION,
                credentials=credentials,
                http_options=types.HttpOptions(base_url=f"{simulator.url}/simulator/google-cloud/"),
            )
        )
        return made[-1]

    yield make
    # Closed, so the test server's threads holding its kept-alive connections end before the database goes.
    for client in made:
        client.close()


@pytest.fixture
def credentials(credentials_of):
    return credentials_of()


@pytest.fixture
def client(client_with, credentials):
    return client_with(credentials)


def picture(color: str):
    out = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(out, format="PNG")
    return types.Image(image_bytes=out.getvalue(), mime_type="image/png")


def finished(client, operation, timeout: float = 60.0):
    """Poll as Google's documentation does (every 15 s there; the simulator is faster)."""
    deadline = time.monotonic() + timeout
    while not operation.done:
        assert time.monotonic() < deadline, "the simulator's operation never finished"
        time.sleep(0.2)
        operation = client.operations.get(operation)
    return operation


def job_video(job_id: str) -> bytes:
    with SimulatedJob.objects.get(pk=job_id).video.open("rb") as handle:
        return handle.read()


def test_text_to_two_videos_inline_with_the_sdks_own_enums_seed_and_audio(client, tmp_path):
    operation = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="A heron lifts off a misty pond"),
        config=types.GenerateVideosConfig(
            number_of_videos=2,
            duration_seconds=4,
            aspect_ratio="16:9",
            resolution="720p",
            person_generation="ALLOW_ADULT",
            enhance_prompt=True,
            generate_audio=True,
            seed=4242,
            negative_prompt="no text overlays",
            compression_quality="OPTIMIZED",
            labels={"team": "dailies"},
        ),
    )
    (sent,) = SimulatorRequest.objects.filter(path__endswith=":predictLongRunning")
    assert sent.status == 200 and sent.path.startswith(
        f"/simulator/google-cloud/v1beta1/projects/{PROJECT_ID}/locations/{LOCATION}/publishers/google/models/{FAST}"
    )
    body = json.loads(sent.body)
    assert body["parameters"] == {
        "sampleCount": 2,
        "durationSeconds": 4,
        "seed": 4242,
        "aspectRatio": "16:9",
        "resolution": "720p",
        "personGeneration": "ALLOW_ADULT",
        "negativePrompt": "no text overlays",
        "enhancePrompt": True,
        "generateAudio": True,
        "compressionQuality": "OPTIMIZED",
    }
    assert body["labels"] == {"team": "dailies"}
    # google-auth fetched its token from the key file's token_uri, on the simulator.
    assert SimulatorRequest.objects.filter(path="/simulator/google-cloud/token", status=200).count() == 1

    operation = finished(client, operation)
    assert operation.error is None
    videos = operation.result.generated_videos
    job_id = operation.name.rsplit("/", 1)[1]
    assert [video.video.video_bytes for video in videos] == [job_video(job_id), job_video(f"{job_id}s1")]
    assert all(video.video.uri is None and video.video.mime_type == "video/mp4" for video in videos)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(videos[1].video.video_bytes)
    with av.open(str(clip)) as container:
        (stream,) = container.streams.video
        assert (stream.width, stream.height, len(container.streams.audio)) == (1280, 720, 1)
        assert float(container.duration or 0) / av.time_base == pytest.approx(4.0, abs=0.1)


def test_first_and_last_frame_and_asset_references_are_accepted_as_the_sdk_sends_them(client):
    first = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="Dusk to night", image=picture("orange")),
        config=types.GenerateVideosConfig(last_frame=picture("navy"), duration_seconds=8, resize_mode="pad"),
    )
    references = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="The same fox, in the snow"),
        config=types.GenerateVideosConfig(
            duration_seconds=8,
            aspect_ratio="16:9",
            reference_images=[
                types.VideoGenerationReferenceImage(image=picture(color), reference_type="ASSET")
                for color in ("red", "white", "black")
            ],
        ),
    )
    bodies = [entry.body for entry in SimulatorRequest.objects.filter(path__endswith=":predictLongRunning")]
    assert '"lastFrame"' in bodies[0] and bodies[1].count('"referenceType": "ASSET"') == 3
    for operation in (first, references):
        done = finished(client, operation)
        (video,) = done.result.generated_videos
        assert video.video.video_bytes == job_video(done.name.rsplit("/", 1)[1])


def test_videos_kept_in_a_bucket_come_back_as_gs_uris_read_with_googles_own_session(client, credentials, simulator):
    operation = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="Harbour lights"),
        config=types.GenerateVideosConfig(duration_seconds=4, output_gcs_uri="gs://dailies-renders/sdk/"),
    )
    (video,) = finished(client, operation).result.generated_videos
    job_id = operation.name.rsplit("/", 1)[1]
    assert video.video.uri == f"gs://dailies-renders/sdk/{job_id}/sample_0.mp4" and video.video.video_bytes is None
    # Cloud Storage's JSON API, with the same credentials, through google-auth's authorised session.
    name = quote(f"sdk/{job_id}/sample_0.mp4", safe="")
    session = auth_requests.AuthorizedSession(credentials)
    fetched = session.get(f"{simulator.url}/simulator/google-cloud/storage/v1/b/dailies-renders/o/{name}?alt=media")
    assert fetched.status_code == 200 and fetched.content == job_video(job_id)

    # A Veo video in the bucket can be extended: the SDK sends it as the instance's `video`.
    extension = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="The boat sails on", video=types.Video(uri=video.video.uri)),
        config=types.GenerateVideosConfig(duration_seconds=7, resolution="720p"),
    )
    sent = json.loads(SimulatorRequest.objects.filter(path__endswith=":predictLongRunning").last().body)
    assert sent["instances"][0]["video"] == {"gcsUri": video.video.uri}
    (extended,) = finished(client, extension).result.generated_videos
    assert extended.video.video_bytes


def test_safety_refusals_read_as_googles_error_and_rai_fields(client):
    refused = finished(
        client, client.models.generate_videos(model=FAST, source=types.GenerateVideosSource(prompt="A fight #blocked"))
    )
    assert refused.error["code"] == 3 and "Responsible AI practices" in refused.error["message"]
    filtered = finished(
        client, client.models.generate_videos(model=FAST, source=types.GenerateVideosSource(prompt="A fight #filtered"))
    )
    assert not filtered.result.generated_videos and filtered.result.rai_media_filtered_count == 1
    assert "usage policies" in filtered.result.rai_media_filtered_reasons[0]


def test_what_google_refuses_comes_back_to_the_sdk_as_its_own_errors(client, client_with, credentials_of):
    with pytest.raises(errors.ClientError) as refused:
        client.models.generate_videos(
            model=FAST,
            source=types.GenerateVideosSource(prompt="Rain"),
            config=types.GenerateVideosConfig(number_of_videos=5),
        )
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"
    assert "sampleCount must be an integer from 1 to 4" in refused.value.message

    with pytest.raises(errors.ClientError) as retired:
        client.models.generate_videos(model="veo-3.0-generate-001", source=types.GenerateVideosSource(prompt="Rain"))
    assert retired.value.code == 404 and "was not found or your project does not have access" in retired.value.message

    # A key the simulator never issued: google-auth's own refusal, before any API request.
    stranger = json.loads(
        issue_key_file(project_id=PROJECT_ID, token_uri=f"{settings.SITE_URL}/simulator/google-cloud/token")
    )
    stranger["private_key_id"] = "f" * 40  # a key id the simulator does not know
    with pytest.raises(auth_errors.RefreshError, match="invalid_grant"):
        client_with(credentials_of(json.dumps(stranger))).models.generate_videos(
            model=FAST, source=types.GenerateVideosSource(prompt="Rain")
        )
    assert SimulatorRequest.objects.filter(path__endswith=":predictLongRunning").count() == 2
