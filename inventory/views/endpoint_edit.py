"""(being built)"""

from django.http import Http404


def edit(request, *args, **kwargs):
    raise Http404
