"""The per-user limits on clients, checked before anything is created (so a 429 leaves nothing).

Both are counted on ClientsTable's ``owner-index`` (HASH ``owner``, RANGE ``created_at``):
- ``MAX_CLIENTS_PER_USER``: the caller's clients whose ``ttl`` is still ahead and not deleted;
- ``MAX_CLIENT_CREATIONS_PER_MINUTE``: the caller's clients created in the last 60 s.

The index is eventually consistent and the check is not a lock, so a burst of simultaneous
requests from one user can pass it together and overshoot by at most that burst (which the
API's own throttling bounds). A client deleted within the minute still counts toward the rate:
DELETE leaves its row as a tombstone (``deleted_at``) until the window has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from provisioner_settings import ProvisionerSettings

from pipeline_common.http import TooManyRequests
from pipeline_common.tables.clients import count_clients_of

RATE_WINDOW = timedelta(seconds=60)


def enforce_client_limits(*, owner: str, now: datetime, settings: ProvisionerSettings) -> None:
    """Raise ``TooManyRequests`` naming the limit the caller reached; return if none."""
    cap = settings.max_clients_per_user
    if count_clients_of(settings.clients_table, owner, live_at=now, stop_at=cap) >= cap:
        raise TooManyRequests(
            f"you already hold {cap} live clients, the most one user may hold "
            f"(MAX_CLIENTS_PER_USER); delete one with DELETE /clients/{{client_id}} first"
        )
    rate = settings.max_client_creations_per_minute
    since = now - RATE_WINDOW
    if count_clients_of(settings.clients_table, owner, created_since=since, stop_at=rate) >= rate:
        raise TooManyRequests(
            f"you created {rate} clients in the last 60 s, the most one user may create per "
            f"minute (MAX_CLIENT_CREATIONS_PER_MINUTE); retry in a minute"
        )
