"""Reaching the service: ``--api`` and its token (or a sign-in), or an embedded stack started here."""

from __future__ import annotations

import argparse
import os
from contextlib import ExitStack
from urllib.parse import urlsplit

from retouch.cli.client import RetouchClient
from retouch.cli.errors import EXIT_SERVICE, EXIT_USAGE, RunError
from retouch.cli.ui import console


def check_api_url(api: str) -> str:
    parts = urlsplit(api)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RunError(f"--api {api!r} is not a URL; give it as https://HOST (the stack's ApiUrl output)", EXIT_USAGE)
    return api.rstrip("/")


def connect(args: argparse.Namespace, stack: ExitStack, *, embedded: bool = True) -> RetouchClient:
    """A client for ``--api`` (with its token), or for an embedded stack started here (unless
    ``embedded`` is false: a command that reads what earlier runs left, which a stack started
    now cannot have)."""
    if not args.api and not embedded:
        raise RunError(
            f"retouch {args.command} needs the --api URL of a running service (and --token, RETOUCH_TOKEN or a "
            "retouch login sign-in): a stack started just for this command would be empty. Start one with retouch local "
            "(it prints its API URL and token) and give retouch run the same --api and --token",
            EXIT_USAGE,
        )
    if args.api:
        api = check_api_url(args.api)
        token = args.token or os.environ.get("RETOUCH_TOKEN") or signed_in_token(api)
        if not token:
            raise RunError(
                f"not signed in to {api}: run retouch login --stack-name STACK (or pass --token / RETOUCH_TOKEN)", EXIT_USAGE
            )
        return RetouchClient(api, token)
    from retouch.local.stack import EmbeddedStack

    console.print("Starting the embedded stack (moto server, the functions of template.yaml, local API) ...")
    local = stack.enter_context(EmbeddedStack(max_workers=getattr(args, "workers", None)))
    console.print(f"  API {local.api_url}, AWS emulator {local.endpoint}, logs in {local.logs}", highlight=False)
    return RetouchClient(local.api_url, local.token)


def signed_in_token(api: str) -> str | None:
    from retouch.cli import auth

    try:
        return auth.token_for(api)
    except auth.SignInError as exc:
        raise RunError(exc.message, EXIT_USAGE if exc.refused else EXIT_SERVICE) from exc


def add_api_arguments(p: argparse.ArgumentParser, *, embedded: bool = True) -> None:
    p.add_argument(
        "--api",
        help="API base URL, e.g. https://ID.execute-api.REGION.amazonaws.com (the stack's ApiUrl output) or the URL "
        "retouch local prints"
        + (" (default: start the embedded local stack for this run)" if embedded else " (required: the running service)"),
    )
    p.add_argument("--token", help="bearer token for --api (default: RETOUCH_TOKEN, then the sign-in of retouch login)")
    if embedded:
        p.add_argument("--workers", type=int, default=None, help="embedded stack: most worker processes per function")
