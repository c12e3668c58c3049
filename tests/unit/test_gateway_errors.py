import errno

import niquests
import pytest
from nc_py_api import NextcloudException

from ex_app.lib.errors import (
    NextcloudOutage,
    NextcloudUnavailable,
    PermanentJobError,
    PermissionDenied,
    QuotaExceeded,
    ScratchFull,
    SourceGone,
    TransientJobError,
)
from ex_app.lib.nextcloud import candidate_names, mapped_errors


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (NextcloudException(404, "Not Found"), SourceGone),
        (NextcloudException(403, "Forbidden"), PermissionDenied),
        (NextcloudException(503, "Service Unavailable"), NextcloudOutage),
        (NextcloudException(500, "Internal Server Error"), NextcloudUnavailable),
        (NextcloudException(429, "Too Many Requests"), NextcloudUnavailable),
        (NextcloudException(400, "Bad Request"), PermanentJobError),
        # Maybe all of Nextcloud is down: the worker probes before it decides (a NextcloudUnavailable still).
        (niquests.exceptions.ConnectionError("refused"), NextcloudOutage),
        (niquests.exceptions.ReadTimeout("slow"), NextcloudOutage),
    ],
)
def test_nextcloud_failures_map_to_our_errors(raised, expected):
    with pytest.raises(expected) as caught, mapped_errors("downloading the source"):
        raise raised
    assert caught.value.user_message.startswith("downloading the source")
    assert type(caught.value) is expected or expected is PermanentJobError


def test_insufficient_storage_is_the_users_full_quota_and_is_not_retried():
    with pytest.raises(QuotaExceeded) as caught, mapped_errors("uploading the result"):
        raise NextcloudException(507, "Insufficient Storage")
    assert isinstance(caught.value, PermanentJobError)
    assert caught.value.user_message.startswith("Your storage is full")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_local_disk_while_downloading_is_scratch_full_not_an_outage(code: int):
    with pytest.raises(ScratchFull) as caught, mapped_errors("downloading the source"):
        raise OSError(code, "No space left on device")
    assert isinstance(caught.value, TransientJobError)
    assert caught.value.user_message == "The converter's disk is full"


def test_not_found_can_say_what_is_missing():
    with (
        pytest.raises(SourceGone, match="The source file no longer exists"),
        mapped_errors("x", missing=lambda: SourceGone("The source file no longer exists")),
    ):
        raise NextcloudException(404, "Not Found")


def test_candidate_names_never_repeat_and_start_with_the_plain_name():
    names = list(candidate_names("clip", "mp4", limit=4))
    assert names == ["clip.mp4", "clip (1).mp4", "clip (2).mp4", "clip (3).mp4"]
