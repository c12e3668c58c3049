"""Everything that talks to Nextcloud (see gateway.py)."""

from .gateway import NextcloudGateway, RemoteFile, candidate_names, check_app_credentials, mapped_errors

__all__ = ["NextcloudGateway", "RemoteFile", "candidate_names", "check_app_credentials", "mapped_errors"]
