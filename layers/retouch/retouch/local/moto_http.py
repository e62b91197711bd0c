"""What each request costs the embedded stack's moto servers beyond the work it asks for (issue 28).

``bench/moto_cpu.py`` measured 1.5-2.5 ms of server CPU per small request (a DynamoDB
``GetItem``, an S3 ``HeadObject``), most of it outside the call itself. Four costs are cut:

* **Connections.** werkzeug's development server, which moto's server runs, answers every
  request with ``Connection: close``: each AWS call of the stack paid a TCP connection, a new
  server thread and a new handler, and each SDK client a reconnection (``bench.moto_cpu`` counted
  one connection per request). :class:`KeepAliveHandler` keeps them open, as AWS does
  (:mod:`retouch.local.kept_open`, which the local API's server uses too).
* **Finding the service.** moto's dispatcher calls ``get_backend_for_host`` on every request,
  which lists moto's package directory and stats each of its ~180 entries (the host is not one
  of them for S3 and SQS), then tries each service's URL patterns: about 1 ms per S3 or SQS
  request. The answer depends on the host only (moto's modules and patterns are fixed once
  imported), so it is kept per host (:func:`_cached_backends`; hosts are few: the credential
  scope's service and region).
* **Finding the action.** Every SQS and DynamoDB request lists its response class's methods
  with ``inspect.getmembers`` (``method_names_from_class``) to check that the action is one of
  them. A class's methods do not change, so the list is made once per class.
* **The access log.** werkzeug logs every request (through :mod:`logging`, into ``moto.log``);
  only failed ones (4xx, 5xx) are logged now.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

from retouch.local.kept_open import KeptOpen


class KeepAliveHandler(KeptOpen, MotoRequestHandler):
    """moto's request handler; the connection stays open after an answer, and only failed
    requests are logged (see the module)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not str(code).isdigit() or int(code) >= 400:
            super().log_request(code, size)


_backends: dict[str | None, Any] = {}


def _cached_backends(moto_lookup: Callable[[Any, str | None], Any]) -> Callable[[Any, str | None], Any]:
    """``DomainDispatcherApplication.get_backend_for_host``, each host's answer kept."""

    @functools.wraps(moto_lookup)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in _backends:  # (its caller holds the dispatcher's lock)
            backend = moto_lookup(self, host)
            if len(_backends) >= 256:
                return backend
            _backends[host] = backend
        return _backends[host]

    return get_backend_for_host


def install() -> None:
    """moto's server (``moto.server.main``) serves with :class:`KeepAliveHandler`, finds each
    host's service once and each response class's methods once (see the module). Once."""
    import moto.core.responses
    import moto.server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lookup = DomainDispatcherApplication.get_backend_for_host
    if getattr(lookup, "__wrapped__", None) is not None:
        return
    moto.server.MotoRequestHandler = KeepAliveHandler  # type: ignore[misc]
    DomainDispatcherApplication.get_backend_for_host = _cached_backends(lookup)  # type: ignore[method-assign,assignment]
    method_names = moto.core.responses.method_names_from_class
    moto.core.responses.method_names_from_class = functools.cache(method_names)
