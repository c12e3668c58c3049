"""The REST API as an attacker with a normal account meets it: admins are asked of Nextcloud, and the API fuzzed
from its own OpenAPI schema never answers 5xx and always says what went wrong in ``{"error": …}``.

Requests go straight to the ExApp's port, signed like AppAPI signs a proxied request for alice: that is the most
a normal user's request can look like once it reaches us, and it skips the proxy's route and access-level checks,
so what is proven here is the ExApp's own defence.
"""

from __future__ import annotations

import base64

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from .harness import AA_VERSION, APP_ID, ExAppProcess, NextcloudTarget

pytestmark = pytest.mark.integration


def test_admin_routes_ask_nextcloud_not_the_caller(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    as_alice = exapp.direct("GET", "api/admin/status", user=nextcloud.alice.name)
    assert as_alice.status_code == 403, as_alice.text
    assert as_alice.json() == {"error": "Only Nextcloud administrators can see this"}
    as_admin = exapp.direct("GET", "api/admin/status", user=nextcloud.admin.name)
    assert as_admin.status_code == 200, as_admin.text
    assert "admin_settings" in as_admin.json()
    if nextcloud.is_standin:
        # the answer came from Nextcloud: the ExApp asked OCS cloud/user as each of them
        asked = [
            r["user"]
            for r in nextcloud.faults.requests()
            if r["path"] == "/ocs/v1.php/cloud/user" and r["ex_app_id"] == APP_ID
        ]
        assert {nextcloud.alice.name, nextcloud.admin.name} <= set(asked)


def test_unsigned_requests_are_refused_by_the_running_exapp(exapp: ExAppProcess):
    for method, path in [
        ("GET", "api/jobs"),
        ("GET", "api/admin/status"),
        ("GET", "openapi.json"),
        ("GET", "img/app.svg"),
    ]:
        response = exapp.direct(method, path)
        assert response.status_code == 401, (path, response.text)
        assert response.json() == {"error": "AppAPI authentication failed"}
    assert exapp.direct("GET", "heartbeat").status_code == 200


def _signed(exapp: ExAppProcess, user: str) -> dict[str, str]:
    return {
        "AA-VERSION": AA_VERSION,
        "EX-APP-ID": APP_ID,
        "EX-APP-VERSION": exapp.version,
        "AUTHORIZATION-APP-API": base64.b64encode(f"{user}:{exapp.secret}".encode()).decode(),
    }


@pytest.fixture
def api_schema(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    response = exapp.direct("GET", "openapi.json", user=nextcloud.alice.name)
    assert response.status_code == 200, response.text
    return schemathesis.openapi.from_dict(response.json())


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    # Bounded for CI (about 30 s for every operation together): the same examples every run, none remembered.
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_fuzzed_requests_get_no_5xx_and_a_readable_error(case, nextcloud: NextcloudTarget, exapp: ExAppProcess):
    # case.call() would count the pool's connections through urllib3 internals that urllib3-future (installed
    # with niquests, which nc_py_api uses) does not have; send the same request with requests directly.
    kwargs = case.as_transport_kwargs(base_url=exapp.url, headers=_signed(exapp, nextcloud.alice.name))
    response = requests.request(**kwargs, timeout=60)
    where = f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, where
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], where
