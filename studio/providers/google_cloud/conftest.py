"""Route 6's test fixtures: projects on its simulator with a key file it issued, and no tokens kept between tests."""

from __future__ import annotations

import pytest

from studio.providers.google_cloud.auth import KEYRING
from studio.simulator.service_accounts import issue_key_file

from .test_route import OPTIONS, PROJECT_ID, sim


@pytest.fixture(autouse=True)
def no_tokens_between_tests():
    """Each test starts with no cached credentials or tokens (the process keeps them across tests otherwise)."""
    KEYRING.forget()
    yield
    KEYRING.forget()


@pytest.fixture
def key_file(simulator):
    """`key_file(project_id=…)`: a service-account key file the simulator issued, its token_uri on the simulator."""

    def issue(project_id: str = PROJECT_ID) -> str:
        return issue_key_file(project_id=project_id, token_uri=sim("token"))

    return issue


@pytest.fixture
def cloud_project(make_project, people, key_file):
    """Projects on route 6's simulator: a key file it issued (unless `key` says otherwise) and the project's options."""

    def make(*, name="Moonrise", key=None, options=None, poll_interval_s=None):
        return make_project(
            people,
            name=name,
            route="google-cloud",
            key=key_file() if key is None else key,
            options={**OPTIONS, **(options or {})},
            poll_interval_s=poll_interval_s,
        )

    return make


@pytest.fixture
def project(cloud_project):
    return cloud_project()


@pytest.fixture
def account(project):
    return project.draft_account
