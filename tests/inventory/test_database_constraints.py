"""The database itself refuses what must never be stored."""

import pytest
from django.db import IntegrityError, transaction

from inventory.models import IMSI, Endpoint, State
from tests.factories import EndpointFactory, iccid_for


@pytest.mark.django_db
def test_iccid_is_unique_across_accounts(account, other_account):
    EndpointFactory(account=account, iccid=iccid_for(7))
    with pytest.raises(IntegrityError), transaction.atomic():
        EndpointFactory(account=other_account, iccid=iccid_for(7))


@pytest.mark.django_db
def test_state_values_are_checked(account):
    endpoint = EndpointFactory(account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(state="sleeping")


@pytest.mark.django_db
def test_in_service_endpoint_needs_a_group(account):
    endpoint = EndpointFactory(account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(state=State.ACTIVE)


@pytest.mark.django_db
def test_imsi_is_unique(account):
    endpoint = EndpointFactory(account=account, imsis=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        IMSI.objects.create(account=account, endpoint=endpoint, imsi=endpoint.imsis.get().imsi)
