"""Which endpoints of a chunk the chunk acts on: those no other transaction
holds at that moment.

A network event batch (``network.batch``, for the JSON API and RADIUS alike)
locks its endpoints' rows until it commits. A chunk that waited for one of
them would go on holding the locks of every endpoint it had already taken, and
the event batches that need those would wait in turn: under the events load a
chunk of a few hundred endpoints held its locks 1-2 s that way. So a chunk
never waits for an endpoint's row lock. It takes its endpoints' locks in one
statement, ``FOR NO KEY UPDATE SKIP LOCKED`` in id order (the lock the rules
take anyway, so the rule then finds them already held), acts on the endpoints
it got, and marks the targets of the others ``waiting``, in the same
transaction as its work and the job's progress.

Once the job has passed its last position, each further chunk is a later
pass over the waiting targets, in position order, taken the same way: what it
gets it does and unmarks, what is still held stays waiting for the next pass.
So every target is done exactly once, in the one commit that clears its mark,
and a runner resumed after a crash finds the marks as committed. A target
whose endpoint no longer exists is never waiting: it is settled at once (the
runner counts it "no longer exists").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from inventory.models import Endpoint
from jobs.models import Job, JobTarget


@dataclass(frozen=True)
class Piece:
    """The targets one chunk is about: a range of positions on the first pass,
    the first waiting targets on a later one."""

    targets: QuerySet[JobTarget]
    size: int
    later: bool


@dataclass(frozen=True)
class Taken:
    """What a chunk holds: the endpoints whose row locks it got, how many of
    its targets are settled by this chunk (taken, or gone), and how many it
    passed over because another transaction held them."""

    endpoint_ids: list[int]
    settled: int
    passed_over: int

    def endpoints(self, job: Job) -> QuerySet[Endpoint]:
        """The taken endpoints as the queryset the rules take (one array
        parameter, whatever their number)."""
        return Endpoint.objects.filter(account_id=job.account_id, id__in=ids(self.endpoint_ids))


def ids(endpoint_ids: list[int]) -> RawSQL:
    """A list of ids as one ``bigint[]`` parameter, for ``id__in``."""
    return RawSQL("SELECT unnest(%s::bigint[])", (endpoint_ids,))


def first_pass(job: Job, *, start: int, end: int) -> Piece:
    """The targets at positions [start, end)."""
    targets = JobTarget.objects.filter(job=job, position__gte=start, position__lt=end)
    return Piece(targets=targets, size=end - start, later=False)


def later_pass(job: Job, *, size: int) -> Piece:
    """The first ``size`` waiting targets, in position order."""
    positions = list(
        JobTarget.objects.filter(job=job, waiting=True)
        .order_by("position")
        .values_list("position", flat=True)[:size]
    )
    targets = JobTarget.objects.filter(
        job=job, waiting=True, position__lte=positions[-1] if positions else -1
    )
    return Piece(targets=targets, size=len(positions), later=True)


def take(job: Job, piece: Piece, *, wait: bool = False) -> Taken:
    """Lock the piece's endpoints that no other transaction holds, and mark
    which of its targets wait (one locking SELECT, two UPDATEs of the marks).

    With ``wait`` the chunk waits for the locks instead (nothing is passed
    over): a job run inline, in the request, whose statement timeout bounds
    the wait and turns it into the portal's 503 with nothing changed, rather
    than a request held open until the other transaction lets go."""
    held = list(
        Endpoint.objects.filter(
            account_id=job.account_id, id__in=piece.targets.values("endpoint_id")
        )
        .order_by("id")
        .select_for_update(of=("self",), no_key=True, skip_locked=not wait)
        .values_list("id", flat=True)
    )
    if len(held) == piece.size:  # the usual case: every endpoint taken, none gone
        if piece.later:
            piece.targets.update(waiting=False)
        return Taken(endpoint_ids=held, settled=piece.size, passed_over=0)
    got = Q(endpoint_id__in=ids(held))
    exists = Exists(Endpoint.objects.filter(pk=OuterRef("endpoint_id"), account_id=job.account_id))
    if piece.later:
        settled = piece.targets.filter(got | ~exists).update(waiting=False)
        passed_over = piece.size - settled
    else:
        passed_over = piece.targets.filter(exists, ~got).update(waiting=True)
        settled = piece.size - passed_over
    return Taken(endpoint_ids=held, settled=settled, passed_over=passed_over)
