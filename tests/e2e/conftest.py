"""What the end-to-end tests share: one embedded stack per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retouch.local.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """The whole stack (moto server, workers, local API) for the module's tests."""
    with EmbeddedStack(workdir=tmp_path_factory.mktemp("stack")) as s:
        yield s
