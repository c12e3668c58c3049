"""U1: how many list requests one open conversions page sends, through AppAPI's proxy, per minute.

Every poll of the page is a PHP request on a real server (the proxy boots Nextcloud), so the page polls only
while something is waiting or converting, at most every 2 s, and never while nothing is. Measured with
headless Chromium on the stand-in's embedded page, counting ``GET …/proxy/video_converter_fm/api/jobs`` in the
stand-in's request log: ~60 s while one job converts (goal ≤ 30/min), ~30 s of that with the tab hidden
(goal 0/min), then ~60 s after the job was cancelled (goal 0/min). Also printed: how many of the running
phase's answers were ``304 Not Modified`` (ETag).

    python bench/run.py --only U1
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from tests.integration.browser import chromium, wait_for
from tests.integration.harness import APP_ID
from tests.media import make_video

if TYPE_CHECKING:
    from bench.run import Bench

PAGE = f"/index.php/apps/app_api/embedded/{APP_ID}/conversions"
LIST_PATH = f"/index.php/apps/app_api/proxy/{APP_ID}/api/jobs"
WINDOW = float(os.environ.get("U1_SECONDS", "60"))
# document.hidden and the visibilitychange event, as the browser sets them when the user switches tabs (headless
# Chromium keeps the only tab visible, so the page is told directly).
HIDE = """Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
document.dispatchEvent(new Event('visibilitychange'))"""
SHOW = """delete document.hidden; delete document.visibilityState;
document.dispatchEvent(new Event('visibilitychange'))"""


def _list_requests(bench: Bench, since: int) -> tuple[list[dict], int]:
    log = bench.nextcloud.faults.requests(since)
    polls = [r for r in log if r["method"] == "GET" and r["path"] == LIST_PATH]
    return polls, max([since, *(r["seq"] for r in log)])


def _last_seq(bench: Bench) -> int:
    return _list_requests(bench, 0)[1]


def _requests_during(bench: Bench, seconds: float) -> tuple[list[dict], float]:
    """The page's list requests in the next ``seconds``, and how long that window really lasted."""
    since = _last_seq(bench)
    started = time.monotonic()
    time.sleep(seconds)
    lasted = time.monotonic() - started
    return _list_requests(bench, since)[0], lasted


def _job(bench: Bench, job_id: int) -> dict:
    response = bench.nextcloud.proxy("alice", "GET", f"api/jobs/{job_id}")
    response.raise_for_status()
    return response.json()


def u1(bench: Bench) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    bench.start_exapp()
    # long enough to still be converting after the window on any machine (a 640x360 VP9 encode)
    source = bench.work / "u1-long.mp4"
    if not source.exists():
        make_video(source, seconds=600, size="640x360", extra=("-preset", "ultrafast"))
    remote = "/bench/u1-long.mp4"
    bench.nextcloud.upload("alice", remote, source)
    response = bench.nextcloud.proxy("alice", "POST", "api/jobs", json={"path": remote, "target": "webm"})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]

    alice = bench.nextcloud.alice
    with chromium() as driver:
        driver.get(f"{bench.nextcloud.url}/index.php/login?redirect_url={PAGE}")
        wait_for(lambda: driver.find_element(By.NAME, "user")).send_keys(alice.name)
        driver.find_element(By.NAME, "password").send_keys(alice.password + Keys.ENTER)
        wait_for(lambda: "/login" not in driver.current_url, what="the login")
        if PAGE not in driver.current_url:
            driver.get(bench.nextcloud.url + PAGE)
        selector = f'[data-job-id="{job_id}"][data-status="processing"]'
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, selector), timeout=120, what="the job to run")

        running, running_for = _requests_during(bench, WINDOW)

        # The tab in the background while the job still runs: what the browser tells the page then.
        driver.execute_script(HIDE)
        time.sleep(2.5)  # a request already under way may still land
        hidden, hidden_for = _requests_during(bench, WINDOW / 2)
        driver.execute_script(SHOW)
        still_running = _job(bench, job_id)["status"] == "processing"

        bench.nextcloud.proxy("alice", "POST", f"api/jobs/{job_id}/cancel").raise_for_status()
        selector = f'[data-job-id="{job_id}"][data-status="cancelled"]'
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, selector), timeout=60, what="the page to see it")
        idle, idle_for = _requests_during(bench, WINDOW)

    per_minute_running = len(running) * 60 / running_for
    per_minute_idle = len(idle) * 60 / idle_for
    per_minute_hidden = len(hidden) * 60 / hidden_for
    not_modified = sum(1 for r in running if r["status"] == 304)
    print(
        f"U1 {per_minute_running:.1f}/min running, {per_minute_idle:.1f}/min idle"
        f" (goals ≤ 30 and 0), {per_minute_hidden:.1f}/min in a hidden tab while running (goal 0)",
        flush=True,
    )
    print(
        f"   {len(running)} list requests in {running_for:.0f} s while one job converted"
        f" ({not_modified} answered 304 Not Modified),"
        f" {len(hidden)} in {hidden_for:.0f} s hidden, {len(idle)} in {idle_for:.0f} s with nothing to watch"
        + ("" if still_running else "; WARNING: the job ended during the running window, the figure is low"),
        flush=True,
    )
