"""Errors shared by the service layer and its callers, importable without the database layer."""


class ServiceError(Exception):
    """A staff request that cannot be carried out; the message says why."""
