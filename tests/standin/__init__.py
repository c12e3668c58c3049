"""A Nextcloud 29 + AppAPI 3.2.3 stand-in for tests: WebDAV, OCS, AppAPI's lifecycle calls and user proxy.

See README.md in this folder for what it reproduces and what it does not.
"""

from ._app import create_app
from ._server import StandinServer, free_port
from ._state import INSTANCE_ID, StandinState, instance_file_id

__all__ = ["INSTANCE_ID", "StandinServer", "StandinState", "create_app", "free_port", "instance_file_id"]
