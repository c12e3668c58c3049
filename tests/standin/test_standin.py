"""Stand-in behaviour beyond the recording that our ExApp and the harness rely on."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.standin import StandinServer, StandinState


@pytest.fixture(scope="module")
def srv():
    with StandinServer(StandinState()) as server:
        yield server
    server.state.close()


@pytest.fixture
def alice(srv):
    with httpx.Client(base_url=srv.url, auth=("alice", "alice"), timeout=10) as client:
        yield client


def test_chunked_move_with_overwrite_false_onto_existing_file_is_412(srv, alice):
    assert alice.put("/remote.php/dav/files/alice/taken.mp4", content=b"old").status_code == 201
    dest = {"Destination": f"{srv.url}/remote.php/dav/files/alice/taken.mp4"}
    assert alice.request("MKCOL", "/remote.php/dav/uploads/alice/up1", headers=dest).status_code == 201
    assert alice.put("/remote.php/dav/uploads/alice/up1/0", content=b"new", headers=dest).status_code == 201
    moved = alice.request("MOVE", "/remote.php/dav/uploads/alice/up1/.file", headers={**dest, "Overwrite": "F"})
    assert moved.status_code == 412 and "PreconditionFailed" in moved.text
    assert alice.get("/remote.php/dav/files/alice/taken.mp4").content == b"old"
    assert alice.delete("/remote.php/dav/uploads/alice/up1").status_code == 204


def test_range_get_answers_206_with_the_slice(alice):
    alice.put("/remote.php/dav/files/alice/r.bin", content=bytes(range(100)))
    got = alice.get("/remote.php/dav/files/alice/r.bin", headers={"Range": "bytes=10-19"})
    assert got.status_code == 206 and got.content == bytes(range(10, 20))
    assert got.headers["Content-Range"] == "bytes 10-19/100"


def test_readonly_folder_refuses_writes_with_sabre_forbidden(srv, alice):
    srv.state.mark_readonly_share("alice", "shared_ro")
    response = alice.put("/remote.php/dav/files/alice/shared_ro/x.bin", content=b"x")
    assert response.status_code == 403 and "Sabre\\DAV\\Exception\\Forbidden" in response.text


def test_a_readonly_share_reports_no_create_permission_as_nextcloud_does(srv, alice):
    srv.state.mark_readonly_share("alice", "ro_perm")
    srv.state.put_bytes("alice", "ro_perm/inside/clip.mp4", b"x")
    body = (
        '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:permissions/></d:prop></d:propfind>'
    )

    def permissions(path: str) -> str:
        response = alice.request(
            "PROPFIND", f"/remote.php/dav/files/alice/{path}", content=body, headers={"Depth": "0"}
        )
        return response.text.split("<oc:permissions>")[1].split("<")[0]

    # Recorded for a folder shared read-only: SGD (no C, no K); what is below it cannot be created into either.
    assert (permissions(""), permissions("ro_perm"), permissions("ro_perm/inside")) == ("RGDNVCK", "SGD", "SG")
    assert alice.request("MKCOL", "/remote.php/dav/files/alice/ro_perm/new").status_code == 403


def test_a_507_fault_answers_sabre_insufficient_storage_and_uploads_are_listed(srv, alice):
    dest = {"Destination": f"{srv.url}/remote.php/dav/files/alice/quota.mp4"}
    assert alice.request("MKCOL", "/remote.php/dav/uploads/alice/up507", headers=dest).status_code == 201
    assert alice.put("/remote.php/dav/uploads/alice/up507/0", content=b"new", headers=dest).status_code == 201
    assert {"user": "alice", "name": "up507"} in httpx.get(f"{srv.url}/__standin__/uploads").json()["uploads"]
    fault = {"kind": "status", "status": 507, "method": "MOVE", "path_prefix": "/remote.php/dav/uploads"}
    httpx.post(f"{srv.url}/__standin__/faults", json=fault)

    moved = alice.request("MOVE", "/remote.php/dav/uploads/alice/up507/.file", headers=dest)

    assert moved.status_code == 507 and "Sabre\\DAV\\Exception\\InsufficientStorage" in moved.text
    assert alice.get("/remote.php/dav/files/alice/quota.mp4").status_code == 404
    assert alice.delete("/remote.php/dav/uploads/alice/up507").status_code == 204
    assert {"user": "alice", "name": "up507"} not in httpx.get(f"{srv.url}/__standin__/uploads").json()["uploads"]


def test_injected_faults_hit_the_next_matching_requests_only(srv, alice):
    alice.put("/remote.php/dav/files/alice/f.bin", content=b"f")
    httpx.post(f"{srv.url}/__standin__/faults", json={"kind": "status", "count": 1, "method": "GET"})
    assert alice.get("/remote.php/dav/files/alice/f.bin").status_code == 503
    assert alice.get("/remote.php/dav/files/alice/f.bin").status_code == 200
    httpx.post(f"{srv.url}/__standin__/faults", json={"kind": "drop", "count": 1, "method": "GET"})
    with pytest.raises(httpx.HTTPError):
        alice.get("/remote.php/dav/files/alice/f.bin")
    httpx.post(f"{srv.url}/__standin__/faults", json={"kind": "hang", "seconds": 2, "method": "GET"})
    with pytest.raises(httpx.ReadTimeout):
        alice.get("/remote.php/dav/files/alice/f.bin", timeout=0.5)
    log = httpx.get(f"{srv.url}/__standin__/requests").json()["requests"]
    assert [r["fault"] for r in log if r["path"] == "/remote.php/dav/files/alice/f.bin"][-4:] == [
        "status",
        None,
        "drop",
        "hang",
    ]


def test_occ_lookalike_reports_an_unknown_app_like_occ(srv):
    result = subprocess.run(
        [sys.executable, "-m", "tests.standin.occ", "--url", srv.url, "app_api:app:disable", "nope"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stdout == "ExApp nope not found. Failed to disable.\n"


def test_register_fails_like_occ_when_the_exapp_never_answers(srv):
    srv.state.heartbeat_timeout = 0.3
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.standin.occ",
                "--url",
                srv.url,
                "app_api:app:register",
                "ghost",
                "manual_install",
                "--json-info",
                '{"id":"ghost","port":9,"version":"1"}',
            ],
            capture_output=True,
            text=True,
        )
    finally:
        srv.state.heartbeat_timeout = 60.0
    assert result.returncode == 1 and "heartbeat check failed" in result.stdout


def test_a_put_with_if_none_match_star_never_replaces_a_file(srv, alice):
    # As Sabre's checkPreconditions: 412 on an existing node whatever the method (GET/HEAD aside), before the PUT
    # handler runs; a new name is created as usual.
    url = "/remote.php/dav/files/alice/kept.bin"
    assert alice.put(url, content=b"precious").status_code == 201
    refused = alice.put(url, content=b"other", headers={"If-None-Match": "*"})
    assert refused.status_code == 412
    assert "<s:exception>Sabre\\DAV\\Exception\\PreconditionFailed</s:exception>" in refused.text
    assert "<s:header>If-None-Match</s:header>" in refused.text
    assert alice.get(url).content == b"precious"
    created = alice.put("/remote.php/dav/files/alice/new.bin", content=b"n", headers={"If-None-Match": "*"})
    assert created.status_code == 201 and created.headers["OC-FileId"].endswith("ocvt39tsgrv7")
