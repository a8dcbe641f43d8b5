"""A client of the customer API with a token of each role."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from api.tokens import create_token
from portal.models import Role


class ApiClient:
    """``Client`` with a bearer token; ``get/post/patch`` take JSON bodies."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path, params=None, **headers):
        return self.client.get(path, params or {}, headers={**self.headers, **headers})

    def post(self, path, body=None, **headers):
        return self.client.post(
            path, body or {}, content_type="application/json", headers={**self.headers, **headers}
        )

    def patch(self, path, body=None, **headers):
        return self.client.patch(
            path, body or {}, content_type="application/json", headers={**self.headers, **headers}
        )

    def delete(self, path, **headers):
        return self.client.delete(path, headers={**self.headers, **headers})


def make_token(account, role: Role, name: str | None = None) -> tuple[object, str]:
    return create_token(
        account=account,
        name=name or f"{role}-token",
        role=role,
        created_by=None,
        creator_role=None,
    )


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_as(account):
    """``api_as(Role.OPERATOR)`` → an ApiClient of ``account`` with that role."""

    def make(role: Role = Role.ADMIN, on=None) -> ApiClient:
        return ApiClient(make_token(on or account, role)[1])

    return make


@pytest.fixture
def api(api_as) -> ApiClient:
    return api_as(Role.ADMIN)
