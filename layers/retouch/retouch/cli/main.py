"""``retouch``: run jobs, list operations, apply operations locally, run the local stack.

Each command lives in its own module (``run``, ``jobs``, ``account``, ``catalog``, ``apply``,
``embedded``, ``dlq``), which adds its parser here; this module reads the command line, runs the
command and turns every error a user can cause or meet into one line and an exit code."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from retouch.cli import account, apply, catalog, embedded, hints, jobs, run
from retouch.cli.client import ApiError
from retouch.cli.errors import EXIT_INCOMPLETE, EXIT_SERVICE, EXIT_USAGE, RunError
from retouch.cli.ui import console


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retouch", description="Retouch: queue-driven photo retouching.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parser(sub)
    jobs.add_parsers(sub)
    account.add_parsers(sub)
    catalog.add_parser(sub)
    apply.add_parser(sub)
    embedded.add_samples_parser(sub)
    from retouch.cli import dlq

    dlq.add_parser(sub)
    embedded.add_local_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error a user can cause or meet is one line and a documented exit
    code (a traceback only with ``--debug``)."""

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: cleanly, with what is done saved

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the shell ignored it (a `cmd &` in a script)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RunError as exc:
        console.print(f"error: {exc.message}", highlight=False, markup=False)
        return exc.code
    except ApiError as exc:
        if args.debug:
            raise
        console.print(f"error: {hints.api_error(exc, getattr(args, 'api', None))}", highlight=False, markup=False)
        return EXIT_USAGE if exc.status in (400, 401, 403, 404, 409, 413, 422) else EXIT_SERVICE
    except _request_error() as exc:
        if args.debug:
            raise
        message = hints.connection_error(exc, getattr(args, "api", None), _reason(exc))
        console.print(f"error: {message}", highlight=False, markup=False)
        return EXIT_SERVICE
    except KeyboardInterrupt:
        console.print("Interrupted")
        return EXIT_INCOMPLETE
    except Exception as exc:
        if args.debug:
            raise
        console.print(f"error: {_reason(exc)} (run with --debug for details)", highlight=False, markup=False)
        return EXIT_SERVICE


class _NotRaised(Exception):
    """Stands for requests' errors where requests was never imported (so none can be raised)."""


def _request_error() -> type[Exception]:
    """requests' base error, if a command loaded requests (only those that reach the service do)."""
    loaded = sys.modules.get("requests")
    return loaded.exceptions.RequestException if loaded is not None else _NotRaised


def _reason(exc: BaseException) -> str:
    """The innermost cause of ``exc`` in one line, without the library's class names."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused (is the API URL right, and is the service running?)"
    if isinstance(exc, TimeoutError) or "timed out" in text:
        return "the connection timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host name"
    return text


if __name__ == "__main__":
    sys.exit(main())
