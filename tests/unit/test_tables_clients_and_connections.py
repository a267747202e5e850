"""``pipeline_common.tables.clients`` and ``.connections`` against their tables as template.yaml
declares them (moto): rows read back as written, conditional writes refused where they must be,
and each index queried by its one declared name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from pipeline_common.tables.clients import (
    ClientRecord,
    count_clients_of,
    created_at_stamp,
    get_client,
    live_client_of,
    put_new_client,
    remove_client_row,
    retire_client,
)
from pipeline_common.tables.connections import (
    ConnectionRow,
    connection_ids_of,
    put_connection,
    remove_connection,
)
from tests.support.tables import create_table

NOW = datetime(2026, 1, 19, 9, 15, 0, tzinfo=UTC)
ALICE = "alice-sub"


@pytest.fixture(autouse=True)
def tables(mocked_aws: None) -> None:
    create_table("ClientsTable")
    create_table("ConnectionsTable")
    return


def client(client_id: str, *, created: datetime = NOW, owner: str = ALICE) -> ClientRecord:
    return ClientRecord(
        client_id=client_id,
        owner=owner,
        delivery="poll",
        created_at=created_at_stamp(created),
        expires_at=int((created + timedelta(days=1)).timestamp()),
    )


def test_a_client_row_reads_back_as_written_and_its_id_cannot_be_taken_twice():
    # Given a new client written
    record = client("a" * 32)
    put_new_client("ClientsTable", record)

    # When the same id is written again
    with pytest.raises(ClientError) as refused:
        put_new_client("ClientsTable", client("a" * 32, owner="bob-sub"))

    # Then the first row stays, read back as written, live for its owner only
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert get_client("ClientsTable", record.client_id) == record
    assert live_client_of("ClientsTable", record.client_id, owner=ALICE, now=NOW) == record
    assert live_client_of("ClientsTable", record.client_id, owner="bob-sub", now=NOW) is None


def test_a_retired_client_is_a_dead_tombstone_and_retires_once():
    # Given Alice's client
    record = client("b" * 32)
    put_new_client("ClientsTable", record)
    expires = int((NOW + timedelta(minutes=1)).timestamp())

    # When Bob, then Alice, then Alice again retire it
    with pytest.raises(ClientError) as not_his:
        retire_client("ClientsTable", record.client_id, owner="bob-sub", now=NOW, expires=expires)
    retire_client("ClientsTable", record.client_id, owner=ALICE, now=NOW, expires=expires)
    with pytest.raises(ClientError) as twice:
        retire_client("ClientsTable", record.client_id, owner=ALICE, now=NOW, expires=expires)

    # Then only Alice's first retirement counted: the row is a tombstone, no longer live
    assert not_his.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert twice.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    tombstone = get_client("ClientsTable", record.client_id)
    assert tombstone is not None
    assert (tombstone.deleted_at, tombstone.expires_at) == (
        NOW.isoformat(timespec="microseconds"),
        expires,
    )
    assert live_client_of("ClientsTable", record.client_id, owner=ALICE, now=NOW) is None


def test_a_users_clients_are_counted_live_or_recent_on_the_owner_index():
    # Given Alice's clients: one two days old (expired), one retired, two recent; and Bob's
    put_new_client("ClientsTable", client("c" * 32, created=NOW - timedelta(days=2)))
    put_new_client("ClientsTable", client("d" * 32, created=NOW - timedelta(seconds=30)))
    retire_client("ClientsTable", "d" * 32, owner=ALICE, now=NOW, expires=2_000_000_000)
    put_new_client("ClientsTable", client("e" * 32, created=NOW - timedelta(seconds=10)))
    put_new_client("ClientsTable", client("f" * 32))
    put_new_client("ClientsTable", client("0" * 32, owner="bob-sub"))

    # When they are counted
    live = count_clients_of("ClientsTable", ALICE, stop_at=10, live_at=NOW)
    recent = count_clients_of(
        "ClientsTable", ALICE, stop_at=10, created_since=NOW - timedelta(seconds=60)
    )
    every = count_clients_of("ClientsTable", ALICE, stop_at=10)

    # Then live ones exclude the expired and the retired; recent ones include the retired
    assert (live, recent, every) == (2, 3, 4)


def test_a_removed_client_row_is_gone():
    # Given a client / When its row is removed
    put_new_client("ClientsTable", client("1" * 32))
    remove_client_row("ClientsTable", "1" * 32)

    # Then it reads as none
    assert get_client("ClientsTable", "1" * 32) is None


def test_a_clients_connections_are_listed_oldest_first_and_forgotten_once():
    # Given three connections of one client (written out of order) and one of another
    for connection_id, second in (("conn-b=", 20), ("conn-a=", 30), ("conn-c=", 10)):
        put_connection(
            "ConnectionsTable",
            ConnectionRow(
                connection_id=connection_id,
                client_id="a" * 32,
                owner=ALICE,
                connected_at=(NOW + timedelta(seconds=second)).isoformat(),
                ttl=int(NOW.timestamp()) + 3600,
            ),
        )
    put_connection(
        "ConnectionsTable",
        ConnectionRow(
            connection_id="other=",
            client_id="b" * 32,
            owner=ALICE,
            connected_at=NOW.isoformat(),
            ttl=int(NOW.timestamp()) + 3600,
        ),
    )

    # When they are listed, one is forgotten twice, and they are listed again
    before = connection_ids_of("ConnectionsTable", "a" * 32)
    first = remove_connection("ConnectionsTable", "conn-b=")
    second = remove_connection("ConnectionsTable", "conn-b=")
    after = connection_ids_of("ConnectionsTable", "a" * 32)

    # Then they come oldest first, only the first removal found a row, and the rest remain
    assert before == ["conn-c=", "conn-b=", "conn-a="]
    assert (first, second) == (True, False)
    assert after == ["conn-c=", "conn-a="]
    assert connection_ids_of("ConnectionsTable", "b" * 32) == ["other="]
