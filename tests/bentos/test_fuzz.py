"""Property-based fuzzing of POST /predict: thousands of malformed requests, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bentos.conftest import record
from tests.wdbc import FEATURE_NAMES

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
FIELD_VALUES: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.text(max_size=12) | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True) | st.lists(st.integers(), max_size=3) | st.just({})
)  # fmt: skip


@st.composite
def broken_records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record with a few fields removed, renamed or replaced by junk."""
    base: dict[str, Any] = dict(record(draw(st.integers(0, 560))))
    for name in draw(st.lists(st.sampled_from(FEATURE_NAMES), min_size=1, max_size=4, unique=True)):
        action = draw(st.sampled_from(["drop", "junk", "rename"]))
        value = base.pop(name)
        if action == "junk":
            base[name] = draw(FIELD_VALUES)
        elif action == "rename":
            base[draw(st.text(min_size=1, max_size=15))] = value
    return base


PAYLOADS = st.one_of(
    JSON_VALUES,
    st.builds(lambda r: {"record": r}, broken_records()),
    st.builds(lambda rs: {"records": rs}, st.lists(broken_records() | JSON_VALUES, min_size=0, max_size=4)),
    st.dictionaries(st.sampled_from(["record", "records", "request_id", "x"]), JSON_VALUES, max_size=3),
)
BODIES = st.one_of(
    PAYLOADS.map(lambda p: (json.dumps(p).encode(), "application/json")),
    st.tuples(st.binary(max_size=200), st.sampled_from(["application/json", "text/plain", "multipart/form-data",
                                                        "application/octet-stream", ""])),
)  # fmt: skip


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])  # fmt: skip
@given(body=BODIES)
def test_no_malformed_request_gets_a_server_error(client: Any, body: tuple[bytes, str]) -> None:
    content, content_type = body
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=content, headers=headers)
    assert response.status_code < 500, (content[:200], content_type, response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert "error" in response.text and "Traceback" not in response.text
