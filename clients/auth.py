"""Log in to the stack's Cognito user pool and keep a valid ID token for the REST and HTTP APIs.

Every CLI of the project logs in the same way:

- who: ``--user``/``--password``, else ``PIPELINE_USERNAME``/``PIPELINE_PASSWORD`` in the process
  environment, else ``DEMO_USERNAME``/``DEMO_PASSWORD`` in the env file (``tools.users create
  --write-credentials`` writes them; ``make demo`` does it for its demo user). A password typed on
  the command line is visible to other local users in ``ps``: prefer the environment or the file.
  With a terminal and no password anywhere, the password is asked for without echo.
- how: cognito-idp ``InitiateAuth`` with ``USER_PASSWORD_AUTH``. It is an unauthenticated API
  (the app client has no secret), so requests go unsigned: no AWS credentials are needed. The
  endpoint is the env file's ``AWS_ENDPOINT_URL`` (the local cloud's moto) or, on AWS, boto3's own.
- tokens are cached in ``~/.cache/image-video-pipeline/tokens.json`` (mode 0600) per pool, app
  client and user, and refreshed with ``REFRESH_TOKEN_AUTH`` shortly before the ID token expires;
  the password is only needed again when the refresh token is refused.

The password and the tokens are never printed or logged: errors name the user and what to do.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

PROJECT = "image-video-pipeline"
DEFAULT_TOKEN_CACHE = Path.home() / ".cache" / PROJECT / "tokens.json"
# An ID token is renewed when it has less than this left, so no request carries one that expires
# on the way (API Gateway checks `exp` when the request arrives).
REFRESH_MARGIN_SECONDS = 5 * 60
USER_KEYS = ("PIPELINE_USERNAME", "DEMO_USERNAME")
PASSWORD_KEYS = ("PIPELINE_PASSWORD", "DEMO_PASSWORD")
MFA_CHALLENGES = {"SOFTWARE_TOKEN_MFA": "SOFTWARE_TOKEN_MFA_CODE", "SMS_MFA": "SMS_MFA_CODE"}


class LoginError(RuntimeError):
    """A login that cannot succeed without the user doing something: the message says what."""


class TokenSource(Protocol):
    """Anything that hands out a currently valid ID token (a login, or a fixed token in tests)."""

    def id_token(self) -> str: ...

    def invalidate(self) -> None: ...


@dataclass(frozen=True)
class StaticToken:
    """A token obtained elsewhere (a test fixture's user): used as it is, never renewed."""

    token: str = field(repr=False)

    def id_token(self) -> str:
        return self.token

    def invalidate(self) -> None:
        pass


def token_source(auth: TokenSource | str) -> TokenSource:
    return StaticToken(auth) if isinstance(auth, str) else auth


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str
    region: str
    endpoint_url: str | None = None


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Tokens:
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float

    def fresh(self, now: float, margin: float = REFRESH_MARGIN_SECONDS) -> bool:
        return self.expires_at - margin > now


def _write_private(path: Path, text: str) -> None:
    """Owner-only, atomic: a crash never leaves a half-written or world-readable cache."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(partial, path)


class TokenCache:
    """Tokens per pool, app client and user in one JSON file that only its owner may read."""

    def __init__(self, path: Path = DEFAULT_TOKEN_CACHE):
        self.path = path

    @staticmethod
    def key(pool: UserPool, username: str) -> str:
        return f"{pool.pool_id}/{pool.client_id}/{username}"

    def _all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, pool: UserPool, username: str) -> Tokens | None:
        entry = self._all().get(self.key(pool, username))
        try:
            return Tokens(**entry) if isinstance(entry, dict) else None
        except TypeError:
            return None

    def put(self, pool: UserPool, username: str, tokens: Tokens) -> None:
        data = self._all()
        data[self.key(pool, username)] = asdict(tokens)
        _write_private(self.path, json.dumps(data, indent=2))

    def drop(self, pool: UserPool, username: str) -> None:
        data = self._all()
        if data.pop(self.key(pool, username), None) is not None:
            _write_private(self.path, json.dumps(data, indent=2))


def cognito_client(pool: UserPool) -> Any:
    """An unsigned cognito-idp client: InitiateAuth needs no AWS credentials, and none are sent."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client(
        "cognito-idp",
        region_name=pool.region,
        endpoint_url=pool.endpoint_url or None,
        config=Config(signature_version=UNSIGNED, retries={"mode": "standard", "max_attempts": 3}),
    )


class CognitoLogin:
    """A user's session with the pool: ``id_token()`` always answers a token with minutes left.

    Thread-safe (the load generator's clients share one login). ``invalidate()`` after a 401
    makes the next call renew the token even if its clock says it is still valid.
    """

    def __init__(
        self,
        pool: UserPool,
        credentials: Credentials,
        *,
        cache: TokenCache | None = None,
        cognito: Any | None = None,
        mfa_code: Callable[[str], str | None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.pool = pool
        self.credentials = credentials
        self.cache = cache
        self._cognito = cognito
        self._mfa_code = mfa_code
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = cache.get(pool, credentials.username) if cache else None

    @property
    def username(self) -> str:
        return self.credentials.username

    @property
    def cognito(self) -> Any:
        if self._cognito is None:
            self._cognito = cognito_client(self.pool)
        return self._cognito

    def id_token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._tokens is None or not self._tokens.fresh(now):
                self._tokens = self._renew(now)
                if self.cache:
                    self.cache.put(self.pool, self.username, self._tokens)
            return self._tokens.id_token

    def invalidate(self) -> None:
        with self._lock:
            if self._tokens is not None:
                self._tokens = Tokens(
                    self._tokens.id_token,
                    self._tokens.access_token,
                    self._tokens.refresh_token,
                    expires_at=0.0,
                )

    def _renew(self, now: float) -> Tokens:
        refresh = self._tokens.refresh_token if self._tokens else None
        if refresh:
            try:
                return self._refresh(refresh, now)
            except LoginError:
                if self.credentials.password is None:
                    raise
        return self._password_login(now)

    def _refresh(self, refresh_token: str, now: float) -> Tokens:
        from botocore.exceptions import ClientError

        try:
            answer = self.cognito.initiate_auth(
                ClientId=self.pool.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as exc:
            if self.cache:
                self.cache.drop(self.pool, self.username)
            raise LoginError(
                f"the session of {self.username} has ended ({_error_code(exc)}): log in again "
                "with a password (--password, PIPELINE_PASSWORD or the env file)"
            ) from exc
        result = answer["AuthenticationResult"]
        # A refresh answers no new refresh token: the one we have stays valid.
        return _tokens(result, now, refresh_token=refresh_token)

    def _password_login(self, now: float) -> Tokens:
        from botocore.exceptions import BotoCoreError, ClientError

        user, password = self.username, self.credentials.password
        if password is None:
            raise LoginError(
                f"no password for {user}: pass --password, set PIPELINE_PASSWORD, or put "
                "DEMO_USERNAME/DEMO_PASSWORD in the env file (python -m tools.users create "
                f"{user} --write-credentials)"
            )
        try:
            answer = self.cognito.initiate_auth(
                ClientId=self.pool.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": user, "PASSWORD": password},
            )
            if "ChallengeName" in answer:
                answer = self._challenge(answer)
        except ClientError as exc:
            raise LoginError(_login_refused(exc, user, self.pool)) from exc
        except BotoCoreError as exc:
            where = self.pool.endpoint_url or f"cognito-idp in {self.pool.region}"
            raise LoginError(f"cannot reach {where} to log in: {exc}") from exc
        return _tokens(answer["AuthenticationResult"], now)

    def _challenge(self, answer: dict[str, Any]) -> dict[str, Any]:
        name, user = answer["ChallengeName"], self.username
        if name == "NEW_PASSWORD_REQUIRED":
            raise LoginError(
                f"{user} must choose a new password before the first login: log in once in the "
                "web console (it asks for one), or have an operator set a permanent password "
                f"with `python -m tools.users create {user} --reset-password --write-credentials`"
            )
        if name == "MFA_SETUP":
            raise LoginError(
                f"{user} must set up MFA first: log in to the web console or associate a "
                "software token (aws cognito-idp associate-software-token), then try again"
            )
        if name not in MFA_CHALLENGES:
            raise LoginError(f"Cognito asks {user} for {name}, which the command line cannot do")
        code = self._mfa_code(name) if self._mfa_code else None
        if not code:
            raise LoginError(
                f"{user} has MFA on ({name}): run this command in a terminal to type the code, "
                "or pass --mfa-code (a code from the authenticator app)"
            )
        return dict(
            self.cognito.respond_to_auth_challenge(
                ClientId=self.pool.client_id,
                ChallengeName=name,
                Session=answer["Session"],
                ChallengeResponses={"USERNAME": user, MFA_CHALLENGES[name]: code},
            )
        )


def _tokens(result: Mapping[str, Any], now: float, refresh_token: str | None = None) -> Tokens:
    return Tokens(
        id_token=result["IdToken"],
        access_token=result["AccessToken"],
        refresh_token=result.get("RefreshToken") or refresh_token,
        expires_at=now + float(result.get("ExpiresIn", 3600)),
    )


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))


def _login_refused(exc: Any, user: str, pool: UserPool) -> str:
    code = _error_code(exc)
    said = exc.response.get("Error", {}).get("Message", "")
    if code in ("NotAuthorizedException", "UserNotFoundException"):
        # Both read the same: telling them apart would tell a guesser which users exist.
        return (
            f"login as {user} refused: {said or 'incorrect username or password'}; check the "
            "password (an operator resets it with `python -m tools.users create "
            f"{user} --reset-password`)"
        )
    if code == "PasswordResetRequiredException":
        return (
            f"{user} must reset the password: an operator runs `python -m tools.users create "
            f"{user} --reset-password`"
        )
    if code == "UserNotConfirmedException":
        return f"{user} is not confirmed yet: an operator confirms the user in the pool"
    if code == "ResourceNotFoundException":
        return (
            f"app client {pool.client_id} is not in user pool {pool.pool_id}: the env file is "
            "stale; regenerate it (`make outputs`, or restart the local cloud)"
        )
    if code == "InvalidParameterException" and "flow" in said.lower():
        return f"the app client does not allow password logins ({said}): check the template"
    return f"login as {user} failed: {code}: {said}"


# ---- the command line ------------------------------------------------------------------------


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("login (Cognito)")
    group.add_argument("--user", help="username (default: PIPELINE_USERNAME or the env file's)")
    group.add_argument(
        "--password",
        help="password (visible in `ps`: prefer PIPELINE_PASSWORD or the env file's DEMO_PASSWORD)",
    )
    group.add_argument("--mfa-code", help="a code from the authenticator app, if MFA is on")
    group.add_argument("--token-cache", type=Path, default=DEFAULT_TOKEN_CACHE)


def credentials_from(
    *,
    user: str | None,
    password: str | None,
    environ: Mapping[str, str],
    env_values: Mapping[str, str],
) -> Credentials:
    """Flags first, then the process environment, then the env file; a password stored for a
    different user than the one asked for is never used."""
    sources = [(environ, "PIPELINE"), (env_values, "PIPELINE"), (env_values, "DEMO")]
    username = user
    for values, prefix in sources:
        if username:
            break
        username = values.get(f"{prefix}_USERNAME") or None
    if not username:
        raise LoginError(
            "who is logging in? pass --user, set PIPELINE_USERNAME, or create a user with "
            "`python -m tools.users create NAME --write-credentials`"
        )
    secret = password
    for values, prefix in sources:
        if secret:
            break
        if values.get(f"{prefix}_USERNAME", username) == username:
            secret = values.get(f"{prefix}_PASSWORD") or None
    return Credentials(username, secret)


def user_pool(values: Mapping[str, str], *, source: str = "the env file") -> UserPool:
    pool_id, client_id = values.get("USER_POOL_ID"), values.get("USER_POOL_CLIENT_ID")
    if not pool_id or not client_id:
        raise LoginError(
            f"{source} lacks USER_POOL_ID/USER_POOL_CLIENT_ID: regenerate it for a stack with "
            "logins (`make outputs`, or restart the local cloud)"
        )
    # A pool id is `<region>_<id>`: its region is where Cognito must be asked.
    region = pool_id.split("_", 1)[0] if "_" in pool_id else values.get("AWS_REGION", "")
    return UserPool(pool_id, client_id, region, values.get("AWS_ENDPOINT_URL") or None)


def login_from_args(
    args: argparse.Namespace,
    env_values: Mapping[str, str],
    *,
    environ: Mapping[str, str] | None = None,
    interactive: bool | None = None,
) -> CognitoLogin:
    """The login the CLI's flags, environment and env file describe (no network call yet)."""
    environ = os.environ if environ is None else environ
    interactive = sys.stdin.isatty() if interactive is None else interactive
    pool = user_pool(env_values)
    cache = TokenCache(args.token_cache)
    credentials = credentials_from(
        user=args.user, password=args.password, environ=environ, env_values=env_values
    )
    if credentials.password is None and interactive:
        cached = cache.get(pool, credentials.username)
        if cached is None or not cached.refresh_token:
            credentials = Credentials(
                credentials.username, getpass.getpass(f"Password for {credentials.username}: ")
            )

    def mfa_code(challenge: str) -> str | None:
        if args.mfa_code:
            return str(args.mfa_code)
        return input(f"MFA code ({challenge}): ").strip() if interactive else None

    return CognitoLogin(pool, credentials, cache=cache, mfa_code=mfa_code)
