import logging
from dataclasses import replace

import pytest

from ex_app.lib.admin_settings import AdminSettings
from ex_app.lib.errors import PermanentJobError
from ex_app.lib.nclog import NextcloudLogHandler
from ex_app.lib.settings import Settings
from ex_app.lib.worker.pipeline import check_duration, check_size

OPEN = AdminSettings.defaults(Settings())


def test_run_time_limits_refuse_what_the_admin_does_not_allow():
    check_size(10**12, OPEN)  # 0 = no limit
    check_duration(10**6, OPEN)
    with pytest.raises(PermanentJobError, match="larger than the 5 MB limit"):
        check_size(5 * 1024 * 1024 + 1, replace(OPEN, max_input_mb=5))
    with pytest.raises(PermanentJobError, match="longer than the 2-minute limit"):
        check_duration(121, replace(OPEN, max_input_minutes=2))
    check_duration(None, replace(OPEN, max_input_minutes=2))  # unknown duration: ffmpeg decides


def test_the_nextcloud_log_handler_queues_errors_without_blocking_and_stays_bounded():
    handler = NextcloudLogHandler(capacity=3)
    logger = logging.getLogger("video_converter_fm.test_nclog")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("not forwarded: below ERROR")
        for n in range(5):
            logger.error("failure %d", n)
        logging.getLogger("nc_py_api.test").addHandler(handler)
        logging.getLogger("nc_py_api.test").error("never forwarded: could loop")
    finally:
        logger.removeHandler(handler)
        logging.getLogger("nc_py_api.test").removeHandler(handler)
    messages = [message for _, message in handler.queue]
    assert messages == [f"video_converter_fm.test_nclog: failure {n}" for n in (2, 3, 4)]
