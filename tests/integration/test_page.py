"""The Conversions page as the browser reaches it: "Convert into…" → redirect_handler → the page with the file
ids, its assets through AppAPI's proxy (ETag, 304, the icon's exact type), and the page in the user's language."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media import make_video

from .harness import APP_ID, ROOT, ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, new_folder

pytestmark = pytest.mark.integration

PAGE = f"/index.php/apps/app_api/embedded/{APP_ID}/conversions"
SCRIPT = ROOT / "ex_app" / "js" / "video_converter_fm-main.js"


def test_convert_into_answers_the_redirect_handler_and_the_page_opens_with_the_ids(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    clip = make_video(tmp_path / "a.mp4", seconds=1)
    for name in ("a.mp4", "b.mp4"):
        nextcloud.upload("alice", f"{folder}/{name}", clip)
    entries = [action_entry(nextcloud, "alice", f"{folder}/{name}") for name in ("a.mp4", "b.mp4")]
    # What AppAPI's Files plugin sends for a v2.0 action on a selection (execBatch), token and all.
    answer = nextcloud.proxy(
        "alice",
        "POST",
        "api/convert",
        json={"files": entries},
        headers={"requesttoken": "bogus-token", "X-Requested-With": "XMLHttpRequest"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"redirect_handler": "conversions"}
    assert answer.headers["content-type"] == "application/json"
    ids = ",".join(str(e["fileId"]) for e in entries)
    page = nextcloud.http.get(f"{PAGE}?fileIds={ids}", auth=nextcloud.alice.auth)
    assert page.status_code == 200
    assert f"/proxy/{APP_ID}/js/video_converter_fm-main.js" in page.text
    # Nothing was created: the page creates the jobs once the user has chosen.
    listed = nextcloud.proxy("alice", "GET", "api/jobs", params={"limit": 500}).json()["items"]
    assert not {e["fileId"] for e in entries} & {j["source"]["file_id"] for j in listed}


def test_the_convert_handler_refuses_a_malformed_payload(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    assert nextcloud.proxy("alice", "POST", "api/convert", json={"files": []}).status_code == 422
    assert nextcloud.proxy(None, "POST", "api/convert", json={"files": []}).status_code == 404  # anonymous


def test_icons_come_through_the_proxy_as_exact_svg_with_an_etag(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    icon = nextcloud.proxy("alice", "GET", "img/convert.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml", "AppAPI's Files plugin drops any other type"
    assert icon.content.lstrip().startswith(b"<svg") or b"<svg" in icon.content[:200]
    assert icon.headers["etag"] and icon.headers["last-modified"]
    if nextcloud.is_standin:
        assert icon.headers["cache-control"] == "private, max-age=3600, must-revalidate"
    again = nextcloud.proxy("alice", "GET", "img/convert.svg", headers={"If-None-Match": icon.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert nextcloud.proxy("alice", "GET", "img/app.svg").headers["content-type"] == "image/svg+xml"


def test_the_page_script_comes_through_the_proxy_revalidated_with_its_etag(
    nextcloud: NextcloudTarget, exapp: ExAppProcess
):
    if not SCRIPT.is_file():
        pytest.skip(f"{SCRIPT.relative_to(ROOT)} is not built (make build)")
    script = nextcloud.proxy("alice", "GET", "js/video_converter_fm-main.js", params={"v": "14550eca-0"})
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.content == SCRIPT.read_bytes()
    # Our Cache-Control, not AppAPI's hour: the ?v= is Nextcloud's version, so a new build must be fetched.
    assert script.headers["cache-control"] == "no-cache"
    etag = script.headers["etag"]
    again = nextcloud.proxy("alice", "GET", "js/video_converter_fm-main.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    # Only the built files: no path tricks, no other extensions.
    assert nextcloud.proxy("alice", "GET", "js/../lib/app.py").status_code == 404
    assert nextcloud.proxy("alice", "GET", "js/nothing-here.js").status_code == 404
    assert nextcloud.proxy(None, "GET", "js/video_converter_fm-main.js").status_code == 404


@pytest.fixture
def french_alice(nextcloud: NextcloudTarget, exapp: ExAppProcess) -> Iterator[None]:
    def set_language(value: str) -> None:
        response = nextcloud.http.put(
            f"/ocs/v2.php/cloud/users/{nextcloud.alice.name}",
            data={"key": "language", "value": value},
            auth=nextcloud.alice.auth,
            headers={"OCS-APIRequest": "true", "Accept": "application/json"},
        )
        assert response.status_code == 200, response.text

    set_language("fr")
    yield
    set_language("en")


def test_a_french_user_gets_the_page_in_french(nextcloud: NextcloudTarget, french_alice: None):
    if not nextcloud.is_standin and not os.environ.get("NC_TRANSLATIONS_FOLDER"):
        pytest.skip(
            "a manual_install gets translations only from --json-info translations_folder: set NC_TRANSLATIONS_FOLDER"
        )
    page = nextcloud.http.get(PAGE, auth=nextcloud.alice.auth)
    assert page.status_code == 200
    assert 'lang="fr"' in page.text
    assert re.search(r"<title>\s*Conversions vidéo - Nextcloud", page.text)
    tag = re.search(rf'<script nonce="[^"]+" defer src="(/apps/{APP_ID}/l10n/fr\.js)"></script>', page.text)
    assert tag, "the translations script"
    script = nextcloud.http.get(tag.group(1), auth=nextcloud.alice.auth)
    assert script.status_code == 200 and "OC.L10N.register" in script.text and APP_ID in script.text
    assert "Convertir en" in script.text
    # Without an Accept-Language of its own, a proxied call gets the user's language from AppAPI.
    answer = nextcloud.proxy("alice", "GET", "api/files", params={"ids": "987654321"})
    assert answer.json()["skipped"][0]["reason"] == "Ce fichier n'existe pas, ou vous n'y avez pas accès"
