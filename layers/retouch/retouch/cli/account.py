"""``retouch login`` and ``retouch logout``: a cached Cognito sign-in for a deployed stack."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from retouch.cli.errors import EXIT_OK, EXIT_SERVICE, EXIT_USAGE, RunError
from retouch.cli.service import check_api_url
from retouch.cli.ui import console


def cmd_login(args: argparse.Namespace) -> int:
    from retouch.cli import auth

    api, pool, client_id = args.api, args.user_pool_id, args.client_id
    try:
        if args.stack_name:
            outputs = auth.stack_outputs(args.stack_name, args.region)
            api = api or outputs.get("ApiUrl")
            pool = pool or outputs.get("UserPoolId")
            client_id = client_id or outputs.get("UserPoolClientId")
        if not (api and pool and client_id):
            raise RunError("give --stack-name (or --api, --user-pool-id and --client-id)", EXIT_USAGE)
        api = check_api_url(api)
        email = args.email or input("Email: ").strip()
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            import getpass

            password = getpass.getpass("Password: ")
        session = auth.login(api, pool, client_id, args.region, email, password, endpoint=args.cognito_endpoint)
    except auth.SignInError as exc:
        raise RunError(exc.message, EXIT_USAGE if exc.refused else EXIT_SERVICE) from exc
    where = auth.credentials_path()
    console.print(f"Signed in to {session.api} as {email}; tokens cached in {where} (owner only)", highlight=False)
    console.print(f"  try: retouch run PHOTOS... --op thumbnail:width=512 --out out --api {session.api}", highlight=False)
    return EXIT_OK


def cmd_logout(args: argparse.Namespace) -> int:
    from retouch.cli import auth

    gone = auth.logout(args.api)
    console.print(f"Signed out of {', '.join(gone)}" if gone else "Not signed in", highlight=False)
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("login", help="sign in to a deployed stack (Cognito) and cache the tokens")
    p.add_argument("--stack-name", help="the deployed stack (its outputs give the API URL and user pool)")
    p.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    p.add_argument("--api", help="API URL (default: the stack's ApiUrl output)")
    p.add_argument("--user-pool-id", help="default: the stack's UserPoolId output")
    p.add_argument("--client-id", help="default: the stack's UserPoolClientId output")
    p.add_argument("--email", help="default: asked")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    p.add_argument("--cognito-endpoint", help=argparse.SUPPRESS)  # an emulator, for tests
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="forget a cached sign-in")
    p.add_argument("--api", help="the API to sign out of (default: all)")
    p.set_defaults(func=cmd_logout)
