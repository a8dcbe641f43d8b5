import pytest

from portal.models import Role
from tests.factories import AccountFactory, GroupFactory, MemberFactory


@pytest.fixture
def account(db):
    return AccountFactory(name="Vantiq Connect", slug="vantiq")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="Northwind Logistics", slug="northwind")


@pytest.fixture
def group(account):
    return GroupFactory(account=account, name="vantiq-connect-eu", vslice__subnet="100.64.0.0/16")


@pytest.fixture
def operator(account):
    return MemberFactory(account=account, role=Role.OPERATOR, user__username="op").user


@pytest.fixture
def admin_member(account):
    return MemberFactory(account=account, role=Role.ADMIN, user__username="adm").user


@pytest.fixture
def viewer(account):
    return MemberFactory(account=account, role=Role.VIEWER, user__username="view").user
