"""Route 5's contract with Google's own client: google-genai drives our simulator over real HTTP.

`client.models.generate_videos(...)` → `client.operations.get(...)` →
`client.files.download(...)`, exactly as Google's documentation shows it,
against the simulator on loopback. This proves the simulator accepts what the
SDK sends (upper-case enums, `enhancePrompt`, `sampleCount`) and the SDK reads
what the simulator answers (operations, file URIs, inline videos). Nothing of
the SDK is replaced.

google-genai is pinned below 3 in the dev dependencies: 3.x (checked with
3.6.1) raises "This method is only supported in Gemini Enterprise Agent
Platform mode, not in Gemini Developer API mode" from `generate_videos` before
sending anything, so it cannot speak to the Gemini API at all for Veo; 2.34.0
is the newest 2.x and is what this was written against.
"""

from __future__ import annotations

import io
import time

import av
import pytest
from PIL import Image

from studio.simulator.models import SimulatedJob, SimulatorRequest

genai = pytest.importorskip("google.genai", reason="google-genai is a dev dependency (pip install -e '.[dev]')")
types = pytest.importorskip("google.genai.types")
errors = pytest.importorskip("google.genai.errors")

pytestmark = pytest.mark.django_db(transaction=True)

FAST = "veo-3.1-fast-generate-001"


@pytest.fixture
def client_with(simulator):
    """`client_with(key)`: Google's client in Gemini API mode, pointed at route 5's simulator instead of Google."""
    made = []

    def make(key: str):
        made.append(
            genai.Client(
                vertexai=False,
                api_key=key,
                http_options=types.HttpOptions(base_url=f"{simulator.url}/simulator/gemini/", api_version="v1beta"),
            )
        )
        return made[-1]

    yield make
    # Closed, so the test server's threads holding its kept-alive connections end before the database goes.
    for client in made:
        client.close()


@pytest.fixture
def client(client_with, sim_key):
    return client_with(sim_key)


def picture(color: str):
    out = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(out, format="PNG")
    return types.Image(image_bytes=out.getvalue(), mime_type="image/png")


def finished(client, operation, timeout: float = 60.0):
    """Poll as Google's documentation does (every 10 s there; the simulator is faster)."""
    deadline = time.monotonic() + timeout
    while not operation.done:
        assert time.monotonic() < deadline, "the simulator's operation never finished"
        time.sleep(0.2)
        operation = client.operations.get(operation)
    return operation


def job_video(job_id: str) -> bytes:
    with SimulatedJob.objects.get(pk=job_id).video.open("rb") as handle:
        return handle.read()


def test_text_to_two_videos_with_the_sdks_own_enums_then_download_each(client, tmp_path):
    operation = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="A heron lifts off a misty pond"),
        config=types.GenerateVideosConfig(
            number_of_videos=2,
            duration_seconds=4,
            aspect_ratio="16:9",
            resolution="720p",
            person_generation="ALLOW_ALL",
            enhance_prompt=True,
            negative_prompt="no text overlays",
        ),
    )
    sent = SimulatorRequest.objects.get(method="POST")
    assert sent.status == 200 and '"sampleCount": 2' in sent.body and '"personGeneration": "ALLOW_ALL"' in sent.body
    assert '"enhancePrompt": true' in sent.body

    operation = finished(client, operation)
    assert operation.error is None
    videos = operation.result.generated_videos
    assert len(videos) == 2 and all(video.video.uri.startswith("https://") for video in videos)

    job_id = operation.name.rsplit("/", 1)[1]
    downloaded = [client.files.download(file=video) for video in videos]
    assert downloaded == [job_video(job_id), job_video(f"{job_id}s1")]
    assert downloaded[0] != downloaded[1]
    # The SDK also keeps the bytes on the Video it was given, as its documentation says.
    assert videos[0].video.video_bytes == downloaded[0]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(downloaded[1])
    with av.open(str(clip)) as container:
        (stream,) = container.streams.video
        assert (stream.width, stream.height, len(container.streams.audio)) == (1280, 720, 1)
        assert float(container.duration or 0) / av.time_base == pytest.approx(4.0, abs=0.1)


def test_first_and_last_frame_and_asset_references_are_accepted_as_the_sdk_sends_them(client):
    first = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="Dusk to night", image=picture("orange")),
        config=types.GenerateVideosConfig(last_frame=picture("navy"), duration_seconds=8),
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
    bodies = [entry.body for entry in SimulatorRequest.objects.filter(method="POST").order_by("pk")]
    assert '"lastFrame"' in bodies[0] and bodies[1].count('"referenceType": "ASSET"') == 3
    for operation in (first, references):
        done = finished(client, operation)
        (video,) = done.result.generated_videos
        assert client.files.download(file=video.video) == job_video(done.name.rsplit("/", 1)[1])


def test_an_inline_answer_reaches_the_sdk_as_video_bytes(client):
    operation = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="Harbour lights #inline"),
        config=types.GenerateVideosConfig(duration_seconds=4),
    )
    (video,) = finished(client, operation).result.generated_videos
    assert video.video.uri is None and video.video.mime_type == "video/mp4"
    assert video.video.video_bytes == job_video(operation.name.rsplit("/", 1)[1])


def test_a_safety_filtered_operation_reads_as_googles_rai_fields(client):
    operation = client.models.generate_videos(
        model=FAST, source=types.GenerateVideosSource(prompt="A street fight #filtered")
    )
    result = finished(client, operation).result
    assert not result.generated_videos and result.rai_media_filtered_count == 1
    assert "usage policies" in result.rai_media_filtered_reasons[0]


def test_the_sdk_itself_refuses_a_seed_in_gemini_api_mode_which_is_why_route_5_sends_none(client):
    with pytest.raises(ValueError, match="seed parameter is only supported"):
        client.models.generate_videos(
            model=FAST, source=types.GenerateVideosSource(prompt="x"), config=types.GenerateVideosConfig(seed=7)
        )
    assert not SimulatorRequest.objects.exists()


def test_what_google_refuses_comes_back_to_the_sdk_as_its_client_error(client, client_with):
    with pytest.raises(errors.ClientError) as refused:
        client.models.generate_videos(
            model=FAST,
            source=types.GenerateVideosSource(prompt="Rain"),
            config=types.GenerateVideosConfig(number_of_videos=5),
        )
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"
    assert "sampleCount must be an integer from 1 to 4" in refused.value.message
    wrong_key = client_with("AIza-not-issued")
    with pytest.raises(errors.ClientError) as refused:
        wrong_key.models.generate_videos(model=FAST, source=types.GenerateVideosSource(prompt="Rain"))
    assert refused.value.code == 400 and "API key not valid" in refused.value.message
