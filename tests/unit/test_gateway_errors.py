import niquests
import pytest
from nc_py_api import NextcloudException

from ex_app.lib.errors import NextcloudUnavailable, PermanentJobError, PermissionDenied, SourceGone
from ex_app.lib.nextcloud import candidate_names, mapped_errors


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (NextcloudException(404, "Not Found"), SourceGone),
        (NextcloudException(403, "Forbidden"), PermissionDenied),
        (NextcloudException(503, "Service Unavailable"), NextcloudUnavailable),
        (NextcloudException(500, "Internal Server Error"), NextcloudUnavailable),
        (NextcloudException(429, "Too Many Requests"), NextcloudUnavailable),
        (NextcloudException(507, "Insufficient Storage"), PermanentJobError),
        (NextcloudException(400, "Bad Request"), PermanentJobError),
        (niquests.exceptions.ConnectionError("refused"), NextcloudUnavailable),
        (niquests.exceptions.ReadTimeout("slow"), NextcloudUnavailable),
    ],
)
def test_nextcloud_failures_map_to_our_errors(raised, expected):
    with pytest.raises(expected) as caught, mapped_errors("downloading the source"):
        raise raised
    assert caught.value.user_message.startswith("downloading the source")
    assert type(caught.value) is expected or expected is PermanentJobError


def test_not_found_can_say_what_is_missing():
    with (
        pytest.raises(SourceGone, match="The source file no longer exists"),
        mapped_errors("x", missing=lambda: SourceGone("The source file no longer exists")),
    ):
        raise NextcloudException(404, "Not Found")


def test_candidate_names_never_repeat_and_start_with_the_plain_name():
    names = list(candidate_names("clip", "mp4", limit=4))
    assert names == ["clip.mp4", "clip (1).mp4", "clip (2).mp4", "clip (3).mp4"]
