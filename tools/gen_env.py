"""Write a deployed stack's outputs to the env file the CLIs and the web console read.

    python -m tools.gen_env --stack-name pipeline [--region eu-west-1] [--output .env.cloud]
                            [--web-config web/dist/config.json]

Every stack output becomes ``env_key(OutputKey)=OutputValue`` (``RestApiUrl`` -> ``REST_API_URL``,
``UserPoolId`` -> ``USER_POOL_ID``, ``UserPoolClientId`` -> ``USER_POOL_CLIENT_ID``,
``ServicesApiUrl`` -> ``SERVICES_API_URL``, ...), the same keys the local cloud writes to
``.env.local``, and the stack's region ``AWS_REGION``. No credential is written: the CLIs log in
as a user of the stack's pool (``clients.auth``). No ``AWS_ENDPOINT_URL`` either: against AWS,
boto3 uses its own endpoints. A user's credentials that ``tools.users create --write-credentials``
put in the file (``DEMO_USERNAME``/``DEMO_PASSWORD``) are kept when the file is rewritten.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from clients.cli import emit, invoke, module_parser
from tools.env_file import env_key, write_env_file, write_web_config

# Written by tools.users, not by the stack: a refresh of the outputs must not drop them.
KEPT_KEYS = ("DEMO_USERNAME", "DEMO_PASSWORD")
# A stack in any other state has no outputs worth writing (rolled back, still creating, deleted).
USABLE_STATUSES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
}


class StackOutputsError(RuntimeError):
    """The stack's outputs cannot be read: the message says why and what to do."""


@dataclass(frozen=True)
class StackEnv:
    stack_name: str
    region: str
    values: dict[str, str]

    def header(self) -> str:
        return (
            f"Written by `python -m tools.gen_env` from stack {self.stack_name} ({self.region}).\n"
            "`make outputs` refreshes it; the local cloud writes the same keys to .env.local."
        )


def _stack(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "does not exist" in message:
            raise StackOutputsError(
                f"stack {stack_name!r} does not exist in {cloudformation.meta.region_name}: "
                "deploy it first (sam deploy) or pass --stack-name/--region"
            ) from exc
        raise StackOutputsError(f"cannot describe stack {stack_name!r}: {message}") from exc
    stack: dict[str, Any] = stacks[0]
    if stack["StackStatus"] not in USABLE_STATUSES:
        raise StackOutputsError(
            f"stack {stack_name!r} is {stack['StackStatus']}: its outputs are not usable"
        )
    return stack


def read_stack_outputs(stack_name: str, session: Any) -> dict[str, str]:
    """A deployed stack's outputs by the template's output names (what the test suites read)."""
    if not session.region_name:
        raise StackOutputsError("no AWS region: set AWS_REGION or pass --region")
    stack = _stack(session.client("cloudformation"), stack_name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    if not outputs:
        raise StackOutputsError(f"stack {stack_name!r} has no outputs")
    return outputs


def read_stack_env(stack_name: str, session: Any | None = None) -> StackEnv:
    """The env-file values of a deployed stack: its outputs under env-style names."""
    session = session or boto3.session.Session()
    region = session.region_name
    outputs = read_stack_outputs(stack_name, session)
    values = {env_key(name): value for name, value in outputs.items()}
    values["AWS_REGION"] = region
    values["AWS_DEFAULT_REGION"] = region  # boto3 reads this one, the CLIs and Lambda the other
    return StackEnv(stack_name, region, values)


def kept_values(path: Path) -> dict[str, str]:
    """The keys of an existing env file that the stack does not provide (a user's login)."""
    from clients.env import EnvFileError, parse_env

    try:
        existing = parse_env(path.read_text(), source=str(path))
    except (FileNotFoundError, EnvFileError):
        return {}
    return {key: existing[key] for key in KEPT_KEYS if existing.get(key)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", help="default: the AWS configuration's region")
    parser.add_argument("--profile", help="an AWS CLI profile")
    parser.add_argument("--output", type=Path, default=Path(".env.cloud"))
    parser.add_argument("--web-config", type=Path, help="also write the web console's config.json")


def _parser() -> argparse.ArgumentParser:
    description = __doc__.split("\n")[0]
    return module_parser("python -m tools.gen_env", description, add_arguments, env_file=None)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return invoke(_parser(), run, argv)


def run(args: argparse.Namespace) -> int:
    """`pipeline outputs` and `python -m tools.gen_env`."""
    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        env = read_stack_env(args.stack_name, session)
    except (StackOutputsError, BotoCoreError) as exc:
        print(f"gen_env: {exc}", file=sys.stderr)
        return 1
    values = {**env.values, **kept_values(args.output)}
    write_env_file(args.output, values, env.header())
    lines = [f"wrote {len(env.values)} values to {args.output}"]
    if args.web_config:
        write_web_config(args.web_config, env.values)
        lines.append(f"wrote the web console's config to {args.web_config}")
    document = {
        "stack_name": env.stack_name,
        "region": env.region,
        "output": str(args.output),
        "web_config": str(args.web_config) if args.web_config else None,
        "keys": sorted(env.values),
    }
    if not args.quiet or args.json:
        emit(args, document, text="\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
