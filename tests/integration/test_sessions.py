"""Sessions and "which user": the harness gives each user their own cookie jar, and a shared jar would be caught.

On a real Nextcloud a request that carries alice's session cookie is alice, even when it also carries bob's
basic credentials (contract README, "CSRF and which user"). A harness that shares one cookie jar between users
therefore sends "bob's" requests as alice — the isolation tests passed for the wrong reason on the stand-in and
failed on Nextcloud 29. These tests pin both halves: the stand-in answers like Nextcloud, and the harness does not
make that mistake. They hold on a real server too.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.media import make_video

from .harness import PROXY, ExAppProcess, NextcloudTarget
from .jobs_helpers import new_folder, wait_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=1)


def _alices_job(nextcloud: NextcloudTarget, clip: Path) -> int:
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/private.mp4", clip)
    response = nextcloud.proxy("alice", "POST", "api/jobs", json={"path": f"{folder}/private.mp4", "target": "mkv"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_cookie_jar_shared_between_users_turns_bob_into_alice(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path
):
    job_id = _alices_job(nextcloud, clip)
    # The old harness: one client for everybody, credentials per request.
    with httpx.Client(base_url=nextcloud.url, timeout=120) as shared:
        for _ in range(2):  # the second request passes Nextcloud's cookie test and gets a session token
            assert shared.get(PROXY + "api/jobs", auth=nextcloud.alice.auth).status_code == 200
        assert shared.cookies, "Nextcloud starts a session on an authenticated answer"
        as_bob = shared.get(PROXY + f"api/jobs/{job_id}", auth=nextcloud.bob.auth)
    # What made the isolation test fail on Nextcloud 29: "bob" is served alice's job.
    assert as_bob.status_code == 200, as_bob.text
    assert as_bob.json()["id"] == job_id
    # The harness's own clients keep bob bob.
    assert nextcloud.proxy("bob", "GET", f"api/jobs/{job_id}").status_code == 404
    wait_job(nextcloud, "alice", job_id)


def test_the_harness_gives_each_user_a_jar_of_their_own(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    assert nextcloud.proxy("alice", "GET", "api/jobs").status_code == 200
    assert nextcloud.proxy("bob", "GET", "api/jobs").status_code == 200
    alice_jar, bob_jar = nextcloud.client("alice").cookies, nextcloud.client("bob").cookies
    assert alice_jar and bob_jar, "each user's client keeps the session Nextcloud started for them"
    assert nextcloud.client("alice") is not nextcloud.client("bob")
    assert not nextcloud.http.cookies, "the anonymous client keeps no session"
    if nextcloud.is_standin:
        # What the ExApp was told: the user of each proxied call (AppAPI's AUTHORIZATION-APP-API "user:secret").
        calls = [c for c in nextcloud.faults.exapp_calls() if c["kind"] == "proxy" and c["path"] == "/api/jobs"]
        users = [
            base64.b64decode(next(v for k, v in c["headers"].items() if k.lower() == "authorization-app-api"))
            .decode()
            .split(":", 1)[0]
            for c in calls[-2:]
        ]
        assert users == ["alice", "bob"]


def test_a_session_cookie_outranks_basic_credentials_on_ocs(nextcloud: NextcloudTarget):
    headers = {"OCS-APIRequest": "true", "Accept": "application/json"}

    def who(client: httpx.Client, auth: tuple[str, str] | None) -> str:
        response = client.get("/ocs/v2.php/cloud/user", params={"format": "json"}, auth=auth)
        return response.json()["ocs"]["data"]["id"] if response.status_code == 200 else str(response.status_code)

    alice, bob = nextcloud.alice, nextcloud.bob
    # First contact with basic auth only sets Nextcloud's cookie test: nothing is kept yet.
    with httpx.Client(base_url=nextcloud.url, timeout=120, headers=headers) as jar:
        assert [who(jar, alice.auth), who(jar, bob.auth)] == [alice.name, bob.name]
    # From the second request on the jar holds a session, and the session decides, whatever the credentials.
    with httpx.Client(base_url=nextcloud.url, timeout=120, headers=headers) as jar:
        assert [who(jar, alice.auth), who(jar, alice.auth)] == [alice.name, alice.name]
        assert who(jar, bob.auth) == alice.name
        assert who(jar, None) == alice.name
    fresh = httpx.get(
        nextcloud.url + "/ocs/v2.php/cloud/user", params={"format": "json"}, headers=headers, auth=bob.auth
    )
    assert fresh.json()["ocs"]["data"]["id"] == bob.name
