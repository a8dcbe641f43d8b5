"""factory-boy factories for the inventory. ICCIDs, IMSIs and IMEIs are valid
(Luhn check digits included) and unique per sequence number."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from inventory.identifiers import luhn_check_digit
from inventory.models import IMSI, Endpoint, Group, State, VSlice
from portal.models import Account, Member, Role


def luhn_complete(body: str) -> str:
    """``body`` with its Luhn check digit appended."""
    return body + luhn_check_digit(body)


def iccid_for(n: int) -> str:
    return luhn_complete(f"8944{n:014d}")  # 19 digits


def imsi_for(n: int) -> str:
    return f"23415{n:010d}"  # 15 digits


def imei_for(n: int) -> str:
    return luhn_complete(f"35{n:012d}")  # 15 digits


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "pw")
        if create:
            self.save(update_fields=["password"])


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    slug = factory.Sequence(lambda n: f"account-{n}")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Role.OPERATOR


class VSliceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VSlice

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"vslice-{n}")
    subnet = factory.Sequence(lambda n: f"10.{n % 256}.0.0/16")


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    account = factory.SubFactory(AccountFactory)
    vslice = factory.SubFactory(VSliceFactory, account=factory.SelfAttribute("..account"))
    name = factory.Sequence(lambda n: f"group-{n}")
    apn = factory.Sequence(lambda n: f"apn{n}.example")


class EndpointFactory(factory.django.DjangoModelFactory):
    """A Pending endpoint by default. Pass ``primary_group`` with an in-service
    state; ``imsis=2`` gives it two IMSIs."""

    class Meta:
        model = Endpoint
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    iccid = factory.Sequence(iccid_for)
    state = State.PENDING

    @factory.post_generation
    def imsis(self, create, extracted, **kwargs):
        if not create:
            return
        for _ in range(1 if extracted is None else extracted):
            IMSIFactory(endpoint=self, account=self.account)


class IMSIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IMSI

    account = factory.SelfAttribute("endpoint.account")
    endpoint = factory.SubFactory(EndpointFactory, imsis=0)
    imsi = factory.Sequence(imsi_for)
