"""Sign-ins lock after repeated failures (login page and admin), and invitation links refuse a client that
keeps trying unknown ones: both say so in plain words with a 429."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from studio.limits import tries
from studio.limits.models import LinkMisses
from studio.projects.models import Invitation

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-ins. Try again in 15 minutes."
INVITES_REFUSED = "Too many unknown invitation links from your address."


@pytest.fixture(autouse=True)
def sign_in_rules(settings):
    """The deployed rules, whatever the environment says: 5 failures, 15 minutes."""
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 0


def from_address(address: str, *, forwarded: str = "") -> Client:
    """A browser at this address; `forwarded`, the X-Forwarded-For its requests arrive with."""
    return Client(headers={"X-Forwarded-For": forwarded} if forwarded else None, REMOTE_ADDR=address)


def sign_in(client: Client, username: str, password: str, *, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, username: str, times: int, *, path: str = "/login/") -> list[int]:
    return [sign_in(client, username, "wrong", path=path).status_code for _ in range(times)]


# --- Sign-in lockout -------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_sign_in_even_with_the_right_one(people):
    client = from_address("198.51.100.1")
    assert fail(client, "owner", 5) == [200, 200, 200, 200, 429]
    refused = sign_in(client, "owner", "pw-owner")
    assert refused.status_code == 429 and not signed_in(client)
    assert LOCKED in refused.content.decode() and refused["Retry-After"] == "900"


def test_the_lockout_page_names_the_time_left(people):
    client = from_address("198.51.100.1")
    fail(client, "owner", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=11, seconds=30))
    page = sign_in(client, "owner", "pw-owner").content.decode()
    assert "Try again in 4 minutes." in page


def test_tries_while_locked_out_do_not_extend_the_wait(people):
    client = from_address("198.51.100.1")
    fail(client, "owner", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert fail(client, "owner", 3) == [429, 429, 429]
    assert "Try again in 1 minute." in sign_in(client, "owner", "pw-owner").content.decode()


def test_the_lockout_lifts_after_the_cool_off(people):
    client = from_address("198.51.100.1")
    fail(client, "owner", 5)
    # Time moves on: the last failure is now 16 minutes old.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, "owner", "pw-owner").status_code == 302 and signed_in(client)


def test_axes_reset_unlocks_at_once(people):
    client = from_address("198.51.100.1")
    fail(client, "owner", 5)
    call_command("axes_reset", verbosity=0)
    assert sign_in(client, "owner", "pw-owner").status_code == 302 and signed_in(client)


def test_the_lock_holds_one_username_from_one_address_only(people):
    attacker = from_address("198.51.100.1")
    fail(attacker, "owner", 5)
    # The owner elsewhere still signs in; so does a colleague at the attacker's address.
    owner_elsewhere, colleague = from_address("198.51.100.2"), from_address("198.51.100.1")
    assert sign_in(owner_elsewhere, "owner", "pw-owner").status_code == 302
    assert sign_in(colleague, "editor", "pw-editor").status_code == 302


def test_a_successful_sign_in_clears_the_failures(people):
    client = from_address("198.51.100.1")
    assert fail(client, "owner", 4) == [200] * 4
    assert sign_in(client, "owner", "pw-owner").status_code == 302
    client.post("/logout/")
    assert fail(client, "owner", 4) == [200] * 4


def test_the_admin_sign_in_is_locked_too(db):
    get_user_model().objects.create_superuser("boss", password="pw-boss")
    client = from_address("198.51.100.1")
    assert fail(client, "boss", 5, path="/admin/login/") == [200, 200, 200, 200, 429]
    refused = sign_in(client, "boss", "pw-boss", path="/admin/login/")
    assert refused.status_code == 429 and LOCKED in refused.content.decode() and not signed_in(client)
    # And a lock earned on one sign-in page holds on the other.
    assert sign_in(client, "boss", "pw-boss").status_code == 429


def test_behind_a_proxy_the_address_it_saw_counts_not_what_the_client_claims(people, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.5"
    attacker = from_address(proxy, forwarded="1.2.3.4, 203.0.113.9")
    fail(attacker, "owner", 5)
    # A different forged first entry is the same client to the proxy: still locked.
    forged = from_address(proxy, forwarded="5.6.7.8, 203.0.113.9")
    assert sign_in(forged, "owner", "pw-owner").status_code == 429
    # Another client through the same proxy is not.
    other = from_address(proxy, forwarded="203.0.113.10")
    assert sign_in(other, "owner", "pw-owner").status_code == 302


def test_a_forwarded_address_that_is_not_one_falls_back_to_the_connection(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = HttpRequest()
    request.META = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "not-an-address"}
    assert tries.client_address(request) == "10.0.0.5"
    settings.TRUSTED_PROXY_COUNT = 0
    request.META["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    assert tries.client_address(request) == "10.0.0.5"


def test_the_test_client_signs_in_with_a_request_as_axes_asks(people):
    # Client.login calls authenticate() without one; axes needs it to know the address.
    assert Client().login(request=HttpRequest(), username="owner", password="pw-owner")


def test_force_login_is_untouched_by_the_lockout(people, client_for):
    fail(Client(), "owner", 5)
    assert client_for(people["owner"]).get("/").status_code == 200


# --- Invitation links -------------------------------------------------------------------

SCANNER, NEIGHBOUR = "203.0.113.7", "203.0.113.8"


@pytest.fixture
def invitation_token(project, people, mailoutbox, owner_client) -> str:
    owner_client.post(f"/projects/{project.pk}/members/", {"who": "new@example.com", "role": "viewer"})
    assert Invitation.objects.count() == 1
    return mailoutbox[0].body.split("/invites/")[1].split()[0]


def test_a_client_trying_unknown_invitation_links_is_refused_for_a_while(invitation_token):
    scanner = from_address(SCANNER)
    misses = [scanner.get(f"/invites/guess-{n}").status_code for n in range(tries.INVITATION_LINKS.misses)]
    assert misses == [404] * tries.INVITATION_LINKS.misses
    refused = scanner.get("/invites/guess-next")
    assert refused.status_code == 429 and INVITES_REFUSED in refused.content.decode()
    assert "Try again in 15 minutes." in refused.content.decode() and refused["Retry-After"] == "900"
    # Even a real link is refused from there, and nothing is looked up or accepted.
    assert scanner.get(f"/invites/{invitation_token}").status_code == 429
    assert scanner.post(f"/invites/{invitation_token}", {"username": "x"}).status_code == 429
    # Elsewhere the real link still works.
    assert from_address(NEIGHBOUR).get(f"/invites/{invitation_token}").status_code == 200


def test_the_refusal_ends_with_its_window(invitation_token):
    scanner = from_address(SCANNER)
    for n in range(tries.INVITATION_LINKS.misses):
        scanner.get(f"/invites/guess-{n}")
    # Time moves on: the window that began at the first miss ends.
    LinkMisses.objects.update(window_ends=timezone.now() - timedelta(seconds=1))
    assert scanner.get(f"/invites/{invitation_token}").status_code == 200
    assert scanner.get("/invites/guess-again").status_code == 404
    assert LinkMisses.objects.get().misses == 1, "the ended window went; a new one counts from one"


def test_opening_a_real_invitation_link_counts_no_miss(invitation_token):
    client = from_address(SCANNER)
    for _ in range(tries.INVITATION_LINKS.misses + 5):
        assert client.get(f"/invites/{invitation_token}").status_code == 200
    assert not LinkMisses.objects.exists()


def test_each_kind_of_link_keeps_its_own_count():
    # The same helper review links (issue 10) will use: a limit of their own, counted apart.
    reviews = tries.MissLimit("review links", misses=2, window=timedelta(minutes=5))
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = SCANNER
    reviews.missed(request)
    assert reviews.wait(request) is None
    reviews.missed(request)
    wait = reviews.wait(request)
    assert wait is not None and timedelta(minutes=4) < wait <= timedelta(minutes=5)
    assert tries.INVITATION_LINKS.wait(request) is None
