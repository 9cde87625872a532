"""Exceptions users can catch; the CLI prints their message on one line and exits with status 2."""


class SparsecastError(Exception):
    """Base class of the errors sparsecast raises for bad input."""


class DataError(SparsecastError, ValueError):
    """The data cannot be used as given (missing file or column, bad dates, too short, ...)."""


class CheckpointError(SparsecastError, ValueError):
    """A saved run cannot be loaded (missing, truncated, or from another model)."""


class MissingExtraError(SparsecastError, ImportError):
    """A model or command needs an optional extra that is not installed (the message names the install)."""
