"""Sandbox fault extensions used by bench/faults.py: a failure rate and a mix of statuses."""

import pytest

from channels.sandbox.admin import AdminError, Fault


def test_rate_fails_about_that_share_of_calls_with_mixed_statuses():
    fault = Fault.from_json({"status": [429, 500, 503], "count": 10_000, "rate": 0.2, "seed": 4})
    outcomes = []
    for _ in range(5000):
        outcomes.append(fault.status if fault.take() else None)
    failed = [s for s in outcomes if s is not None]
    assert 900 < len(failed) < 1100
    assert set(failed) == {429, 500, 503}


def test_count_still_caps_the_failures():
    fault = Fault.from_json({"status": 503, "count": 3, "rate": 1})
    assert [fault.take() for _ in range(5)] == [True, True, True, False, False]


@pytest.mark.parametrize("body, message", [
    ({"status": [429, 404], "count": 1}, "'status' must be 429, 500 or 503"),
    ({"status": 500, "rate": 0}, "'rate' must be a number above 0"),
    ({"status": 500, "rate": 1.5}, "'rate' must be a number above 0"),
    ({"status": 500, "seed": "x"}, "'seed' must be an integer"),
])
def test_bad_extension_fields_are_named(body, message):
    with pytest.raises(AdminError, match=message):
        Fault.from_json(body)


def test_the_fault_state_can_be_read_back():
    import httpx

    from channels.sandbox.server import SandboxServer

    with SandboxServer(port=0) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        assert http.get("/_sandbox/x/faults").json()["injected"] == 0
        http.post("/_sandbox/x/faults", json={"status": 503, "count": 1}).raise_for_status()
        assert http.get("/2/users/me", headers={"Authorization": "Bearer t"}).status_code == 503
        state = http.get("/_sandbox/x/faults").json()
        assert (state["count"], state["injected"]) == (0, 1)
