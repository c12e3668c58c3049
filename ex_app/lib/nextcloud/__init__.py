"""Everything that talks to Nextcloud (see gateway.py)."""

from .gateway import NextcloudGateway, RemoteFile, candidate_names, mapped_errors

__all__ = ["NextcloudGateway", "RemoteFile", "candidate_names", "mapped_errors"]
