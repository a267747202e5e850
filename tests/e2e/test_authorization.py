"""The authorization matrix (issue 10): every REST route, the WebSocket ``$connect`` and every
PACS route, called by every kind of caller, on the local cloud with the real template.

Callers (columns):

- ``no-token``, ``malformed``: no ``Authorization`` header / one that is not a JWT.
- ``bad-signature``: Alice's own claims, signed with a key that is not the pool's.
- ``expired``, ``wrong-audience``: Alice's claims with ``exp`` in the past / ``aud`` naming no app
  client of the pool, signed with the pool's own key (moto's Cognito signs every pool's tokens
  with the private key shipped in the moto package), so only the claim is wrong.
- ``other-pool``: a real login to a second user pool (same signing key, another issuer).
- ``other-user``: Bob on Alice's resource. ``owner``: Alice on her own. ``admin``: a member of
  ``admins`` on Alice's resource.

Expected (the contract): any token failure is 401 before a function runs (a REST API says
``The incoming token has expired`` for an expired one). Another user's client, job, results,
image or video is 404, exactly like one that does not exist. Admins read every job, image and
video but may not act on someone else's client nor read their client's results. Routes
that name no one's resource (``GET /algorithms``, ``POST /clients``, ``POST /uploads``, the
PACS, the YOLO status) answer every signed-in user, scoped to that user where it matters.

The WebSocket's credential is the one-time ticket, so its columns are tickets: none (401), not a
ticket, a ticket never issued, an expired one, an ID token in its place, a ticket whose row names
Alice's client but another owner (Bob, the admin), and Alice's own (the upgrade, 101).

The whole table goes to ``test-artifacts/authorization-matrix.md`` and to the terminal summary.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from localcloud.cloud import LocalCloud
from tests.e2e.conftest import MATRIX_KEY, RestApi
from tests.support.image_samples import photo_jpeg
from tests.support.users import StackUser, Users, create_and_log_in
from tests.support.video_samples import put_frame_outputs

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MATRIX_FILE = ARTIFACTS / "authorization-matrix.md"

CASES = (
    "no-token",
    "malformed",
    "bad-signature",
    "expired",
    "wrong-audience",
    "other-pool",
    "other-user",
    "owner",
    "admin",
)
TOKEN_FAILURES = CASES[:6]
EXPIRED_MESSAGE = "The incoming token has expired"


# ---- the callers -------------------------------------------------------------------------------


def moto_signing_key() -> Any:
    """The private key moto's cognito-idp signs every pool's tokens with (kid ``dummy``)."""
    from moto.utilities.utils import load_resource

    return jwt.algorithms.RSAAlgorithm.from_jwk(
        json.dumps(load_resource("cognitoidp/resources/jwks-private.json"))
    )


def resign(token: str, key: Any, **changes: Any) -> str:
    """``token``'s claims with ``changes``, signed RS256 by ``key`` under moto's key id."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": "dummy"})


def other_pool_user(cognito: Any) -> StackUser:
    """A user of a second pool (its own app client): a valid token from the wrong issuer."""
    pool_id = cognito.create_user_pool(PoolName="someone-elses-pool")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="someone-elses-app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return create_and_log_in(cognito, pool_id, client_id, "mallory")


def caller_tokens(stack: LocalCloud, users: Users) -> dict[str, str | None]:
    """The token each column sends (``None``: no header at all)."""
    alice = users.alice.id_token
    now = int(time.time())
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pool_key = moto_signing_key()
    return {
        "no-token": None,
        "malformed": "not-a-jwt.at-all",
        "bad-signature": resign(alice, stranger_key),
        "expired": resign(alice, pool_key, iat=now - 7200, auth_time=now - 7200, exp=now - 3600),
        "wrong-audience": resign(alice, pool_key, aud="no-app-client-of-this-pool"),
        "other-pool": other_pool_user(stack.client("cognito-idp")).id_token,
        "other-user": users.bob.id_token,
        "owner": alice,
        "admin": users.admin.id_token,
    }


# ---- Alice's resources -------------------------------------------------------------------------


@dataclass
class World:
    """What the matrix acts on: Alice's resources, the callers' tokens, the stack."""

    stack: LocalCloud
    rest: RestApi
    users: Users
    tokens: dict[str, str | None]
    push_client: str  # tickets, $connect, POST /process
    poll_client: str  # GET /results
    doomed_client: str  # DELETE /clients by everyone but its owner (who deletes a fresh one)
    job_id: str
    image_key: str
    video_id: str
    pacs_instance: str  # /studies/{study}/series/{series}/instances/{instance}
    clients_made: list[tuple[StackUser, str]] = field(default_factory=list)

    def user(self, case: str) -> StackUser | None:
        return {
            "other-user": self.users.bob,
            "owner": self.users.alice,
            "admin": self.users.admin,
        }.get(case)

    def new_client(self, user: StackUser, delivery: str = "push") -> str:
        response = self.rest("POST", "/clients", user=user, json={"delivery": delivery})
        assert response.status_code == 201, response.text
        client_id: str = response.json()["client_id"]
        self.clients_made.append((user, client_id))
        return client_id


@pytest.fixture(scope="module")
def world(stack: LocalCloud, rest: RestApi, users: Users, pacs: list[Any]) -> Iterator[World]:
    alice = users.alice
    s3 = stack.client("s3")

    image_key = f"{alice.uploads}matrix-photo.jpg"
    s3.put_object(Bucket=stack.outputs["ImageInputBucketName"], Key=image_key, Body=photo_jpeg())

    # A video of Alice's with one frame of outputs: listed and paged like a processed one. Its
    # bytes are not a video, so the pipeline only records a failure for it (no detector run).
    from pipeline_common.contracts.video import video_id_for

    videos = stack.outputs["VideoInputBucketName"]
    video_key = f"{alice.uploads}matrix-video.mp4"
    put = s3.put_object(Bucket=videos, Key=video_key, Body=b"not a video, a placeholder\n")
    video_id = video_id_for(videos, video_key, put.get("VersionId") or put["ETag"].strip('"'))
    frames = stack.outputs["VideoFramesBucketName"]
    put_frame_outputs(s3, frames, video_id, 0, ["person"], photo_jpeg())

    ct = next(o for o in pacs if o.source == "CT_small.dcm")
    instance = f"/studies/{ct.study_id}/series/{ct.series_id}/instances/{ct.instance_id}"
    world = World(
        stack=stack,
        rest=rest,
        users=users,
        tokens=caller_tokens(stack, users),
        push_client="",
        poll_client="",
        doomed_client="",
        job_id="",
        image_key=image_key,
        video_id=video_id,
        pacs_instance=instance,
    )
    world.push_client = world.new_client(alice)
    world.poll_client = world.new_client(alice, "poll")
    world.doomed_client = world.new_client(alice)
    job = rest(
        "POST",
        "/process/processing_1",
        user=alice,
        json={"client_id": world.push_client, "pacs": _pacs_ref(ct)},
    )
    assert job.status_code == 202, job.text
    world.job_id = job.json()["job_id"]
    yield world
    for user, client_id in world.clients_made:
        rest("DELETE", f"/clients/{client_id}", user=user)


def _pacs_ref(item: Any) -> dict[str, str]:
    return {"study_id": item.study_id, "series_id": item.series_id, "image_id": item.instance_id}


# ---- the routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any = None


def _outcome(response: requests.Response) -> Outcome:
    try:
        body = response.json()
    except ValueError:
        body = response.content[:64]
    return Outcome(response.status_code, body)


def _rest(world: World, case: str, method: str, path: str, **kwargs: Any) -> Outcome:
    token = world.tokens[case]
    headers = {"Authorization": token} if token is not None else {}
    url = world.stack.outputs["RestApiUrl"] + path
    return _outcome(requests.request(method, url, headers=headers, timeout=40, **kwargs))


def _http(world: World, case: str, url: str, accept: str | None = None) -> Outcome:
    token = world.tokens[case]
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if accept:
        headers["Accept"] = accept
    return _outcome(requests.get(url, headers=headers, timeout=40))


def _pacs(path: str, accept: str | None = None) -> Callable[[World, str], Outcome]:
    def call(world: World, case: str) -> Outcome:
        url = world.stack.outputs["PacsApiUrl"] + path.format(w=world)
        return _http(world, case, url, accept)

    return call


def _post_clients(world: World, case: str) -> Outcome:
    outcome = _rest(world, case, "POST", "/clients", json={"delivery": "push"})
    user = world.user(case)
    if user and outcome.status == 201:
        world.clients_made.append((user, outcome.body["client_id"]))
    return outcome


def _delete_client(world: World, case: str) -> Outcome:
    # The owner deletes a client of her own made for it; everyone else tries the doomed one.
    target = world.new_client(world.users.alice) if case == "owner" else world.doomed_client
    outcome = _rest(world, case, "DELETE", f"/clients/{target}")
    if outcome.status == 204:
        world.clients_made.remove((world.users.alice, target))
    return outcome


def _process(world: World, case: str) -> Outcome:
    ct = world.pacs_instance.split("/")
    body = {
        "client_id": world.push_client,
        "pacs": {"study_id": ct[2], "series_id": ct[4], "image_id": ct[6]},
    }
    return _rest(world, case, "POST", "/process/processing_1", json=body)


def _upload(world: World, case: str) -> Outcome:
    return _rest(world, case, "POST", "/uploads", json={"kind": "image", "filename": "a.jpg"})


def _ticket_row(world: World, owner: StackUser, *, expires_in: int = 60) -> str:
    """A ticket stored the way the provisioner stores one, for Alice's push client but naming
    ``owner``: what a provisioner bug minting for the wrong user would leave behind."""
    ticket = secrets.token_urlsafe(32)
    expires_at = int(time.time()) + expires_in
    world.stack.client("dynamodb").put_item(
        TableName=world.stack.outputs["TicketsTableName"],
        Item={
            "ticket_hash": {"S": hashlib.sha256(ticket.encode()).hexdigest()},
            "client_id": {"S": world.push_client},
            "owner": {"S": owner.sub},
            "expires_at": {"N": str(expires_at)},
            "ttl": {"N": str(expires_at)},
        },
    )
    return ticket


def _minted_ticket(world: World) -> str:
    response = world.rest("POST", f"/clients/{world.push_client}/tickets", user=world.users.alice)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


def _expired_ticket(world: World) -> str:
    ticket = _minted_ticket(world)
    world.stack.client("dynamodb").update_item(
        TableName=world.stack.outputs["TicketsTableName"],
        Key={"ticket_hash": {"S": hashlib.sha256(ticket.encode()).hexdigest()}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 5)}},
    )
    return ticket


def _connect(world: World, case: str) -> Outcome:
    tickets: dict[str, Callable[[], str | None]] = {
        "no-token": lambda: None,
        "malformed": lambda: "not a ticket",
        "bad-signature": lambda: secrets.token_urlsafe(32),  # well formed, never issued
        "expired": lambda: _expired_ticket(world),
        "wrong-audience": lambda: world.users.alice.id_token,
        "other-pool": lambda: world.tokens["other-pool"],
        "other-user": lambda: _ticket_row(world, world.users.bob),
        "owner": lambda: _minted_ticket(world),
        "admin": lambda: _ticket_row(world, world.users.admin),
    }
    ticket = tickets[case]()
    url = world.stack.outputs["WebsocketUrl"]
    if ticket is not None:
        url += "?" + urlencode({"ticket": ticket})
    try:
        with connect(url, open_timeout=20):
            return Outcome(101)
    except InvalidStatus as exc:
        return Outcome(exc.response.status_code)


@dataclass(frozen=True)
class Route:
    name: str
    call: Callable[[World, str], Outcome]
    # Expected status for other-user / owner / admin (token failures: 401 everywhere).
    other_user: int
    owner: int
    admin: int
    # Further checks of a 2xx body, per case: what "scoped to the caller" means for the route.
    check: Callable[[World, str, Any], None] | None = None
    api: str = "rest"  # "rest" (Cognito authorizer), "http" (JWT authorizer) or "websocket"

    def expected(self, case: str) -> int:
        if case in TOKEN_FAILURES:
            if self.api == "websocket":
                return 401 if case == "no-token" else 403  # no ticket / a refused ticket
            return 401
        return {"other-user": self.other_user, "owner": self.owner, "admin": self.admin}[case]

    def refusal(self, case: str) -> Any:
        """The gateway's own body for a refused token (API Gateway's words)."""
        if self.api == "rest" and case == "expired":
            return {"message": EXPIRED_MESSAGE}
        return {"message": "Unauthorized"}


def _upload_is_under_the_callers_prefix(world: World, case: str, body: Any) -> None:
    user = world.user(case)
    assert user is not None
    assert body["key"].startswith(user.uploads), body["key"]


def _lists_alices_video_to_her_and_admins_only(world: World, case: str, body: Any) -> None:
    listed = {video["video_id"] for video in body["videos"]}
    assert (world.video_id in listed) == (case in ("owner", "admin")), (case, listed)


# PatientName, PatientID, PatientBirthDate: never in what an internet caller gets.
PATIENT_TAGS = ("00100010", "00100020", "00100030")


def _no_patient_attributes(world: World, case: str, body: Any) -> None:
    assert isinstance(body, list), body
    assert body, body
    for dataset in body:
        assert not set(PATIENT_TAGS) & set(dataset), dataset


def _tickets_name_the_client(world: World, case: str, body: Any) -> None:
    assert body["client_id"] == world.push_client
    assert body["ticket"]
    assert body["expires_at"]


ROUTES = (
    Route("POST /clients", _post_clients, 201, 201, 201),
    Route(
        "POST /clients/{id}/tickets",
        lambda w, c: _rest(w, c, "POST", f"/clients/{w.push_client}/tickets"),
        404,
        201,
        404,
        check=_tickets_name_the_client,
    ),
    Route("DELETE /clients/{id}", _delete_client, 404, 204, 404),
    Route("POST /process/{algo}", _process, 404, 202, 404),
    Route("GET /algorithms", lambda w, c: _rest(w, c, "GET", "/algorithms"), 200, 200, 200),
    Route("GET /jobs/{id}", lambda w, c: _rest(w, c, "GET", f"/jobs/{w.job_id}"), 404, 200, 200),
    Route(
        "GET /results?client_id=",
        lambda w, c: _rest(
            w, c, "GET", "/results", params={"client_id": w.poll_client, "wait_seconds": 0}
        ),
        404,
        200,
        404,
    ),
    Route("POST /uploads", _upload, 201, 201, 201, check=_upload_is_under_the_callers_prefix),
    Route(
        "GET /images/{key+}",
        lambda w, c: _rest(w, c, "GET", f"/images/{w.image_key}"),
        404,
        200,
        200,
    ),
    Route(
        "GET /videos",
        lambda w, c: _rest(w, c, "GET", "/videos"),
        200,
        200,
        200,
        check=_lists_alices_video_to_her_and_admins_only,
    ),
    Route(
        "GET /videos/{id}/frames",
        lambda w, c: _rest(w, c, "GET", f"/videos/{w.video_id}/frames"),
        404,
        200,
        200,
    ),
    Route("WS $connect?ticket=", _connect, 403, 101, 403, api="websocket"),
    Route("GET /pacs/studies", _pacs("/studies"), 200, 200, 200, api="http"),
    Route(
        "GET /pacs/studies/.../instances/{id}/metadata",
        _pacs("{w.pacs_instance}/metadata", "application/dicom+json"),
        200,
        200,
        200,
        check=_no_patient_attributes,
        api="http",
    ),
    # A whole instance carries patient data: only callers inside the VPC (the workers) get it;
    # ServicesApi strips the patient-access header from every internet caller, admins included.
    Route(
        "GET /pacs/studies/.../instances/{id} (WADO-RS)",
        _pacs("{w.pacs_instance}", 'multipart/related; type="application/dicom"'),
        403,
        403,
        403,
        api="http",
    ),
    Route(
        "GET /pacs/studies/.../instances/{id}/url",
        _pacs("{w.pacs_instance}/url"),
        403,
        403,
        403,
        api="http",
    ),
    Route(
        "GET /pacs/studies/.../instances/{id}/rendered",
        _pacs("{w.pacs_instance}/rendered"),
        200,
        200,
        200,
        api="http",
    ),
    Route(
        "GET /status (YOLO)",
        lambda w, c: _http(w, c, w.stack.outputs["YoloStatusUrl"]),
        200,
        200,
        200,
        api="http",
    ),
)


# ---- the matrix --------------------------------------------------------------------------------


class Matrix:
    """Every cell's actual status next to the expected one, written out as a Markdown table."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], tuple[int, int]] = {}

    def record(self, route: Route, case: str, actual: int) -> None:
        self.cells[(route.name, case)] = (actual, route.expected(case))

    def markdown(self) -> str:
        lines = [
            "| route | " + " | ".join(CASES) + " |",
            "|---|" + "---|" * len(CASES),
        ]
        for route in ROUTES:
            row = []
            for case in CASES:
                cell = self.cells.get((route.name, case))
                if cell is None:
                    row.append("not run")
                else:
                    actual, expected = cell
                    row.append(
                        str(actual) if actual == expected else f"**{actual}** (want {expected})"
                    )
            lines.append(f"| `{route.name}` | " + " | ".join(row) + " |")
        passed = sum(1 for actual, expected in self.cells.values() if actual == expected)
        lines += ["", f"{passed} of {len(self.cells)} cells as specified."]
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def matrix(request: pytest.FixtureRequest) -> Iterator[Matrix]:
    table = Matrix()
    yield table
    text = table.markdown()
    ARTIFACTS.mkdir(exist_ok=True)
    MATRIX_FILE.write_text(text)
    request.config.stash[MATRIX_KEY] = text


@pytest.mark.parametrize(
    ("route", "case"),
    [(route, case) for route in ROUTES for case in CASES],
    ids=[f"{route.name} | {case}" for route in ROUTES for case in CASES],
)
def test_route_answers_each_caller_as_the_contract_says(
    world: World, matrix: Matrix, route: Route, case: str
):
    # Given a route and a caller (see the module's docstring)
    # When the caller calls the route on Alice's resource
    outcome = route.call(world, case)
    matrix.record(route, case, outcome.status)

    # Then the status is the contract's: 401 for any bad token, 404 for what is not the caller's
    assert outcome.status == route.expected(case), outcome.body
    if case in TOKEN_FAILURES and route.api != "websocket":
        assert outcome.body == route.refusal(case)
    elif route.check is not None and 200 <= outcome.status < 300:
        route.check(world, case, outcome.body)
