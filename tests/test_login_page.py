"""The login page names the demo account on the embedded default, never its password, and nowhere else."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "a-generated-demo-password"


@pytest.fixture
def demo_user(settings):
    settings.VAR_DIR = settings.BASE_DIR / "var"
    return get_user_model().objects.create_user(username="demo", password=PASSWORD)


def login_page() -> str:
    answer = Client().get("/login/")
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_embedded_default_names_the_demo_account_and_where_its_password_is_kept(settings, demo_user):
    settings.EMBEDDED_DEFAULT = True
    page = login_page()
    assert "log in as <strong>demo</strong>" in page
    assert "<code>make run</code> prints its password" in page and "<code>var/demo-password</code>" in page
    assert PASSWORD not in page


def test_a_team_deployment_names_no_demo_account_even_if_one_is_called_demo(settings, demo_user):
    settings.EMBEDDED_DEFAULT = False
    page = login_page()
    assert "demo" not in page.lower()


def test_the_embedded_default_without_the_demo_account_names_none(settings):
    settings.EMBEDDED_DEFAULT = True
    assert "demo" not in login_page().lower()


def test_a_disabled_demo_account_is_not_offered(settings, demo_user):
    settings.EMBEDDED_DEFAULT = True
    demo_user.is_active = False
    demo_user.save()
    assert "demo" not in login_page().lower()


def test_signing_in_as_the_demo_account_still_works(settings, demo_user):
    settings.EMBEDDED_DEFAULT = True
    client = Client()
    answer = client.post("/login/", {"username": "demo", "password": PASSWORD})
    assert answer.status_code == 302 and answer["Location"] == "/"
