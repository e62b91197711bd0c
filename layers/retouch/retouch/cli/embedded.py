"""Trying the service on this machine: ``retouch local`` (the embedded stack in the foreground)
and ``retouch samples`` (photos to try it with)."""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path
from typing import Any

from retouch.cli.errors import EXIT_USAGE, RunError
from retouch.cli.ui import console


def cmd_samples(args: argparse.Namespace) -> int:
    from retouch.cli.samples import write_samples

    folder = Path(args.folder)
    paths = write_samples(folder, args.count)
    console.print(f"Wrote {len(paths)} sample photos (from scikit-image's bundled photographs) to {folder}")
    return 0


def _check_port(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise RunError(
                f"port {port} is not free ({exc.strerror}); choose another with --port (0: any free port)", EXIT_USAGE
            ) from exc


def cmd_local(args: argparse.Namespace) -> int:
    from retouch.local.stack import EmbeddedStack

    tokens = {args.token: args.user} if args.token else None
    if args.port:
        _check_port(args.port)
    with EmbeddedStack(
        tokens=tokens, api_port=args.port, max_workers=args.workers, allow_private_callbacks=args.allow_private_callbacks
    ) as stack:
        console.print("[bold]Retouch embedded stack[/] is running (Ctrl-C to stop)")
        console.print(f"  API URL:       {stack.api_url}")
        console.print(f"  bearer token:  {stack.token}")
        console.print(f"  WebSocket:     {stack.websocket_url}  (connect with ?token=..., see README: Push)")
        console.print(f"  API docs:      {stack.api_url}/docs")
        console.print(f"  web page:      {stack.api_url}/#token={stack.token}")
        if args.allow_private_callbacks:
            console.print("  callbacks:     http to loopback allowed (--allow-private-callbacks)")
        console.print(f"  AWS emulator:  {stack.endpoint} (moto server: S3, SQS)")
        console.print(f"  DynamoDB:      {stack.dynamodb_endpoint} (moto server)")
        console.print(f"  function logs: {stack.logs}")
        console.print(
            f"  try: retouch run PHOTOS... --op thumbnail:width=512 --out out --api {stack.api_url} --token {stack.token}"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopping ...")
    return 0


def add_samples_parser(sub: Any) -> None:
    p = sub.add_parser("samples", help="write sample photos (variants of scikit-image's photographs)")
    p.add_argument("folder")
    p.add_argument("--count", type=int, default=24)
    p.set_defaults(func=cmd_samples)


def add_local_parser(sub: Any) -> None:
    p = sub.add_parser("local", help="run the embedded stack in the foreground")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--token", help="bearer token to accept (default: a random one, printed)")
    p.add_argument("--user", default="local-user", help="user id for --token")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument(
        "--allow-private-callbacks",
        action="store_true",
        help="let jobs send webhooks over http to loopback receivers (local testing); otherwise AWS's rules apply",
    )
    p.set_defaults(func=cmd_local)
