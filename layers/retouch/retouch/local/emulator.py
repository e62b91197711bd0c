"""The embedded stack's AWS emulator: moto's server (:mod:`retouch.local.moto_main`) in a child process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from retouch.local.processes import die_with_parent_at_once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``moto_server`` in a child process; with ``fork_port``, a second, independent one on that
    port, forked from the first once moto is imported (see :mod:`retouch.local.moto_main`)."""

    def __init__(self, port: int = 0, log_path: Path | None = None, fork_port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.fork_port = fork_port
        self.fork_url = f"http://127.0.0.1:{fork_port}" if fork_port else None
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "retouch.local.moto_main", *self.arguments()]

    def arguments(self) -> list[str]:
        return ["-H", "127.0.0.1", "-p", str(self.port), *(["--fork-port", str(self.fork_port)] if self.fork_port else [])]

    def launch(self) -> None:
        """Start the process (from the thread that will outlive it: the child is killed when the
        thread that started it ends, see :func:`~retouch.local.processes.die_with_parent`)."""
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        # killed outright with its parent: an emulator has nothing to save, and moto's SIGTERM
        # handler exits only the main thread, leaving busy request threads running for minutes
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=out, preexec_fn=die_with_parent_at_once)

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        for url in (self.url, self.fork_url):
            while url:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"moto server exited with {self.proc.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError("moto server did not start")
                try:
                    urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.05)

    def start(self, timeout: float = 30) -> None:
        self.launch()
        self.wait_ready(timeout)

    def terminate(self) -> None:
        """Ask the server to stop, without waiting (its forked twin gets SIGTERM when it exits)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        self.terminate()
        if self.proc:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
