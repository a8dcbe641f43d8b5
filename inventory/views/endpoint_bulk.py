"""(being built)"""

from django.http import Http404


def bulk_assign(request, *args, **kwargs):
    raise Http404


def bulk_suspend(request, *args, **kwargs):
    raise Http404


def bulk_terminate(request, *args, **kwargs):
    raise Http404
