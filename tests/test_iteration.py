"""Iteration: variations, grids, recall and image inputs, checked before anything is spent."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from studio.images.models import InputImage
from studio.prompts.models import PromptVersion
from studio.tasks.models import Batch, Task

pytestmark = pytest.mark.django_db


def png(width=320, height=180, color=(200, 80, 40), kind="PNG") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, kind)
    suffix = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}[kind]
    return SimpleUploadedFile(f"frame.{suffix}", buffer.getvalue(), content_type=f"image/{suffix}")


@pytest.fixture
def draft(draft_form):
    """`draft(client, project, files=None, **fields)`: post the draft form as HTMX does."""

    def post(client, project, files=None, **fields):
        data = draft_form(**fields)
        if files:
            data.update(files)
        return client.post(f"/projects/{project.pk}/draft", data, HTTP_HX_REQUEST="true")

    return post


def test_variations_make_a_group_of_drafts_with_distinct_seeds(owner_client, project, draft):
    answer = draft(owner_client, project, variations="4", form_token="v-1")
    assert answer.status_code == 200
    batch = Batch.objects.get()
    assert batch.kind == "variations"
    tasks = list(batch.tasks.order_by("cell_column"))
    assert len(tasks) == 4 and len({t.seed for t in tasks}) == 4
    assert {t.prompt_version_id for t in tasks} == {PromptVersion.objects.get().pk}
    assert [t.cell_column for t in tasks] == [0, 1, 2, 3]
    assert f'id="batch-{batch.pk}"'.encode() in answer.content
    # A resent form makes no second group.
    draft(owner_client, project, variations="4", form_token="v-1")
    assert Task.objects.count() == 4


def test_more_than_eight_variations_are_refused(owner_client, project, draft):
    answer = draft(owner_client, project, variations="9")
    assert "at a time" in answer.content.decode() and Task.objects.count() == 0


def test_the_quote_shows_the_total_for_all_variations(owner_client, project):
    answer = owner_client.get(
        f"/projects/{project.pk}/draft/quote",
        {"tier": "fast", "resolution": "720p", "duration_s": "4", "variations": "3"},
    )
    # Fast 720p silent: $0.10/s on the default price card → $0.40 each.
    assert "3 × $0.40 = <strong>$1.20</strong>" in answer.content.decode()


def grid(client, project, **fields):
    version = PromptVersion.objects.filter(prompt__project=project).first()
    data = {
        "version": version.pk,
        "tier": "fast",
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "duration_s": "4",
        "seed": "",
        "columns": "seed",
        "column_values": "11, 22",
        "rows": "aspect_ratio",
        "row_values": "16:9, 9:16",
        "form_token": "g-1",
    }
    data.update(fields)
    return client.post(f"/projects/{project.pk}/grids/new", data)


@pytest.fixture
def with_prompt(owner_client, project, draft):
    draft(owner_client, project, form_token="first")
    Task.objects.all().delete()
    return project


def test_a_grid_makes_one_task_per_cell(owner_client, with_prompt):
    answer = grid(owner_client, with_prompt)
    batch = Batch.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/batches/{batch.pk}/"
    cells = {(t.cell_column, t.cell_row): t for t in batch.tasks.all()}
    assert len(cells) == 4
    assert (cells[(0, 0)].seed, cells[(0, 0)].aspect_ratio) == (11, "16:9")
    assert (cells[(1, 1)].seed, cells[(1, 1)].aspect_ratio) == (22, "9:16")
    page = owner_client.get(f"/batches/{batch.pk}/").content.decode()
    assert page.count('class="task-card') == 4 and "seed 22" in page and "9:16" in page


def test_the_grid_preview_shows_cells_and_total_before_sending(owner_client, with_prompt):
    version = PromptVersion.objects.first()
    answer = owner_client.get(
        f"/projects/{with_prompt.pk}/grids/quote",
        {
            "version": version.pk,
            "tier": "fast",
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "duration_s": "4",
            "columns": "duration_s",
            "column_values": "4, 6, 8",
            "rows": "tier",
            "row_values": "lite, fast",
        },
    )
    html = answer.content.decode()
    # lite 720p silent $0.03/s and fast $0.10/s over 4+6+8 s.
    assert "6 cells" in html and "$2.34" in html
    assert Task.objects.count() == 0


def test_a_grid_over_the_cap_is_refused_with_the_cap_named(owner_client, with_prompt):
    answer = grid(
        owner_client,
        with_prompt,
        columns="seed",
        column_values=", ".join(str(i) for i in range(9)),
        rows="aspect_ratio",
        row_values="16:9, 9:16",
    )
    assert answer.status_code == 400
    assert "That is 18 cells; a grid has at most 16." in answer.content.decode()
    assert Task.objects.count() == 0


def test_a_grid_cell_the_route_cannot_render_names_the_cell(owner_client, with_prompt):
    answer = grid(
        owner_client,
        with_prompt,
        resolution="1080p",
        columns="duration_s",
        column_values="4, 8",
        rows="",
        row_values="",
    )
    html = answer.content.decode()
    assert answer.status_code == 400 and "Cell 4 s: 1080p and 4k need 8 s on this route." in html
    assert Task.objects.count() == 0


def test_bad_axis_values_are_named(owner_client, with_prompt):
    answer = grid(owner_client, with_prompt, column_values="11, eleven")
    assert "“eleven” is not a value here" in answer.content.decode()


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_reviewers_and_viewers_cannot_start_a_grid(clients, with_prompt, role):
    assert grid(clients[role], with_prompt).status_code == 403
    assert Task.objects.count() == 0


def test_an_outsider_does_not_see_the_grid_form(clients, with_prompt):
    assert clients["outsider"].get(f"/projects/{with_prompt.pk}/grids/new").status_code == 404


def test_use_these_settings_fills_the_editor(owner_client, project, draft):
    draft(owner_client, project, seed="777", aspect_ratio="9:16", duration_s="6", prompt="A heron lifts off")
    draft(owner_client, project, form_token="other", prompt="Something else entirely")
    heron = Task.objects.get(seed=777)
    page = owner_client.get(f"/projects/{project.pk}/?from_task={heron.pk}").content.decode()
    assert "A heron lifts off</textarea>" in page
    assert 'name="seed" value="777"' in page
    assert '<option value="9:16" selected>' in page and '<option value="6" selected>' in page


def test_an_uploaded_first_frame_is_stored_with_a_thumbnail_and_sent(owner_client, project, draft):
    draft(owner_client, project, files={"first_frame": png()})
    task = Task.objects.get()
    image = InputImage.objects.get()
    assert task.parameters["first_frame"] == image.pk
    assert (image.width, image.height, image.mime_type) == (320, 180, "image/png")
    with Image.open(image.thumbnail.path) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= 320
    thumb = owner_client.get(f"/images/{image.pk}/thumbnail")
    assert thumb.status_code == 200


@pytest.mark.parametrize(
    ("upload", "words"),
    [
        (SimpleUploadedFile("notes.png", b"not an image at all", content_type="image/png"), "not a readable"),
        (png(kind="GIF"), "use JPG, PNG or WebP"),
        (png(width=20, height=20), "64 to 8192 pixels"),
    ],
)
def test_bad_images_are_refused_with_a_clear_message(owner_client, project, upload, words, draft):
    answer = draft(owner_client, project, files={"first_frame": upload})
    assert words in answer.content.decode()
    assert Task.objects.count() == 0


def test_a_decompression_bomb_is_refused(owner_client, project, monkeypatch, draft):
    from studio.images import checks

    monkeypatch.setattr(checks, "MAX_PIXELS", 1000)
    answer = draft(owner_client, project, files={"first_frame": png()})
    assert "too many pixels" in answer.content.decode() and Task.objects.count() == 0


def test_an_image_over_ten_megabytes_is_refused(owner_client, project, draft):
    big = SimpleUploadedFile("huge.png", b"\0" * (10 * 1024 * 1024 + 1), content_type="image/png")
    answer = draft(owner_client, project, files={"first_frame": big})
    assert "at most 10 MB" in answer.content.decode() and Task.objects.count() == 0


def test_reference_images_follow_the_routes_rule(owner_client, project, draft):
    answer = draft(owner_client, project, files={"references": [png()]}, duration_s="4")
    assert "Reference images need 8 s clips at 16:9 on this route." in answer.content.decode()
    assert Task.objects.count() == 0


def test_public_image_links_need_the_token_only(client, owner_client, project, draft):
    draft(owner_client, project, files={"first_frame": png()})
    image = InputImage.objects.get()
    assert client.get(f"/i/{image.public_token}").status_code == 200
    assert client.get("/i/not-the-token").status_code == 404


def test_a_grid_across_prompt_versions_is_stored_by_version_id(owner_client, with_prompt, draft):
    draft(owner_client, with_prompt, form_token="second", prompt="A lighthouse at dawn, waves below")
    versions = list(PromptVersion.objects.order_by("number"))
    answer = grid(owner_client, with_prompt, columns="version", column_values="1, 2", rows="", row_values="")
    assert answer.status_code == 302
    batch = Batch.objects.get()
    assert batch.axes[0]["values"] == [v.pk for v in versions] and batch.axes[0]["labels"] == ["v1", "v2"]
    texts = [t.prompt_version.text for t in batch.tasks.order_by("cell_column")]
    assert texts == [v.text for v in versions]


def test_a_grid_on_a_route_that_takes_no_seed_offers_no_seed_axis(db, make_people, make_project, client_for, draft):
    people = make_people()
    gemini = make_project(people, name="Gemini", route="gemini")  # route 5 sends no seed
    client = client_for(people["owner"])
    draft(client, gemini, form_token="first")
    Task.objects.all().delete()
    page = client.get(f"/projects/{gemini.pk}/grids/new").content.decode()
    assert 'name="seed"' not in page and '<option value="seed"' not in page
    assert "seed (e.g." not in page and '<option value="aspect_ratio" selected>' in page
    refused = grid(client, gemini, columns="seed", column_values="11, 22", form_token="g-seed")
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()
    assert Task.objects.count() == 0
    grid(client, gemini, columns="aspect_ratio", column_values="16:9, 9:16", rows="", row_values="", form_token="g-2")
    assert Task.objects.count() == 2
