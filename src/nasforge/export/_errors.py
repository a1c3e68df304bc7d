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


class StandaloneUnsupportedError(ExportError):
    """The built model cannot be written as a plain ``torch``-only module file.

    Raised internally by the code generator; :func:`~nasforge.export.export_model` catches it and
    falls back to a ``torch.export`` program.
    """
