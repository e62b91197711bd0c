"""Webhooks: how an event is signed, and a sender that cannot be aimed at our own network (the
signing secrets and the delivery log are stored by :mod:`retouch.adapters.webhook_store`).

**Signature** (in the manner of Stripe's): ``Retouch-Signature: t=<unix seconds>,v1=<hex>``,
where ``<hex>`` is HMAC-SHA256 of ``"<t>.<raw body>"`` under the user's secret. While a rotated
secret is still valid (24 hours from its rotation, whatever rotations follow), the header
carries a ``v1`` for each secret.
``Retouch-Delivery`` identifies the event (the same on every attempt), for de-duplication.

**No server-side request forgery**: the host is resolved once and every address it resolves to
must be globally routable (no loopback, RFC 1918, link-local and the instance metadata address,
carrier-grade NAT, unique-local or link-local IPv6, IPv4-mapped forms of those; literal tricks
such as ``0x7f000001`` or ``127.1`` resolve to what they mean and are refused too). The
connection goes to the address that was checked (TLS still verifies the host name), redirects
are never followed, the whole attempt is bounded, and at most a few KB of the answer are read.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    pass

MAX_RESPONSE_BYTES = 4096
ATTEMPT_SECONDS = 5.0
"""Connect, send and read together."""


class UnsafeCallback(ValueError):
    """A callback URL that Retouch refuses to call; the message says why. ``lasting``: trying
    again will not help (it points where Retouch never calls), unlike a name that does not
    resolve right now."""

    def __init__(self, message: str, *, lasting: bool = True) -> None:
        super().__init__(message)
        self.lasting = lasting


# --- signing ------------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets_)])


def verify(header: str, body: bytes, secret: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (the README shows it): a fresh timestamp and one matching ``v1``."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


# --- where a callback may go --------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str
    """The checked address the connection goes to."""


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return _refusal(mapped, allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "an address that is not publicly routable"
    if ip.is_link_local:
        return "a link-local address (such as the instance metadata service)"
    if ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"):
        return "a private network address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


def check_callback(url: str, *, allow_private: bool = False, resolve: bool = True) -> Target:
    """The target of ``url`` if Retouch may call it, else :class:`UnsafeCallback` with the reason.

    Only ``https`` on port 443; with ``allow_private`` (the embedded stack's
    ``--allow-private-callbacks``), also loopback receivers, and those alone by ``http`` or on
    another port.
    ``resolve=False`` checks the URL's form and literal addresses only (at job creation, when a
    name may not resolve yet is not a reason to refuse).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeCallback("callback_url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_private and scheme == "http"):
        raise UnsafeCallback("callback_url must be an https URL")
    if parts.username or parts.password:
        raise UnsafeCallback("callback_url must not carry a user name or password")
    host = parts.hostname or ""
    if not host:
        raise UnsafeCallback("callback_url has no host")
    port = port or (443 if scheme == "https" else 80)
    if port != 443 and not allow_private:
        raise UnsafeCallback("callback_url must use the standard https port (443)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not resolve:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and (why := _refusal(literal, allow_private)):
            raise UnsafeCallback(f"callback_url points to {why}")
        if literal is not None:
            _plain_only_to_loopback(scheme, port, [literal])
        return Target(scheme, host, port, path, host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeCallback(f"callback_url host {host!r} does not resolve", lasting=False) from None
    addresses = sorted({str(info[4][0]) for info in infos})
    for address in addresses:
        why = _refusal(ipaddress.ip_address(address.split("%", 1)[0]), allow_private)
        if why:
            raise UnsafeCallback(f"callback_url points to {why}")
    _plain_only_to_loopback(scheme, port, [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses])
    return Target(scheme, host, port, path, addresses[0])


def _plain_only_to_loopback(scheme: str, port: int, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
    """``http``, or a port other than 443, only to this machine (local receivers)."""
    if (scheme != "https" or port != 443) and not all(_loopback(a) for a in addresses):
        raise UnsafeCallback("callback_url must be an https URL on port 443 (plain http only to this machine)")


def _loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


# --- sending ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    status: int | None
    """The HTTP status, or None when no answer came."""
    error: str | None = None
    refused: bool = False
    """Not attempted, and never will be: the callback points where Retouch does not call."""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


@dataclass
class WebhookSender:
    allow_private: bool = False
    attempt_seconds: float = ATTEMPT_SECONDS

    def deliver(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        """One attempt: checked again (DNS may have changed since the job was created), pinned to
        the checked address, no redirects, bounded in time and in what is read."""
        try:
            target = check_callback(url, allow_private=self.allow_private)
        except UnsafeCallback as exc:
            return Attempt(None, str(exc), refused=exc.lasting)
        cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        conn = cls(target, self.attempt_seconds)
        # the socket timeout bounds each read; this bounds the attempt (a receiver trickling one
        # byte at a time would otherwise hold it open)
        aborted = threading.Event()
        timer = threading.Timer(self.attempt_seconds, _abort, (conn, aborted))
        timer.start()
        try:
            conn.request("POST", target.path, body=body, headers={**headers, "Host": _host_header(target)})
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            status = int(response.status)
            if aborted.is_set():  # cut off mid-answer: whatever was parsed is not an answer
                return Attempt(None, "no answer within the time limit")
            if 300 <= status < 400:
                return Attempt(status, "redirects are not followed")
            return Attempt(status, None if 200 <= status < 300 else f"the receiver answered {status}")
        except (OSError, http.client.HTTPException) as exc:
            if aborted.is_set() or isinstance(exc, TimeoutError):
                return Attempt(None, "no answer within the time limit")
            return Attempt(None, f"connection failed ({type(exc).__name__})")
        finally:
            timer.cancel()
            conn.close()


def _abort(conn: http.client.HTTPConnection, aborted: threading.Event) -> None:
    aborted.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"
