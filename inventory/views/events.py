"""(being built)"""

from django.http import Http404


def event_list(request, *args, **kwargs):
    raise Http404
