"""Headless Chromium for the page's browser tests: Debian's ``chromium`` driven by its ``chromedriver``.

The driver path is given to Selenium explicitly, so Selenium Manager never downloads a browser or a driver.
Screenshots go to ``test-output/screenshots/`` (``VCFM_TEST_OUTPUT`` moves ``test-output``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver",)
T = TypeVar("T")


def output_dir() -> Path:
    """Where this run's screenshots are written (created on demand)."""
    folder = Path(os.environ.get("VCFM_TEST_OUTPUT", ROOT / "test-output")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _first(candidates: tuple[str, ...], name: str) -> str | None:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def require_browser() -> tuple[str, str]:
    """Chromium and chromedriver paths; skip (fail under CI=true) when either or selenium is missing."""
    chromium = _first(CHROMIUM_CANDIDATES, "chromium")
    driver = _first(CHROMEDRIVER_CANDIDATES, "chromedriver")
    require(chromium is not None, "chromium is not installed (apt-get install chromium chromium-driver)")
    require(driver is not None, "chromedriver is not installed (apt-get install chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        require(False, "selenium is not installed (pip install selenium; it is a dev dependency)")
    assert chromium is not None and driver is not None
    return chromium, driver


@contextmanager
def chromium(lang: str = "en", width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A fresh headless Chromium (own profile, no network of its own) whose UI and Accept-Language is ``lang``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = require_browser()
    profile = tempfile.mkdtemp(prefix="vcfm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--lang={lang}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    except BaseException:
        # what the browser showed and logged when the test failed
        try:
            screenshot(driver, f"failure-{time.strftime('%H%M%S')}")
            print(f"page: {driver.current_url}")
            for entry in driver.get_log("browser"):
                print(f"console {entry['level']}: {entry['message']}")
        except Exception as error:
            print(f"no failure screenshot: {error!r}")
        raise
    finally:
        try:
            driver.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)


def wait_for(condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> T:
    """Poll ``condition`` until it returns something truthy; AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # stale elements while Vue re-renders are expected
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}: {last_error!r}")


def screenshot(driver: Any, name: str) -> Path:
    """A full-window PNG under :func:`output_dir`; the path is printed so the test log shows it."""
    path = output_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path
