"""Provider accounts: owners add them, keys stay encrypted and masked, a test spends nothing."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from studio.providers.base import Tier
from studio.providers.checks import check_connection
from studio.providers.models import ProviderAccount
from studio.providers.registry import ROUTES, get_route
from studio.simulator.models import SimulatedJob, SimulatorRequest
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db

NEW = {
    "label": "Gateway",
    "route": "videos-gateway",
    "base_url": "/simulator/videos-gateway",
    "poll_interval_s": "",
    "api_key": "sim-secret-key-123456",
    "options_text": "",
}


def test_the_owner_adds_an_account_with_the_key_encrypted_and_masked(owner_client, project, caplog):
    with caplog.at_level(logging.DEBUG):
        answer = owner_client.post(f"/projects/{project.pk}/accounts/add", NEW)
    assert answer.status_code == 302
    account = ProviderAccount.objects.get(label="Gateway")
    assert account.api_key == "sim-secret-key-123456"
    assert "sim-secret-key-123456" not in account.api_key_encrypted
    page = owner_client.get(f"/projects/{project.pk}/accounts/").content.decode()
    assert "••••3456" in page and "sim-secret-key-123456" not in page
    assert "sim-secret-key-123456" not in caplog.text


def test_editing_without_a_key_keeps_the_old_one(owner_client, project):
    account = project.draft_account
    before = account.api_key
    owner_client.post(f"/accounts/{account.pk}/", {**NEW, "label": "Renamed", "api_key": ""})
    account.refresh_from_db()
    assert account.label == "Renamed" and account.api_key == before


@pytest.mark.parametrize("role", ["editor", "reviewer", "viewer"])
def test_only_the_owner_manages_accounts(clients, project, role):
    client = clients[role]
    assert client.get(f"/projects/{project.pk}/accounts/").status_code == 200
    assert client.post(f"/projects/{project.pk}/accounts/add", NEW).status_code == 403
    assert client.post(f"/accounts/{project.draft_account.pk}/test").status_code == 403
    assert ProviderAccount.objects.count() == 1


def test_an_outsider_does_not_see_the_accounts(clients, project):
    assert clients["outsider"].get(f"/projects/{project.pk}/accounts/").status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("base_url", "ftp://example", "Use an http(s):// address"),
        ("options_text", "{not json", "Not valid JSON"),
        ("options_text", "[1, 2]", "Options are a JSON object"),
        ("api_key", "", "This field is required"),
        ("model_fast", "veo fast", "no spaces"),
        ("model_lite", "x/../y", "no spaces"),
        ("model_lite", "veo?key=1", "no spaces"),
    ],
)
def test_bad_account_fields_are_refused_inline(owner_client, project, field, value, words):
    answer = owner_client.post(f"/projects/{project.pk}/accounts/add", {**NEW, field: value})
    assert answer.status_code == 400 and words in answer.content.decode()
    assert ProviderAccount.objects.count() == 1


def test_the_owner_routes_drafts_and_finals_to_different_accounts(owner_client, project):
    owner_client.post(f"/projects/{project.pk}/accounts/add", NEW)
    other = ProviderAccount.objects.get(label="Gateway")
    owner_client.post(
        f"/projects/{project.pk}/accounts/", {"draft_account": project.draft_account.pk, "final_account": other.pk}
    )
    project.refresh_from_db()
    assert project.final_account == other and project.draft_account != other


@pytest.mark.django_db(transaction=True)
def test_test_connection_runs_in_a_worker_and_spends_nothing(simulator, owner_client, project):
    answer = owner_client.post(f"/accounts/{project.draft_account.pk}/test", HTTP_HX_REQUEST="true")
    assert "Testing…" in answer.content.decode()  # queued for a worker, not done in the request
    check_connection(project.draft_account.pk)
    account = ProviderAccount.objects.get(pk=project.draft_account.pk)
    assert account.check_ok is True and "Nothing was spent" in account.check_message
    assert SimulatedJob.objects.count() == 0
    assert SimulatorRequest.objects.filter(method="POST").count() == 0


@pytest.mark.django_db(transaction=True)
def test_test_connection_reports_a_refused_key(simulator, people, project):
    account = project.draft_account
    account.set_api_key("wrong-key")
    account.save()
    check_connection(account.pk)
    account.refresh_from_db()
    assert account.check_ok is False and "rejected the API key" in account.check_message


def test_an_account_is_being_tested_from_the_ask_until_the_workers_answer(project):
    account = project.draft_account
    assert not account.is_being_tested
    asked = timezone.now()
    account.check_requested_at = asked
    assert account.is_being_tested
    account.checked_at = asked - timedelta(minutes=5)  # an answer to an earlier ask
    assert account.is_being_tested
    account.checked_at = asked + timedelta(seconds=1)
    assert not account.is_being_tested


def test_routes_are_named_in_plain_words_with_the_seed_as_a_small_note(owner_client, project):
    for slug in ROUTES:
        route = get_route(slug)
        assert "seed" not in route.name and "/" not in route.name and "(" not in route.name, route.name
    page = owner_client.get(f"/projects/{project.pk}/accounts/").content.decode()
    # The sample project's account is on route 4.
    assert 'Video gateway <small class="muted">seed 004</small>' in page
    assert "/v1/videos gateway" not in page and "(seed" not in page
    # The Add form's route choices read the same plain names.
    assert '<option value="gemini">Google Gemini API</option>' in page
    assert '<option value="openai-video">OpenAI-style video API</option>' in page


def test_only_the_edit_form_offers_to_keep_the_current_key(owner_client, project):
    keep = "Leave blank to keep the current key"
    add = owner_client.get(f"/projects/{project.pk}/accounts/").content.decode()
    assert "Add an account" in add and "Stored encrypted, shown masked, never logged." in add
    assert keep not in add
    edit = owner_client.get(f"/accounts/{project.draft_account.pk}/").content.decode()
    assert keep in edit


# --- Route 6: a Google Cloud project, its location and a service-account key file ----------------------


def google_key_file() -> str:
    """A well-formed service-account key file (a fresh private key no one issued: the form makes no request)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key = {
        "type": "service_account",
        "project_id": "my-studio-123",
        "private_key_id": "2" * 40,
        "private_key": pem,
        "client_email": "dailies@my-studio-123.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return json.dumps(key, indent=2)


GOOGLE = {
    "label": "Cloud",
    "route": "google-cloud",
    "base_url": "",
    "poll_interval_s": "",
    "api_key": "",
    "options_text": '{"storage_uri": "gs://renders/dailies/"}',
    "google_project_id": "my-studio-123",
    "google_location": "us-central1",
}


def test_the_owner_adds_a_google_cloud_account_with_its_key_file_project_and_location(owner_client, project, caplog):
    key = google_key_file()
    with caplog.at_level(logging.DEBUG):
        answer = owner_client.post(f"/projects/{project.pk}/accounts/add", {**GOOGLE, "service_account_key": key})
    assert answer.status_code == 302, answer.content.decode()[:3000]
    account = ProviderAccount.objects.get(label="Cloud")
    assert account.api_key == key.strip() and "PRIVATE KEY" not in account.api_key_encrypted
    assert account.options == {
        "storage_uri": "gs://renders/dailies/",
        "project_id": "my-studio-123",
        "location": "us-central1",
    }
    private_line = json.loads(key)["private_key"].splitlines()[1]
    for page in (
        owner_client.get(f"/projects/{project.pk}/accounts/").content.decode(),
        owner_client.get(f"/accounts/{account.pk}/").content.decode(),
    ):
        assert private_line not in page and "PRIVATE KEY" not in page
    assert private_line not in caplog.text
    # The edit form shows the project and location in their own fields, and the rest as options.
    edit = owner_client.get(f"/accounts/{account.pk}/").content.decode()
    assert 'value="my-studio-123"' in edit and 'value="us-central1"' in edit
    assert "{&quot;storage_uri&quot;: &quot;gs://renders/dailies/&quot;}" in edit


def test_a_google_cloud_account_without_a_key_file_uses_the_machines_credentials(owner_client, project):
    answer = owner_client.post(f"/projects/{project.pk}/accounts/add", GOOGLE)
    assert answer.status_code == 302
    account = ProviderAccount.objects.get(label="Cloud")
    assert account.api_key == "" and account.options["project_id"] == "my-studio-123"
    # Editing with a key file sets it; editing without one keeps it; the box asks for default credentials.
    key = google_key_file()
    owner_client.post(f"/accounts/{account.pk}/", {**GOOGLE, "service_account_key": key})
    account.refresh_from_db()
    assert account.api_key == key.strip()
    owner_client.post(f"/accounts/{account.pk}/", {**GOOGLE, "label": "Renamed"})
    account.refresh_from_db()
    assert account.label == "Renamed" and account.api_key == key.strip()
    owner_client.post(f"/accounts/{account.pk}/", {**GOOGLE, "use_default_credentials": "on"})
    account.refresh_from_db()
    assert account.api_key == ""


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"service_account_key": "AIzaSy-not-a-file"}, "service_account_key", "This is not a JSON key file"),
        ({"service_account_key": "[1, 2]"}, "service_account_key", "A key file is one JSON object"),
        (
            {"service_account_key": '{"type": "authorized_user", "refresh_token": "x"}'},
            "service_account_key",
            "not a service account",
        ),
        (
            {"service_account_key": '{"client_email": "a@b.iam.gserviceaccount.com", "token_uri": "https://x"}'},
            "service_account_key",
            "The key file has no private_key",
        ),
        (
            {"service_account_key": json.dumps({"client_email": "a@b", "token_uri": "https://x", "private_key": "no"})},
            "service_account_key",
            "private_key is not a readable private key",
        ),
        ({"google_project_id": ""}, "google_project_id", "Name the Google Cloud project id"),
        ({"google_project_id": "My Studio"}, "google_project_id", "not its name or number"),
        ({"google_location": ""}, "google_location", "Name the location"),
        ({"google_location": "central US"}, "google_location", "A location looks like us-central1"),
        ({"api_key": "AIzaSy-a-key"}, "api_key", "takes a key file"),
        ({"model_fast": "Veo Fast!"}, "model_fast", "A model id is letters, digits"),
        ({"model_fast": "google/veo-3.1"}, "model_fast", "model ids look like veo-3.1-generate-001"),
        ({"options_text": '{"storage_uri": "s3://bucket"}'}, "options_text", "a Cloud Storage address"),
        ({"options_text": '{"person_generation": {"a": 1}}'}, "options_text", "is one of"),
        ({"options_text": '{"enhance_prompt": "yes"}'}, "options_text", "is true or false"),
        ({"options_text": '{"storage_base_url": "storage.local"}'}, "options_text", "is an http(s):// address"),
    ],
)
def test_bad_google_cloud_fields_are_refused_inline_and_change_nothing(owner_client, project, change, field, words):
    answer = owner_client.post(f"/projects/{project.pk}/accounts/add", {**GOOGLE, **change})
    page = answer.content.decode()
    assert answer.status_code == 400 and words in page
    assert f'id="id_{field}_error"' in page
    assert ProviderAccount.objects.count() == 1


def test_a_refused_form_never_shows_the_pasted_key_file_again(owner_client, project):
    key = google_key_file()
    answer = owner_client.post(
        f"/projects/{project.pk}/accounts/add", {**GOOGLE, "google_location": "", "service_account_key": key}
    )
    assert answer.status_code == 400
    assert json.loads(key)["private_key"].splitlines()[1] not in answer.content.decode()


def test_an_account_moving_to_google_cloud_must_bring_a_key_file_or_take_the_machines(owner_client, project):
    account = project.draft_account
    answer = owner_client.post(f"/accounts/{account.pk}/", GOOGLE)
    assert answer.status_code == 400 and "The key on file is another route" in answer.content.decode()
    account.refresh_from_db()
    assert account.route == "videos-gateway"


# --- Models as data ---------------------------------------------------------------------------------------


def test_each_tier_sends_the_model_id_the_owner_names_and_blank_keeps_the_routes_default(owner_client, project):
    account = project.draft_account
    route = account.provider
    page = owner_client.get(f"/accounts/{account.pk}/").content.decode()
    # Each tier's box suggests every id the route knows, its default as the placeholder.
    assert f'placeholder="{route.model_for(Tier.FAST)}"' in page and 'list="model_fast-ids"' in page
    assert '<datalist id="model_fast-ids">' in page
    answer = owner_client.post(
        f"/accounts/{account.pk}/",
        {
            **NEW,
            "api_key": "",
            "model_fast": " veo-3.1-fast-generate-002 ",
            "model_quality": route.model_for(Tier.QUALITY),
        },
    )
    assert answer.status_code == 302
    account.refresh_from_db()
    # The default, typed in, is not stored: it follows the route's default when that changes.
    assert account.model_ids == {"fast": "veo-3.1-fast-generate-002"}
    assert account.model_for(Tier.FAST) == "veo-3.1-fast-generate-002"
    assert account.model_for(Tier.QUALITY) == route.model_for(Tier.QUALITY)
    # An id the route does not list takes its tier's default's limits.
    assert account.capabilities_for("veo-3.1-fast-generate-002") is route.capabilities[route.model_for(Tier.FAST)]
    page = owner_client.get(f"/accounts/{account.pk}/").content.decode()
    assert 'value="veo-3.1-fast-generate-002"' in page
    assert "<code>veo-3.1-fast-generate-002</code>" in page


def test_a_tier_the_route_does_not_offer_takes_no_model_id(owner_client, project):
    answer = owner_client.post(
        f"/projects/{project.pk}/accounts/add", {**NEW, "route": "openai-video", "model_lite": "veo-3.1-lite"}
    )
    page = answer.content.decode()
    assert answer.status_code == 400 and "has no lite tier: leave this blank" in page
    assert 'id="id_model_lite_error"' in page
    assert ProviderAccount.objects.count() == 1


def test_a_model_the_provider_said_is_gone_is_flagged_until_the_owner_saves_another(owner_client, clients, project):
    account = project.draft_account
    fast = account.model_for(Tier.FAST)
    account.mark_model_gone(fast, "models/x is no longer available")
    accounts = owner_client.get(f"/projects/{project.pk}/accounts/").content.decode()
    assert f"Fast: The provider answered on {timezone.now():%-d %b %Y} that {fast} is no longer available" in accounts
    assert "Pick another model" in accounts
    # Members see the flag, not the owner's link.
    assert "Pick another model" not in clients["editor"].get(f"/projects/{project.pk}/accounts/").content.decode()
    edit = owner_client.get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="model-fast" class="is-gone"' in edit and "Set another id for this tier below" in edit
    assert "Saving forgets the provider&#x27;s word" in edit

    owner_client.post(f"/accounts/{account.pk}/", {**NEW, "api_key": "", "model_fast": "veo-3.1-fast-generate-002"})
    account.refresh_from_db()
    assert account.gone_models == {} and account.model_for(Tier.FAST) == "veo-3.1-fast-generate-002"
    assert "is no longer available" not in owner_client.get(f"/projects/{project.pk}/accounts/").content.decode()


def test_a_retired_id_an_account_still_names_explains_itself(owner_client, project):
    account = project.draft_account
    account.route, account.model_ids = "gemini", {"lite": "veo-3.1-lite-generate-preview"}
    account.save()
    edit = owner_client.get(f"/accounts/{account.pk}/").content.decode()
    assert "veo-3.1-lite-generate-preview is reported retired: Google shut the Gemini API" in edit
    assert '<option value="veo-3.1-lite-generate-preview">retired: Google shut' in edit


def test_an_account_leaving_google_cloud_must_bring_its_own_api_key(owner_client, project):
    owner_client.post(f"/projects/{project.pk}/accounts/add", GOOGLE)
    account = ProviderAccount.objects.get(route="google-cloud")
    key_file = account.api_key
    answer = owner_client.post(f"/accounts/{account.pk}/", {**NEW, "label": account.label, "api_key": ""})
    assert answer.status_code == 400 and "give this route its own API key" in answer.content.decode()
    account.refresh_from_db()
    assert (account.route, account.api_key) == ("google-cloud", key_file)
    owner_client.post(f"/accounts/{account.pk}/", {**NEW, "label": account.label, "api_key": "sim-new-key-123456"})
    account.refresh_from_db()
    assert (account.route, account.api_key) == ("videos-gateway", "sim-new-key-123456")


def test_send_again_on_a_tier_whose_model_is_gone_is_refused_and_creates_nothing(
    owner_client, project, people, pending_task
):
    task = pending_task(project, people["owner"])
    Task.objects.filter(pk=task.pk).update(state=Task.State.FAILED)
    project.draft_account.mark_model_gone(task.model, "no longer available")
    answer = owner_client.post(f"/tasks/{task.pk}/send-again", follow=True)
    assert "Not sent again: The provider answered" in answer.content.decode()
    assert Task.objects.count() == 1
