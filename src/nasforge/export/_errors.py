"""Errors raised while exporting or loading an exported architecture."""

from __future__ import annotations

from pathlib import Path

from nasforge.errors import NasforgeError


class ExportError(NasforgeError, ValueError):
    """An export could not be written, verified or loaded back.

    The message names the export directory (or file), what was expected, what was found, and
    the fix.
    """


class ExportNotFoundError(ExportError, FileNotFoundError):
    """An export directory, or a file an export needs, does not exist."""


class ExportExistsError(ExportError, FileExistsError):
    """The export directory exists and is not empty, and overwriting was not asked for.

    Attributes:
        path: the export directory.

    The message gives the Python fix (``overwrite=True``); the command line catches this error
    and names its own option (``--overwrite``) instead.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"export directory {path} already exists and is not empty "
            "(fix: pass overwrite=True to replace an earlier export, or choose another path)"
        )


class ExportPathError(ExportError):
    """The export directory's path cannot be used safely: it holds a NUL byte, ends in ``.`` or
    ``..``, or is a symbolic link (which would send the export, or the removal of an earlier
    one, somewhere else).

    Attributes:
        path: the path as given.
        reason: what is wrong with it.

    The message names the Python argument; the command line catches this error and names its
    own option (``--out``) instead.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"export directory {path!r} {reason} (fix: pass the export folder's own path, e.g. "
            "'exports/best', that is not a symbolic link)"
        )


class StandaloneUnsupportedError(ExportError):
    """The built model cannot be written as a plain ``torch``-only module file.

    Raised internally by the code generator; :func:`~nasforge.export.export_model` catches it and
    falls back to a ``torch.export`` program.
    """
