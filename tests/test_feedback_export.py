"""Feedback to take away: a playlist's comments and statuses as CSV (safe in a spreadsheet) and as a
printable page with the still of each timecoded comment's frame, decoded once and kept."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from studio.clips.models import Clip
from studio.review import export, playlists
from studio.review.models import Comment, Playlist
from studio.simulator.render import render_clip

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """A real two-second clip at 24 fps whose frames each show their own number."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    render_clip(path, width=960, height=540, duration_s=2.0, audio=False, title_lines=["Frame check"], seed=3)
    return path


@pytest.fixture
def real_clip(project, people, pending_task, archived_clip, video) -> Clip:
    clip = archived_clip(
        pending_task(project, people["owner"], text="A lighthouse at dawn"), content=video.read_bytes()
    )
    Clip.objects.filter(pk=clip.pk).update(width=960, height=540, duration_s=2.0, frame_rate=24.0)
    clip.refresh_from_db()
    return clip


@pytest.fixture
def playlist(project, people) -> Playlist:
    return playlists.create(project=project, name="Client cut", by=people["editor"])


def read_csv(answer) -> list[dict[str, str]]:
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"].startswith('attachment; filename="feedback-client-cut-')
    return list(csv.DictReader(io.StringIO(answer.content.decode())))


def frame_of(video: Path, index: int) -> Image.Image:
    with av.open(str(video)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n == index:
                return frame.to_image()
    raise AssertionError(f"no frame {index}")


def test_timecodes_count_hours_minutes_seconds_and_frames():
    assert export.timecode(0, 24) == "00:00:00:00"
    assert export.timecode(48, 24) == "00:00:02:00"
    assert export.timecode(24 * 3661 + 5, 24) == "01:01:01:05"
    assert export.timecode(31, 29.97) == "00:00:01:01"


def test_the_csv_has_every_thread_with_its_replies_and_every_clips_status(
    project, people, clients, playlist, pending_task, archived_clip, real_clip
):
    quiet = archived_clip(pending_task(project, people["owner"], text="A quiet harbour"))
    Clip.objects.filter(pk=quiet.pk).update(
        review_status=Clip.Review.CHANGES_REQUESTED, reviewed_by=people["reviewer"], review_note="Warmer"
    )
    playlists.add_clips(playlist, [real_clip, quiet])
    head = Comment.objects.create(
        project=project, clip=real_clip, author=people["editor"], text="Gull too big", frame_in=12, frame_out=30
    )
    Comment.objects.create(project=project, clip=real_clip, parent=head, guest_name="Ada (client)", text="Agreed")
    Comment.objects.create(project=project, clip=real_clip, author=people["owner"], text="Lovely overall")
    rows = read_csv(clients["viewer"].get(f"/playlists/{playlist.pk}/feedback.csv"))

    assert [(row["clip"], row["text"]) for row in rows] == [
        (str(real_clip.pk), "Gull too big"),
        (str(real_clip.pk), "Lovely overall"),
        (str(quiet.pk), ""),
    ]
    first, overall, no_comments = rows
    assert first["frame in"] == "12" and first["frame out"] == "30"
    assert first["timecode in"] == "00:00:00:12" and first["timecode out"] == "00:00:01:06"
    assert first["comment author"] == "editor" and first["guest"] == "no" and first["resolved"] == "no"
    assert first["replies"] == "Ada (client) (guest): Agreed"
    assert first["kind"] == "Draft" and first["version"] == "v1" and first["seed"] == "1"
    assert first["prompt"] == "A lighthouse at dawn" and first["review status"] == "Needs review"
    assert overall["frame in"] == "" and overall["timecode in"] == ""
    assert no_comments["review status"] == "Changes requested"
    assert no_comments["reviewed by"] == "reviewer" and no_comments["review note"] == "Warmer"
    assert project.activity.filter(verb="exported", words__contains="Client cut").count() == 1


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tpadded"])
def test_cells_a_spreadsheet_would_run_start_with_a_quote(project, people, clients, playlist, real_clip, text):
    playlists.add_clips(playlist, [real_clip])
    Comment.objects.create(project=project, clip=real_clip, guest_name="=cmd|' /C calc'!A0", text=text)
    [row] = read_csv(clients["viewer"].get(f"/playlists/{playlist.pk}/feedback.csv"))
    assert row["text"] == "'" + text
    assert row["comment author"] == "'=cmd|' /C calc'!A0"
    assert row["guest"] == "yes"


def test_feedback_rows_serve_any_list_of_clips_and_can_leave_prompts_out(project, people, real_clip):
    Comment.objects.create(project=project, clip=real_clip, author=people["owner"], text="Hold longer", frame_in=5)
    [row] = export.feedback_rows([real_clip], show_prompts=False)
    assert row[export.CSV_HEADER.index("prompt")] == ""
    assert row[export.CSV_HEADER.index("text")] == "Hold longer"
    response = export.csv_response([row], filename="feedback.csv")
    assert response.content.decode().splitlines()[0] == ",".join(export.CSV_HEADER)


def test_the_frame_still_is_a_jpeg_of_that_frame_made_once(clients, real_clip, video, media):
    answer = clients["viewer"].get(f"/clips/{real_clip.pk}/frames/30.jpg")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/jpeg"
    assert "private" in answer["Cache-Control"]
    still = Image.open(io.BytesIO(answer.content))
    assert still.format == "JPEG" and still.size == (640, 360), "as wide as a poster, in the clip's shape"

    # The very frame: each frame shows its own number, so neighbours differ where the number is.
    def distance(index: int) -> float:
        expected = frame_of(video, index).resize(still.size).convert("RGB")
        return sum(ImageStat.Stat(ImageChops.difference(still.convert("RGB"), expected)).mean)

    assert distance(30) < distance(29) and distance(30) < distance(31)
    assert distance(30) < 6

    kept = media / export.frame_name(real_clip, 30)
    assert kept.is_file()
    made = kept.stat().st_mtime_ns
    again = clients["owner"].get(f"/clips/{real_clip.pk}/frames/30.jpg")
    assert again.content == answer.content and kept.stat().st_mtime_ns == made
    assert len(list(kept.parent.iterdir())) == 1


def test_frame_stills_are_checked_like_clip_media(clients, real_clip):
    assert clients["outsider"].get(f"/clips/{real_clip.pk}/frames/0.jpg").status_code == 404
    assert clients["viewer"].get(f"/clips/{real_clip.pk}/frames/48.jpg").status_code == 404, "2 s at 24 fps: 0–47"
    assert clients["viewer"].get(f"/clips/{real_clip.pk}/frames/47.jpg").status_code == 200


def test_a_clip_that_does_not_decode_says_so(clients, project, people, pending_task, archived_clip):
    broken = archived_clip(pending_task(project, people["owner"]), content=b"not really a video")
    answer = clients["viewer"].get(f"/clips/{broken.pk}/frames/3.jpg")
    assert answer.status_code == 422 and b"could not be shown" in answer.content


def test_the_printable_page_shows_each_timecoded_comment_beside_its_frame(
    project, people, clients, playlist, real_clip
):
    playlists.add_clips(playlist, [real_clip])
    Comment.objects.create(
        project=project, clip=real_clip, author=people["editor"], text="<script>alert(1)</script>", frame_in=36
    )
    Comment.objects.create(project=project, clip=real_clip, author=people["owner"], text="No frame here")
    html = clients["viewer"].get(f"/playlists/{playlist.pk}/feedback").content.decode()
    assert html.count(f'src="/clips/{real_clip.pk}/frames/') == 1
    assert f'src="/clips/{real_clip.pk}/frames/36.jpg"' in html
    assert "00:00:01:12 · frame 36" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "about the whole clip" in html
    assert "@media print" in Path("static/css/review.css").read_text()
