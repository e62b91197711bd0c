"""Property-based tests (hypothesis) of operation parameters and the API's validation."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retouch import ops
from retouch.cli.operations import parse_cli_operation
from retouch.errors import ValidationError
from retouch.ops.specs import Aspect, Bool, Choice, Float, Int, Numbers, Param

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(-5, 5000), max_size=6),
)


def valid_value(p: Param) -> st.SearchStrategy[Any]:
    if isinstance(p, Float):  # Int too
        lo = p.minimum if p.minimum is not None else -1e6
        hi = p.maximum if p.maximum is not None else 1e6
        if isinstance(p, Int):
            return st.integers(int(np.ceil(lo)), int(min(hi, 4096)))
        return st.floats(lo, hi, allow_nan=False)
    if isinstance(p, Bool):
        return st.booleans()
    if isinstance(p, Choice):
        return st.sampled_from(p.choices)
    if isinstance(p, Numbers):
        return st.one_of(
            st.lists(st.integers(0, 300), min_size=p.count, max_size=p.count),
            st.lists(st.floats(0, 1), min_size=p.count, max_size=p.count),
        )
    if isinstance(p, Aspect):
        return st.tuples(st.integers(1, 30), st.integers(1, 30)).map(lambda t: f"{t[0]}:{t[1]}")
    return st.text(max_size=30)


@st.composite
def params_for(draw: st.DrawFn, op: ops.Operation) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(op.params), unique_by=lambda p: p.name, max_size=len(op.params))) if op.params else []
    return {p.name: draw(st.one_of(valid_value(p), junk)) for p in chosen}


OPERATIONS = [op for name, op in sorted(ops.REGISTRY.items()) if name in ("crop", "thumbnail", "contrast")]


@given(data=st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_operation_validate_returns_normalised_params_or_a_precise_error(data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(OPERATIONS))
    raw = data.draw(params_for(op))
    try:
        values = op.validate(raw)
    except ValidationError as exc:
        assert exc.message.startswith(op.name + ":"), exc.message
        return
    assert set(values) <= {p.name for p in op.params}
    assert op.validate(values) == values  # normalised parameters are a fixed point


@given(data=st.data(), h=st.integers(1, 64), w=st.integers(1, 64), alpha=st.booleans())
@settings(max_examples=200, deadline=None)
def test_operation_applied_to_any_image_gives_an_image_or_a_precise_error(
    data: st.DataObject, h: int, w: int, alpha: bool
) -> None:
    op = data.draw(st.sampled_from(OPERATIONS))
    try:
        values = op.validate(data.draw(params_for(op)))
    except ValidationError:
        return
    image = np.random.default_rng(h * 100 + w).integers(0, 256, (h, w, 4 if alpha else 3), dtype=np.uint8)
    try:
        out = op.fn(image, **values)
    except ValidationError as exc:
        assert exc.message.startswith(op.name + ":")
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == image.shape[2]
    assert out.shape[0] >= 1 and out.shape[1] >= 1


@given(
    st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), st.from_regex(r"[0-9a-z.:]{1,8}", fullmatch=True), max_size=4)
)
def test_parse_cli_operation_reads_back_what_was_written(params: dict[str, str]) -> None:
    text = "thumbnail:" + ",".join(f"{k}={v}" for k, v in params.items())
    assert parse_cli_operation(text) == {"op": "thumbnail", "params": params}


@given(junk)
def test_validate_operations_rejects_anything_that_is_not_a_list_of_operations(raw: Any) -> None:
    try:
        specs = ops.validate_operations(raw)
    except ValidationError:
        return
    assert all(s.op in ops.REGISTRY for s in specs)
