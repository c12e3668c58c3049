"""The stand-in against the recorded truth (``/work/shared/contract``, or ``$NC_CONTRACT_DIR``).

Two checks:
1. replay every recorded ExApp → Nextcloud request, in order, and compare what matters in the answer (status,
   OCS envelope shape, OC-FileId / ETag forms, content types, DAV hrefs and props, Sabre error bodies);
2. drive the real nc_py_api ``AsyncNextcloudApp`` at the stand-in over HTTP and expect the outcomes the
   recording's ``section_end.client_result`` reports.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from tests.conftest import require
from tests.standin import INSTANCE_ID, StandinServer, StandinState
from tests.standin._state import ExApp


def _contract_dir() -> Path:
    """``$NC_CONTRACT_DIR``, else ``shared/contract`` beside the checkout (where CI lays it), else /work/shared."""
    beside = Path(__file__).resolve().parents[3] / "shared" / "contract"
    for candidate in (os.environ.get("NC_CONTRACT_DIR"), beside, "/work/shared/contract"):
        if candidate and (Path(candidate) / "exapp-to-nextcloud.jsonl").is_file():
            return Path(candidate)
    return beside


CONTRACT_DIR = _contract_dir()
RECORDING = CONTRACT_DIR / "exapp-to-nextcloud.jsonl"
APP_ID, APP_VERSION, SECRET = "nc_video_copy", "1.0.0", "contract-secret"
RECORDED_HOST = "http://127.0.0.1:8081"
FILE_ID_FORM = re.compile(rf"^\d{{8}}{INSTANCE_ID}$")
ETAG_FORM = re.compile(r'^"([0-9a-f]{32}|[0-9a-f]{13})"$')
RFC1123 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
DAV = "{DAV:}"


@pytest.fixture(autouse=True)
def _recording_present() -> None:
    # Locally a missing recording skips with this reason; under CI it fails (tests/conftest.py: require).
    require(RECORDING.exists(), f"no contract recording at {RECORDING} (set NC_CONTRACT_DIR)")


def test_the_recording_is_there_to_check_against() -> None:
    assert len(SECTIONS) >= 40


def load_sections() -> list[tuple[str, list[dict[str, Any]], str]]:
    sections: dict[str, list[dict[str, Any]]] = {}
    results: dict[str, str] = {}
    order: list[str] = []
    for line in RECORDING.read_text().splitlines():
        item = json.loads(line)
        if "seq" in item:
            sections[item["section"]].append(item)
        elif "section" in item:
            order.append(item["section"])
            sections[item["section"]] = []
        elif "section_end" in item:
            results[item["section_end"]] = item["client_result"]
    return [(name, sections[name], results.get(name, "")) for name in order]


SECTIONS = load_sections() if RECORDING.exists() else []


def seed(state: StandinState) -> None:
    """The recording's starting point: the ExApp registered and initialised, admin's ``ro_share`` with a file."""
    state.exapps[APP_ID] = ExApp(
        APP_ID,
        APP_VERSION,
        APP_ID,
        "manual_install",
        "127.0.0.1",
        9,
        SECRET,
        [],
        enabled=True,
        status={"deploy": 100, "init": 100, "action": "", "type": "", "error": ""},
    )
    state.put_bytes("admin", "welcome.txt", b"Welcome to Nextcloud\n")
    state.put_bytes("admin", "ro_share/existing.bin", b"\0" * 300000)
    state.mark_readonly_share("admin", "ro_share")


@pytest.fixture(scope="module")
def server():
    with StandinServer(StandinState()) as srv:
        seed(srv.state)
        yield srv
    srv.state.close()


class Replayer:
    """Rewrites recorded requests for the stand-in and remembers ids seen on both sides."""

    def __init__(self, url: str):
        self.url = url
        self.ids: dict[str, str] = {}  # recorded OC-FileId → stand-in OC-FileId
        self.last_notification: int | None = None

    def request(self, rec: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
        method, path = rec["method"], rec["path"]
        headers: dict[str, str] = {}
        for name, value in rec["headers"].items():
            lname = name.lower()
            if lname in ("host", "cookie", "content-length", "connection"):
                continue
            if lname == "authorization-app-api":
                user = re.match(r"base64\(([^:]*):", value).group(1)
                secret = "wrong" if "<WRONG_SECRET>" in value else SECRET
                value = base64.b64encode(f"{user}:{secret}".encode()).decode()
            elif lname == "authorization":
                user = re.match(r"Basic base64\(([^:]*):", value).group(1)
                value = "Basic " + base64.b64encode(f"{user}:{user}".encode()).decode()
            elif lname == "destination":
                value = value.replace(RECORDED_HOST, self.url)
            headers[name] = value
        body = base64.b64decode(rec["body_b64"]) if "body_b64" in rec else (rec.get("body") or "").encode()
        size = rec.get("body_size", len(body))
        if rec.get("body_truncated") or len(body) < size:
            body = body + b"\0" * (size - len(body))
        if method == "SEARCH":
            text = body.decode()
            for old, new in self.ids.items():
                text = text.replace(f"<d:literal>{old}</d:literal>", f"<d:literal>{new}</d:literal>")
            body = text.encode()
        if self.last_notification is not None and "/notifications/" in path and method == "DELETE":
            path = re.sub(r"/notifications/\d+", f"/notifications/{self.last_notification}", path)
        return method, path, headers, body


def _props(response: ElementTree.Element) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for propstat in response.findall(f"{DAV}propstat"):
        status = (propstat.findtext(f"{DAV}status") or "").split(" ")[1]
        for prop in propstat.find(f"{DAV}prop"):
            out.setdefault(status, {})[prop.tag] = "".join(prop.itertext()) + "".join(c.tag for c in prop)
    return out


def compare_multistatus(recorded: str, got: str, problems: list[str]) -> None:
    rec_root, got_root = ElementTree.fromstring(recorded), ElementTree.fromstring(got)
    rec_resp, got_resp = rec_root.findall(f"{DAV}response"), got_root.findall(f"{DAV}response")
    rec_hrefs = [r.findtext(f"{DAV}href") for r in rec_resp]
    got_hrefs = [r.findtext(f"{DAV}href") for r in got_resp]
    if rec_hrefs != got_hrefs:
        problems.append(f"hrefs {got_hrefs} != recorded {rec_hrefs}")
        return
    for rec, got_r in zip(rec_resp, got_resp, strict=True):
        rp, gp = _props(rec), _props(got_r)
        for status in ("200", "404"):
            if set(rp.get(status, {})) != set(gp.get(status, {})):
                problems.append(
                    f"{rec.findtext(f'{DAV}href')}: {status} props {sorted(gp.get(status, {}))} "
                    f"!= recorded {sorted(rp.get(status, {}))}"
                )
        for tag, value in rp.get("200", {}).items():
            mine = gp.get("200", {}).get(tag)
            name = tag.split("}")[1]
            if name in ("getetag",):
                ok = mine is not None and ETAG_FORM.match(mine) is not None
            elif name == "getlastmodified":
                ok = mine is not None and RFC1123.match(mine) is not None
            elif name in ("id",):
                ok = mine is not None and FILE_ID_FORM.match(mine) is not None
            elif name == "fileid":
                ok = mine is not None and mine.isdigit()
            else:
                ok = mine == value
            if not ok:
                problems.append(f"{rec.findtext(f'{DAV}href')}: {name}={mine!r}, recorded {value!r}")


def compare_ocs(recorded: dict, got: dict, problems: list[str], section: str) -> None:
    rmeta, gmeta = recorded["ocs"]["meta"], got["ocs"]["meta"]
    if set(rmeta) != set(gmeta):
        problems.append(f"meta keys {sorted(gmeta)} != {sorted(rmeta)}")
    for key in ("status", "statuscode", "message"):
        if rmeta.get(key) != gmeta.get(key):
            problems.append(f"meta.{key} {gmeta.get(key)!r} != recorded {rmeta.get(key)!r}")
    rdata, gdata = recorded["ocs"]["data"], got["ocs"]["data"]
    if type(rdata) is not type(gdata):
        problems.append(f"data type {type(gdata).__name__} != recorded {type(rdata).__name__}")
        return
    if isinstance(rdata, dict):
        if set(rdata) != set(gdata):
            problems.append(f"data keys {sorted(gdata)} != recorded {sorted(rdata)}")
        if "capabilities" in rdata and set(rdata["capabilities"]) != set(gdata["capabilities"]):
            problems.append(f"capabilities {sorted(gdata['capabilities'])} != {sorted(rdata['capabilities'])}")
        for key in (
            "permissions",
            "action_handler",
            "icon",
            "version",
            "sensitive",
            "configvalue",
            "subject",
            "message",
            "link",
            "storage_type",
            "admin_required",
        ):
            if key in rdata and rdata[key] != gdata.get(key):
                problems.append(f"data.{key} {gdata.get(key)!r} != recorded {rdata[key]!r}")
    elif isinstance(rdata, list) and rdata and gdata:
        if isinstance(rdata[0], dict) and set(rdata[0]) != set(gdata[0]):
            problems.append(f"item keys {sorted(gdata[0])} != recorded {sorted(rdata[0])}")
        if (
            section != "notifications_get_all_as_exapp"
            and section != "notifications_delete_as_exapp"
            and section != "notifications_fetch_as_user_basic_auth"
            and rdata != gdata
        ):
            problems.append(f"data {gdata!r} != recorded {rdata!r}")
    elif (isinstance(rdata, list) and bool(rdata) != bool(gdata) and "notifications" not in section) or (
        not isinstance(rdata, list | dict) and rdata != gdata
    ):
        problems.append(f"data {gdata!r} != recorded {rdata!r}")


def compare(section: str, rec: dict, got: httpx.Response, replayer: Replayer) -> list[str]:
    problems: list[str] = []
    rresp = rec["response"]
    if rresp["status"] != got.status_code:
        problems.append(f"status {got.status_code} != recorded {rresp['status']}")
    rheaders = {k.lower(): v for k, v in rresp["headers"].items()}
    for name in (
        "oc-fileid",
        "oc-etag",
        "etag",
        "www-authenticate",
        "allow",
        "content-disposition",
        "x-accel-buffering",
    ):
        if name in rheaders and name not in got.headers and not (name == "etag" and "/ocs/" in rec["request"]["path"]):
            problems.append(f"missing header {name}")
        if name not in rheaders and name in got.headers and name in ("oc-fileid", "oc-etag"):
            problems.append(f"unexpected header {name}")
    if "oc-fileid" in rheaders and "oc-fileid" in got.headers:
        if not FILE_ID_FORM.match(got.headers["oc-fileid"]):
            problems.append(f"OC-FileId form {got.headers['oc-fileid']!r}")
        replayer.ids[rheaders["oc-fileid"]] = got.headers["oc-fileid"]
    for name in ("oc-etag", "etag"):
        if (
            name in rheaders
            and name in got.headers
            and "/remote.php/" in rec["request"]["path"]
            and not ETAG_FORM.match(got.headers[name])
        ):
            problems.append(f"{name} form {got.headers[name]!r}")
    rtype = rheaders.get("content-type")
    if rtype and got.headers.get("content-type", "").lower() != rtype.lower():
        problems.append(f"content-type {got.headers.get('content-type')!r} != recorded {rtype!r}")
    body = rresp.get("body")
    if body and not rresp.get("body_truncated"):
        if body.lstrip().startswith("{"):
            compare_ocs(json.loads(body), got.json(), problems, section)
        elif "<d:multistatus" in body:
            compare_multistatus(body, got.text, problems)
        elif "<d:error" in body and body != got.text:
            problems.append(f"error body {got.text!r} != recorded {body!r}")
    return problems


@pytest.fixture(scope="module")
def replayer(server):
    return Replayer(server.url)


@pytest.mark.parametrize("section", [name for name, _, _ in SECTIONS])
def test_replayed_section_matches_recording(server, replayer, section):
    exchanges = next(items for name, items, _ in SECTIONS if name == section)
    problems: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for exchange in exchanges:
            method, path, headers, body = replayer.request(exchange["request"])
            got = client.request(method, path, headers=headers, content=body or None)
            if section == "notifications_create_with_link" and got.status_code == 200:
                replayer.last_notification = max(server.state.notifications)
            found = compare(section, exchange, got, replayer)
            problems += [f"#{exchange['seq']} {method} {path}: {p}" for p in found]
    assert not problems, "\n".join(problems)


# ---- the real client ---------------------------------------------------------------------------------------------
@pytest.fixture
def nc_server():
    with StandinServer(StandinState()) as srv:
        seed(srv.state)
        yield srv
    srv.state.close()


@pytest.mark.anyio
async def test_nc_py_api_client_sees_the_recorded_outcomes(nc_server):
    from nc_py_api import AsyncNextcloudApp, NextcloudException, NextcloudExceptionNotFound
    from nc_py_api.ex_app import LogLvl

    nc = AsyncNextcloudApp(
        nextcloud_url=nc_server.url, app_id=APP_ID, app_version=APP_VERSION, app_secret=SECRET, aa_version="3.2.3"
    )
    await nc.set_user("admin")
    assert await nc.user == "admin"
    caps = await nc.capabilities
    assert caps["app_api"]["loglevel"] == 1 and "notifications" in caps
    assert await nc.enabled_state is True

    # files_makedirs / mkdir_existing_error
    sub = await nc.files.makedirs("contract/in/sub", exist_ok=True)
    assert sub.is_dir and FILE_ID_FORM.match(sub.file_id)
    assert await nc.files.makedirs("contract/in/sub", exist_ok=True) is None
    await nc.files.makedirs("contract/out", exist_ok=True)
    with pytest.raises(NextcloudException) as err:
        await nc.files.mkdir("contract/in")
    assert err.value.status_code == 405

    # uploads: simple PUT, chunked v2 (single chunk and 12 MB = 3 chunks)
    small = await nc.files.upload("contract/in/small.bin", b"s" * 300000)
    assert FILE_ID_FORM.match(small.file_id) and ETAG_FORM.match(small.etag)
    big_data = hashlib.sha256(b"seed").digest() * (12054397 // 32) + b"x" * (12054397 % 32)
    big = await nc.files.upload_stream("contract/in/big.mp4", io.BytesIO(big_data))
    assert FILE_ID_FORM.match(big.file_id)
    stream_small = await nc.files.upload_stream("contract/in/small_stream.bin", io.BytesIO(b"t" * 300000))
    chunk_puts = [r for r in nc_server.state.requests if r["method"] == "PUT" and "/uploads/" in r["path"]]
    assert len(chunk_puts) == 4  # 3 for 12 MB at 5 MiB chunks, 1 for the small stream

    # by_path / by_id / listdir
    node = await nc.files.by_path("contract/in/big.mp4")
    assert (node.info.size, node.info.mimetype, node.info.permissions) == (12054397, "video/mp4", "RGDNVW")
    folder = await nc.files.by_path("contract/in")
    assert folder.is_dir and folder.info.permissions == "RGDNVCK" and folder.info.size == 12654397
    assert (await nc.files.by_id(big.file_id)).user_path == "contract/in/big.mp4"
    assert await nc.files.by_id(987654) is None
    names = [n.name for n in await nc.files.listdir("contract/in")]
    assert names == ["big.mp4", "small.bin", "small_stream.bin", "sub"]

    # downloads
    assert await nc.files.download("contract/in/small.bin") == b"s" * 300000
    sink = io.BytesIO()
    await nc.files.download2stream("contract/in/big.mp4", sink)
    assert hashlib.sha256(sink.getvalue()).digest() == hashlib.sha256(big_data).digest()

    # overwrite keeps the file id (PUT → 204, chunked MOVE → 204)
    again = await nc.files.upload("contract/in/small.bin", b"overwritten content\n")
    assert again.file_id == small.file_id
    assert (await nc.files.by_path("contract/in/small.bin")).info.size == 20
    again = await nc.files.upload_stream("contract/in/small_stream.bin", io.BytesIO(b"overwritten via chunked\n"))
    assert again.file_id == stream_small.file_id
    assert (await nc.files.by_path("contract/in/small_stream.bin")).info.size == 24

    # move / 412 / overwrite / delete
    moved = await nc.files.move("contract/in/small.bin", "contract/out/small_moved.bin")
    assert moved.file_id == small.file_id and moved.user_path == "contract/out/small_moved.bin"
    await nc.files.upload("contract/out/exists.bin", b"x")
    with pytest.raises(NextcloudException) as err:
        await nc.files.move("contract/out/small_moved.bin", "contract/out/exists.bin")
    assert err.value.status_code == 412
    moved = await nc.files.move("contract/out/small_moved.bin", "contract/out/exists.bin", overwrite=True)
    assert moved.file_id == small.file_id and moved.info.size == 20
    await nc.files.delete("contract/out/exists.bin")
    with pytest.raises(NextcloudException) as err:
        await nc.files.delete("contract/out/exists.bin")
    assert err.value.status_code == 404

    # errors
    for call in (
        nc.files.download("contract/does_not_exist.mp4"),
        nc.files.by_path("contract/does_not_exist.mp4"),
        nc.files.upload("contract/no_such_dir/x.bin", b"x"),
    ):
        with pytest.raises(NextcloudException) as err:
            await call
        assert err.value.status_code == 404
    ro = await nc.files.by_path("ro_share")
    assert ro.info.permissions == "SGD"
    for target in ("ro_share/new.bin", "ro_share/existing.bin"):
        with pytest.raises(NextcloudException) as err:
            await nc.files.upload(target, b"x")
        assert err.value.status_code == 403
    with pytest.raises(NextcloudException) as err:
        await nc.files.upload_stream("ro_share/new_stream.bin", io.BytesIO(b"x" * 1000))
    assert err.value.status_code == 403
    deletes = [r["status"] for r in nc_server.state.requests if r["method"] == "DELETE" and "/uploads/" in r["path"]]
    assert deletes == [404, 404, 404, 204]

    # notifications
    object_id = await nc.notifications.create(
        "Conversion finished: big.mp4",
        "big.mp4 was converted to big.webm",
        link=f"{nc_server.url}/index.php/apps/files/?dir=/contract/in",
    )
    assert len(object_id) == 56
    mine = [n for n in await nc.notifications.get_all() if n.object_id == object_id]
    assert mine and mine[0].subject == "Conversion finished: big.mp4"
    assert mine[0].icon.endswith("/apps/app_api/img/app-dark.svg")
    async with httpx.AsyncClient(base_url=nc_server.url) as client:
        listed = (
            await client.get(
                "/ocs/v2.php/apps/notifications/api/v2/notifications",
                auth=("admin", "admin"),
                headers={"OCS-APIRequest": "true", "Accept": "application/json"},
            )
        ).json()
    assert listed["ocs"]["data"][0]["messageRich"] == "big.mp4 was converted to big.webm"
    with pytest.raises(NextcloudException) as err:
        await nc.notifications.get_one(999999)
    assert err.value.status_code == 404
    await nc.notifications.delete(mine[0].notification_id)

    # appconfig_ex / preferences_ex
    await nc.appconfig_ex.set_value("contract_key", "value-1")
    await nc.appconfig_ex.set_value("contract_secret", "s3cr3t", sensitive=True)
    assert await nc.appconfig_ex.get_value("contract_key") == "value-1"
    assert await nc.appconfig_ex.get_value("contract_secret") == "s3cr3t"
    assert await nc.appconfig_ex.get_value("no_such_key", default="DEFAULT") == "DEFAULT"
    await nc.appconfig_ex.delete(["contract_key", "contract_secret"])
    with pytest.raises(NextcloudExceptionNotFound):
        await nc.appconfig_ex.delete(["no_such_key"], not_fail=False)
    await nc.preferences_ex.set_value("contract_pref", "pref-1")
    assert await nc.preferences_ex.get_value("contract_pref") == "pref-1"
    await nc.preferences_ex.delete("contract_pref")

    # logging: DEBUG is below the capability loglevel and is not sent
    before = len(nc_server.state.exapp_log)
    for level in (LogLvl.INFO, LogLvl.WARNING, LogLvl.ERROR, LogLvl.DEBUG):
        await nc.log(level, f"contract log {level}")
    assert [e["level"] for e in nc_server.state.exapp_log[before:]] == [1, 2, 3]

    # UI: files actions (v2), top menu, settings form
    await nc.ui.files_dropdown_menu.register_ex(
        "contract_probe",
        "Convert video (contract probe)",
        "/api/video_action",
        mime="video",
        icon="img/icon.svg",
        order=1,
    )
    entry = await nc.ui.files_dropdown_menu.get_entry("contract_probe")
    assert entry._raw_data["permissions"] == "31" and entry._raw_data["action_handler"] == "api/video_action"
    assert entry._raw_data["version"] == "2.0"
    await nc.ui.files_dropdown_menu.unregister("contract_probe")
    with pytest.raises(NextcloudExceptionNotFound):
        await nc.ui.files_dropdown_menu.unregister("contract_probe", not_fail=False)
    await nc.ui.top_menu.register("contract_top", "Contract Top")
    assert (await nc.ui.top_menu.get_entry("contract_top"))._raw_data["admin_required"] == 0
    await nc.ui.top_menu.unregister("contract_top")
    assert await nc.ui.top_menu.get_entry("contract_top") is None

    # init status (already 100: ignored, still OK) and cleanup
    await nc.set_init_status(100)
    await nc.files.delete("contract")

    # a wrong secret: anonymous capabilities on OCS, 401 on DAV
    wrong = AsyncNextcloudApp(
        nextcloud_url=nc_server.url, app_id=APP_ID, app_version=APP_VERSION, app_secret="wrong", aa_version="3.2.3"
    )
    await wrong.set_user("admin")
    assert sorted(await wrong.capabilities) == ["app_api", "bruteforce", "theming"]
    with pytest.raises(NextcloudException) as err:
        await wrong.files.download("welcome.txt")
    assert err.value.status_code == 401


# ---- sessions: the browser recordings (NC29 and NC32) --------------------------------------------------------------
SESSION_SECTIONS = (
    "alice_login_form",
    "csrf_post_all_browser_cookies_without_requesttoken",
    "csrf_post_all_browser_cookies_with_requesttoken",
    "csrf_post_all_browser_cookies_with_wrong_requesttoken",
    "csrf_post_only_session_cookie_without_samesite_cookies",
    "csrf_post_only_session_cookie_without_samesite_cookies_with_requesttoken",
    "csrf_get_only_session_cookie_without_samesite_cookies",
    "anonymous_post_no_cookies",
    "precedence_alice_session_cookies_plus_basic_bob",
    "precedence_alice_session_cookies_plus_basic_bob_no_requesttoken",
    "basic_bob_only_no_cookies",
    "ocs_compare_alice_session_cookies_plus_basic_bob",
)
BROWSER_RECORDINGS = {29: "browser-to-nextcloud-ui.jsonl", 32: "browser-to-nextcloud-ui-nc32.jsonl"}
PROBE_ID = "nc_ui_probe"
IGNORED_COOKIES: set[str] = set()


def load_browser_sections(name: str) -> dict[str, list[dict[str, Any]]]:
    path = CONTRACT_DIR / name
    sections: dict[str, list[dict[str, Any]]] = {}
    if not path.exists():
        return sections
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if "seq" in item:
            sections.setdefault(item["section"], []).append(item)
    return sections


def _recorded_instance_id(sections: dict[str, list[dict[str, Any]]]) -> str:
    """The recorded server's session cookie name (its instance id), read from the login page's cookies."""
    first = sections["alice_login_form"][0]["response"]["headers"]["Set-Cookie"]
    names = [c.split("=", 1)[0] for c in first]
    return next(n for n in names if n.startswith("oc") and n != "oc_sessionPassphrase")


def _cookie_names(set_cookie: Any, instance_id: str) -> set[str]:
    values = set_cookie if isinstance(set_cookie, list) else [set_cookie] if set_cookie else []
    names = {v.split("=", 1)[0].strip() for v in values}
    return {INSTANCE_ID if n == instance_id else n for n in names} - IGNORED_COOKIES


def _echo_app():
    """The recording's probe ExApp, as far as these sections need it: ``api/echo`` says who AppAPI sent."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def echo(request: Request) -> JSONResponse:
        user = base64.b64decode(request.headers["authorization-app-api"]).decode().split(":", 1)[0]
        cookies = sorted(p.split("=", 1)[0].strip() for p in request.headers.get("cookie", "").split(";") if "=" in p)
        return JSONResponse(
            {
                "user": user,
                "method": request.method,
                "requesttoken_header_present": "requesttoken" in request.headers,
                "cookie_names": cookies,
                "body_size": len(await request.body()),
            }
        )

    return Starlette(routes=[Route("/api/echo", echo, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def probe_exapp():
    import threading
    import time

    import uvicorn

    from tests.standin import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_echo_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("nc_version", sorted(BROWSER_RECORDINGS))
def test_sessions_replay_the_browser_recording(nc_version: int, probe_exapp: int):
    """Login form, the same-site 302, the session outranking Basic, Basic alone: as recorded on NC29 and NC32."""
    sections = load_browser_sections(BROWSER_RECORDINGS[nc_version])
    require(bool(sections), f"no browser recording {BROWSER_RECORDINGS[nc_version]} in {CONTRACT_DIR}")
    instance_id = _recorded_instance_id(sections)
    state = StandinState(nc_version=nc_version)
    routes = [{"url": r"^api\/.*$", "verb": "GET,POST,PUT,DELETE", "access_level": 1, "headers_to_exclude": []}]
    state.exapps[PROBE_ID] = ExApp(
        PROBE_ID, "1.0.0", PROBE_ID, "manual_install", "127.0.0.1", probe_exapp, SECRET, routes, enabled=True
    )
    problems: list[str] = []
    with StandinServer(state) as srv, httpx.Client(base_url=srv.url, timeout=30) as alice:
        token = ""
        for section in SESSION_SECTIONS:
            for exchange in sections[section]:
                rec, rresp = exchange["request"], exchange["response"]
                headers: dict[str, str] = {}
                for name, value in rec["headers"].items():
                    lname = name.lower()
                    if lname in ("host", "cookie", "content-length", "connection", "origin", "referer"):
                        continue
                    if lname == "authorization":
                        user = re.match(r"Basic base64\(([^:]*):", value).group(1)
                        value = "Basic " + base64.b64encode(f"{user}:{user}".encode()).decode()
                    if lname == "requesttoken" and "wrong" not in section:
                        value = token
                    headers[name] = value
                # the browser's cookies by name, with the values alice's jar holds now
                wanted = re.findall(r"([^=;\s]+)=<REDACTED>", rec["headers"].get("Cookie", ""))
                jar = {n: alice.cookies.get(INSTANCE_ID if n == instance_id else n) for n in wanted}
                if jar:
                    headers["Cookie"] = "; ".join(
                        f"{INSTANCE_ID if n == instance_id else n}={v}" for n, v in jar.items()
                    )
                body = (rec.get("body") or "").replace("<PASSWORD>", "alice").replace("<REQUESTTOKEN>", token)
                client = alice if section == "alice_login_form" else httpx.Client(base_url=srv.url, timeout=30)
                got = client.request(rec["method"], rec["path"], headers=headers, content=body.encode() or None)
                if client is not alice:
                    client.close()
                where = f"NC{nc_version} #{exchange['seq']} {section}"
                if got.status_code != rresp["status"]:
                    problems.append(f"{where}: status {got.status_code} != recorded {rresp['status']}")
                rheaders = {k.lower(): v for k, v in rresp["headers"].items()}
                want = _cookie_names(rheaders.get("set-cookie"), instance_id)
                have = _cookie_names(got.headers.get_list("set-cookie"), instance_id)
                if want != have:
                    problems.append(f"{where}: Set-Cookie names {sorted(have)} != recorded {sorted(want)}")
                if "location" in rheaders:
                    rloc = re.sub(r"^https?://[^/]+", "", rheaders["location"])
                    gloc = re.sub(r"^https?://[^/]+", "", got.headers.get("location", ""))
                    if rloc != gloc:
                        problems.append(f"{where}: Location {gloc!r} != recorded {rloc!r}")
                if rheaders.get("x-user-id") != got.headers.get("x-user-id"):
                    problems.append(
                        f"{where}: X-User-Id {got.headers.get('x-user-id')!r} != {rheaders.get('x-user-id')!r}"
                    )
                rbody = rresp.get("body") or ""
                if rbody.startswith("{") and got.status_code == 200:
                    recorded, answered = json.loads(rbody), got.json()
                    ruser = recorded.get("user") or recorded["ocs"]["data"]["id"]
                    guser = answered.get("user") or answered["ocs"]["data"]["id"]
                    if ruser != guser:
                        problems.append(f"{where}: served as {guser!r}, recorded {ruser!r}")
                    if "ocs" in recorded and list(recorded["ocs"]["data"]) != list(answered["ocs"]["data"]):
                        problems.append(f"{where}: cloud/user keys {list(answered['ocs']['data'])}")
                if rec["path"] == "/index.php/login" and rec["method"] == "GET":
                    match = re.search(r'data-requesttoken="([^"]+)"', got.text)
                    token = match.group(1) if match else ""
                    if not match:
                        problems.append(f"{where}: no data-requesttoken in the login page")
    state.close()
    assert not problems, "\n".join(problems)
