"""The reason codes of a network event's result (docs/network-api.md).

They are the network API's and RADIUS's answer (``reason``, ``Reply-Message``),
what ``NetworkEvent.reason`` records, and what the Connectivity card explains
("last session refused because …", network/connectivity.py). The adapters
(network/) answer with them; the domain reads them back, so they live here.
"""

from __future__ import annotations


class Reason:
    """Reason codes of the results (snake_case, part of the API contract)."""

    # rejected
    UNKNOWN_IMSI = "unknown_imsi"
    PENDING = "pending"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    UNKNOWN_APN = "unknown_apn"
    IMEI_MISMATCH = "imei_mismatch"
    OPERATOR_NOT_ALLOWED = "operator_not_allowed"
    SUBNET_FULL = "subnet_full"
    # stale
    OLDER_THAN_LAST_ACTIVITY = "older_than_last_activity"
    # duplicate
    ALREADY_RECEIVED = "already_received"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    # invalid
    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    BAD_ID = "bad_id"
    BAD_TYPE = "bad_type"
    BAD_IMSI = "bad_imsi"
    BAD_IMEI = "bad_imei"
    BAD_APN = "bad_apn"
    BAD_TIME = "bad_time"
    BAD_BYTES = "bad_bytes"
    BAD_PLMN = "bad_plmn"
    BAD_RAT = "bad_rat"
    BYTES_NOT_ALLOWED = "bytes_not_allowed"
