"""The conversions page in a real browser (headless Chromium): what a user sees and does.

Runs against the stand-in by default and against a real Nextcloud when ``NC_URL`` is set (README next to this
file); there, the first test goes through the real Files app ("⋯" → "Convert into…") instead of opening the
redirect URL itself. Screenshots: ``test-output/screenshots/`` (printed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pytest

from tests.media import ffprobe, make_video

from .browser import chromium, screenshot, wait_for
from .harness import APP_ID, ExAppProcess, NextcloudTarget, User
from .jobs_helpers import new_folder

pytestmark = [pytest.mark.integration, pytest.mark.ffmpeg, pytest.mark.browser]

PAGE = f"/index.php/apps/app_api/embedded/{APP_ID}/conversions"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two H.264 videos taller than 720 lines, long enough that a WebM encode shows progress for a few polls."""
    folder = tmp_path_factory.mktemp("media")
    return (
        make_video(folder / "holiday.mp4", seconds=6, size="1280x960"),
        make_video(folder / "concert.mp4", seconds=5, size="1280x960"),
    )


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "long.mp4", seconds=60, size="640x360")


# ---- the browser side ------------------------------------------------------------------------------------------
def login(driver: Any, nextcloud: NextcloudTarget, user: User, then: str) -> None:
    """Log in with the login form (the stand-in's plain form, or Nextcloud's Vue one), then open ``then``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(f"{nextcloud.url}/index.php/login?redirect_url={quote(then, safe='/')}")
    name = wait_for(lambda: driver.find_element(By.NAME, "user"), what="the login form")
    name.clear()
    name.send_keys(user.name)
    password = driver.find_element(By.NAME, "password")
    password.clear()
    password.send_keys(user.password + Keys.ENTER)
    wait_for(lambda: "/login" not in urlparse(driver.current_url).path, what="the login to finish")
    here = urlparse(driver.current_url)
    if here.path + (f"?{here.query}" if here.query else "") != then:
        driver.get(nextcloud.url + then)


def app_root(driver: Any) -> Any:
    from selenium.webdriver.common.by import By

    return wait_for(lambda: driver.find_element(By.ID, f"{APP_ID}-app"), what="the page to mount")


def find(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def top(driver: Any) -> None:
    """Scroll back to the top, whichever element scrolls (one inside Nextcloud's layout, the window in the stand-in)."""
    driver.execute_script(f"document.querySelector('#{APP_ID}-app .conversions')?.scrollIntoView({{block: 'start'}})")


def radio(driver: Any, test_id: str) -> tuple[Any, Any]:
    """A radio of the page (``data-test`` sits on the <input>) and its visible wrapper (label, hint, badges)."""
    element = wait_for(lambda: find(driver, f'input[data-test="{test_id}"]'), what=test_id)[0]
    wrapper = element.find_element("xpath", "./ancestor::*[contains(@class, 'checkbox-radio-switch')][1]")
    return element, wrapper


def choose(driver: Any, test_id: str) -> None:
    """Pick a radio by clicking its label, as a user does."""
    element, wrapper = radio(driver, test_id)
    wrapper.find_element("css selector", ".checkbox-radio-switch__content, label").click()
    wait_for(lambda: element.is_selected(), timeout=5, what=f"{test_id} to be selected")


def job_element(driver: Any, job_id: int) -> Any | None:
    found = find(driver, f'[data-test="job"][data-job-id="{job_id}"]')
    return found[0] if found else None


def job_status(driver: Any, job_id: int) -> str | None:
    """The status the page shows for a job (None while it is not in the list or being re-rendered)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element = job_element(driver, job_id)
        return element.get_attribute("data-status") if element is not None else None
    except StaleElementReferenceException:
        return None


def percent(driver: Any, job_id: int) -> float | None:
    """The percentage the page shows beside a job's progress bar."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element = job_element(driver, job_id)
        shown = element.find_elements("css selector", '[data-test="percent"]') if element is not None else []
        return float(shown[0].text.split()[0]) if shown and shown[0].text else None
    except (StaleElementReferenceException, ValueError):
        return None


def convert_in_files(driver: Any, names: list[str]) -> None:
    """In Nextcloud's Files app (folder already open): select ``names``, then "⋯" → "Convert into…"."""
    for name in names:
        row = wait_for(lambda name=name: find(driver, f'tr[data-cy-files-list-row-name="{name}"]'), what=name)[0]
        cell = row.find_element("css selector", "td.files-list__row-checkbox")
        cell.find_element("css selector", ".checkbox-radio-switch__content").click()
        box = cell.find_element("css selector", "input")
        wait_for(box.is_selected, timeout=10, what=f"{name} to be selected")

    def action() -> Any:
        found = [
            item
            for item in find(driver, "button, [role='menuitem']")
            if item.is_displayed() and item.text.strip() == "Convert into…"
        ]
        if found:
            return found[0]
        # the selection's own "⋯" menu in the list header
        for toggle in find(driver, "thead button, .files-list__thead button"):
            if toggle.is_displayed() and (toggle.get_attribute("aria-label") or "").strip() in (
                "Actions",
                "More actions",
            ):
                toggle.click()
                break
        return None

    wait_for(action, timeout=30, interval=1, what='the "Convert into…" action of the selection').click()
    wait_for(lambda: "fileIds=" in driver.current_url, timeout=60, what="the redirect to the conversions page")


# ---- the server side -------------------------------------------------------------------------------------------
def upload(nextcloud: NextcloudTarget, user: str, path: str, data: bytes | Path) -> int:
    nextcloud.upload(user, path, data)
    return nextcloud.file_id(user, path)


def jobs_of(nextcloud: NextcloudTarget, user: str) -> list[dict]:
    response = nextcloud.proxy(user, "GET", "api/jobs", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def create_job(nextcloud: NextcloudTarget, user: str, file_id: int, target: str = "mp4") -> int:
    response = nextcloud.proxy(user, "POST", "api/jobs", json={"file_id": file_id, "target": target})
    assert response.status_code in (200, 201, 202), response.text
    return int(response.json()["id"])


def set_language(nextcloud: NextcloudTarget, user: str, language: str) -> None:
    """The user's Nextcloud language (Personal settings → Language)."""
    if not nextcloud.is_standin:
        # the settings page's provisioning call needs a recent password confirmation on a real server
        nextcloud.occ("user:setting", nextcloud.user(user).name, "core", "lang", language)
        return
    response = nextcloud.client(user).put(
        f"/ocs/v2.php/cloud/users/{nextcloud.user(user).name}",
        data={"key": "language", "value": language},
        headers={"OCS-APIRequest": "true", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text


# ---- tests -----------------------------------------------------------------------------------------------------
def test_from_the_redirect_two_files_become_webm_720p_with_live_progress(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clips: tuple[Path, Path]
):
    set_language(nextcloud, "alice", "en")
    folder = new_folder(nextcloud, "alice")
    ids = [upload(nextcloud, "alice", f"{folder}/{clip.name}", clip) for clip in clips]
    before = {job["id"] for job in jobs_of(nextcloud, "alice")}

    with chromium() as driver:
        if nextcloud.is_standin:
            # the stand-in has no Files app: open the URL AppAPI's Files plugin redirects to
            login(driver, nextcloud, nextcloud.alice, f"{PAGE}?fileIds={ids[0]},{ids[1]}")
        else:
            login(driver, nextcloud, nextcloud.alice, f"/index.php/apps/files/?dir={quote(folder)}")
            convert_in_files(driver, [clip.name for clip in clips])
            assert f"fileIds={ids[0]},{ids[1]}" in driver.current_url or f"fileIds={ids[1]},{ids[0]}" in (
                driver.current_url
            ), driver.current_url
        app_root(driver)
        files = wait_for(lambda: find(driver, '[data-test="chosen-file"]'), what="the chosen files")
        assert [f.text.splitlines()[0] for f in files] == [clip.name for clip in clips]
        assert all("1280×960" in f.text and "h264" in f.text for f in files), [f.text for f in files]

        choose(driver, "target-webm")
        choose(driver, "height-720")
        outputs = [o.text for o in find(driver, '[data-test="output-name"]')]
        assert outputs == [f"→ {clip.stem}.webm" for clip in clips]
        fast = '[data-test="fast-copy"]'
        assert radio(driver, "target-mkv")[1].find_elements("css selector", fast), "H.264 + AAC copies into MKV"
        assert not radio(driver, "target-webm")[1].find_elements("css selector", fast)
        top(driver)
        screenshot(driver, "chooser")

        find(driver, '[data-test="convert"]')[0].click()
        wait_for(lambda: find(driver, '[data-test="started"]'), what="the confirmation")
        assert "fileIds" not in driver.current_url, "a reload must not offer the same files again"
        new = wait_for(
            lambda: [job for job in jobs_of(nextcloud, "alice") if job["id"] not in before], what="the two jobs"
        )
        assert sorted(job["source"]["file_id"] for job in new) == sorted(ids)
        assert all(job["target"] == "webm" and job["options"]["max_height"] == 720 for job in new)
        job_ids = [job["id"] for job in new]

        # Watch the bar move: the page's own polling must show at least two different percentages in (0, 100).
        seen: dict[int, set[float]] = {job_id: set() for job_id in job_ids}
        shot = 0
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            statuses = [job_status(driver, job_id) for job_id in job_ids]
            for job_id in job_ids:
                value = percent(driver, job_id)
                if value is not None and 0 < value < 100:
                    seen[job_id].add(value)
            # the running list: first as soon as a bar moves, again (overwriting) once one is a third done
            further = any(value >= 33 for values in seen.values() for value in values)
            if (shot == 0 and any(seen.values())) or (shot == 1 and further):
                screenshot(driver, "running")
                shot += 1
            if all(status == "completed" for status in statuses):
                break
            assert not any(status in ("failed", "cancelled") for status in statuses), statuses
            time.sleep(0.3)
        else:
            raise AssertionError(f"the jobs did not complete on the page: {statuses}")
        assert any(len(values) >= 2 for values in seen.values()), f"the progress bar never moved: {seen}"
        screenshot(driver, "completed")

        link = wait_for(lambda: find(driver, f'[data-job-id="{job_ids[0]}"] [data-test="result-link"]'))[0]
        output = next(job for job in jobs_of(nextcloud, "alice") if job["id"] == job_ids[0])["output"]
        assert urlparse(link.get_attribute("href")).path == f"/index.php/f/{output['file_id']}"
        link.click()
        wait_for(lambda: f"/f/{output['file_id']}" in driver.current_url or "/apps/files" in driver.current_url)

    for job in new:
        data = nextcloud.download("alice", f"{folder}/{Path(job['source']['path']).stem}.webm")
        local = Path(str(clips[0].parent / f"out-{job['id']}.webm"))
        local.write_bytes(data)
        video = next(s for s in ffprobe(local)["streams"] if s["codec_type"] == "video")
        assert (video["codec_name"], video["width"], video["height"]) == ("vp9", 960, 720)


def test_a_long_job_is_cancelled_from_the_list(nextcloud: NextcloudTarget, exapp: ExAppProcess, long_clip: Path):
    set_language(nextcloud, "alice", "en")
    folder = new_folder(nextcloud, "alice")
    file_id = upload(nextcloud, "alice", f"{folder}/long.mp4", long_clip)
    job_id = create_job(nextcloud, "alice", file_id, "webm")

    with chromium() as driver:
        login(driver, nextcloud, nextcloud.alice, PAGE)
        app_root(driver)
        wait_for(lambda: job_status(driver, job_id) == "processing", timeout=60, what="the job to start")
        job_element(driver, job_id).find_element("css selector", '[data-test="cancel"]').click()
        wait_for(lambda: job_status(driver, job_id) == "cancelled", timeout=30, what="the job to be cancelled")
        element = job_element(driver, job_id)
        assert not element.find_elements("css selector", '[data-test="cancel"]')
        assert element.find_elements("css selector", '[data-test="retry"]')

        # and it can be removed from the list
        element.find_element("css selector", '[data-test="delete"]').click()
        wait_for(lambda: job_element(driver, job_id) is None, timeout=30, what="the job to leave the list")
        assert job_id not in {job["id"] for job in jobs_of(nextcloud, "alice")}
    assert not any(name.startswith("long.webm") for name in nextcloud.listdir("alice", folder))


def test_a_failed_job_shows_its_error_and_is_retried(nextcloud: NextcloudTarget, exapp: ExAppProcess, clips):
    set_language(nextcloud, "alice", "en")
    folder = new_folder(nextcloud, "alice")
    file_id = upload(nextcloud, "alice", f"{folder}/broken.mp4", b"this is not a video at all" * 100)
    job_id = create_job(nextcloud, "alice", file_id, "mp4")

    with chromium() as driver:
        login(driver, nextcloud, nextcloud.alice, PAGE)
        app_root(driver)
        wait_for(lambda: job_status(driver, job_id) == "failed", timeout=90, what="the job to fail")
        element = job_element(driver, job_id)
        error = element.find_element("css selector", '[data-test="job-error"]').text
        assert error, "a failed job shows why"
        screenshot(driver, "error")

        # the status filter: only failed jobs, then all again
        choose(driver, "filter-failed")
        wait_for(lambda: {job.get_attribute("data-status") for job in find(driver, '[data-test="job"]')} == {"failed"})
        choose(driver, "filter-all")
        element = wait_for(lambda: job_element(driver, job_id), what="the job in the full list again")

        # the user fixes the file (same file id), then retries
        nextcloud.upload("alice", f"{folder}/broken.mp4", clips[1])
        assert nextcloud.file_id("alice", f"{folder}/broken.mp4") == file_id
        element.find_element("css selector", '[data-test="retry"]').click()
        wait_for(lambda: job_status(driver, job_id) == "completed", timeout=180, what="the retried job to complete")
        # a retry starts the job afresh (the store clears attempts, error and times)
        element = job_element(driver, job_id)
        assert not element.find_elements("css selector", '[data-test="job-error"]')
        assert element.find_elements("css selector", '[data-test="result-link"]')


def test_in_french_the_labels_and_the_chooser_reasons_are_french(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clips: tuple[Path, Path]
):
    folder = new_folder(nextcloud, "alice")
    video = upload(nextcloud, "alice", f"{folder}/{clips[0].name}", clips[0])
    text = upload(nextcloud, "alice", f"{folder}/notes.txt", b"not a video")
    english = nextcloud.proxy("alice", "GET", "api/files", params={"ids": str(text)}, headers={"Accept-Language": "en"})
    assert english.status_code == 200, english.text
    english_reason = english.json()["skipped"][0]["reason"]
    set_language(nextcloud, "alice", "fr")
    try:
        with chromium(lang="fr") as driver:
            login(driver, nextcloud, nextcloud.alice, f"{PAGE}?fileIds={video},{text}")
            root = app_root(driver)
            wait_for(lambda: find(driver, '[data-test="convert"]'), what="the chooser")
            assert find(driver, '[data-test="convert"]')[0].text == "Convertir 1 fichier"
            assert "Mes conversions" in root.text and "Qualité" in root.text and "Hauteur maximale" in root.text
            skipped = find(driver, '[data-test="skipped"]')[0].text
            assert "notes.txt" in skipped
            assert english_reason not in skipped, f"the reason is still English: {skipped}"
            top(driver)
            screenshot(driver, "chooser-fr")
    finally:
        set_language(nextcloud, "alice", "en")


def test_in_french_a_failed_jobs_error_is_french(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    folder = new_folder(nextcloud, "alice")
    file_id = upload(nextcloud, "alice", f"{folder}/cassé.mp4", b"pas une video" * 100)
    job_id = create_job(nextcloud, "alice", file_id, "mp4")
    set_language(nextcloud, "alice", "fr")
    try:
        with chromium(lang="fr") as driver:
            login(driver, nextcloud, nextcloud.alice, PAGE)
            app_root(driver)
            wait_for(lambda: job_status(driver, job_id) == "failed", timeout=90, what="the job to fail")
            element = job_element(driver, job_id)
            assert element.find_element("css selector", '[data-test="job-status"]').text == "En échec"
            assert element.find_element("css selector", '[data-test="retry"]').text == "Relancer"
            screenshot(driver, "error-fr")
            english = next(job for job in jobs_of_in(nextcloud, "alice", "en") if job["id"] == job_id)
            french = element.find_element("css selector", '[data-test="job-error"]').text
            assert french and french != english["error_message"], (french, english["error_message"])
    finally:
        set_language(nextcloud, "alice", "en")


def jobs_of_in(nextcloud: NextcloudTarget, user: str, language: str) -> list[dict]:
    response = nextcloud.proxy(user, "GET", "api/jobs", params={"limit": 200}, headers={"Accept-Language": language})
    assert response.status_code == 200, response.text
    return response.json()["items"]


CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])"


def test_every_control_is_reached_with_tab_and_has_a_name(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clips: tuple[Path, Path]
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    set_language(nextcloud, "alice", "en")
    folder = new_folder(nextcloud, "alice")
    ids = [upload(nextcloud, "alice", f"{folder}/{clip.name}", clip) for clip in clips]

    with chromium() as driver:
        login(driver, nextcloud, nextcloud.alice, f"{PAGE}?fileIds={ids[0]},{ids[1]}")
        root = app_root(driver)
        wait_for(lambda: find(driver, '[data-test="convert"]'), what="the chooser")
        wait_for(lambda: find(driver, '[data-test="job"]') or find(driver, '[data-test="empty"]'), what="the list")
        controls = [c for c in root.find_elements("css selector", CONTROLS) if _is_control(c)]
        assert controls
        unnamed = [c.get_attribute("outerHTML")[:160] for c in controls if not (c.accessible_name or "").strip()]
        assert not unnamed, f"controls without an accessible name: {unnamed}"

        # Tab from the page's start until focus leaves our part of the page for good.
        driver.execute_script("document.activeElement && document.activeElement.blur(); window.focus()")
        reached: set[str] = set()
        key = "data-vcfm-key"
        driver.execute_script(
            "arguments[0].forEach((el, i) => el.setAttribute(arguments[1], String(i)))", controls, key
        )
        for _ in range(400):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            active = driver.switch_to.active_element
            marker = active.get_attribute(key)
            if marker is not None:
                reached.add(marker)
            if len(reached) == len(controls):
                break
        # one radio per group is a Tab stop; the arrow keys move within the group (the browser's radio behaviour)
        groups: dict[str, set[str]] = {}
        for index, control in enumerate(controls):
            name = control.get_attribute("name") if _is_radio(control) else None
            groups.setdefault(name or f"#{index}", set()).add(str(index))
        missed = [
            controls[int(next(iter(members)))].get_attribute("outerHTML")[:160]
            for members in groups.values()
            if not members & reached
        ]
        assert not missed, f"not reachable with Tab: {missed}"


def _is_control(element: Any) -> bool:
    """Something a keyboard user must reach: shown (radios are visually replaced by their label), focusable,
    and not hidden from assistive technology (e.g. NcSelect's decorative open-indicator button)."""
    if element.get_attribute("tabindex") == "-1" or element.get_attribute("disabled") is not None:
        return False
    hidden = element.find_elements("xpath", "./ancestor-or-self::*[@aria-hidden='true']")
    return not hidden and (element.is_displayed() or _is_radio(element))


def _is_radio(element: Any) -> bool:
    return element.tag_name == "input" and element.get_attribute("type") == "radio"
