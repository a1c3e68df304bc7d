"""Errors raised while exporting or loading an exported architecture."""

from __future__ import annotations

from nasforge.errors import NasforgeError


class ExportError(NasforgeError, ValueError):
    """An export could not be written, verified or loaded back.

    The message names the export directory (or file), what was expected, what was found, and
    the fix.
    """


class ExportNotFoundError(ExportError, FileNotFoundError):
    """An export directory, or a file an export needs, does not exist."""


class StandaloneUnsupportedError(ExportError):
    """The built model cannot be written as a plain ``torch``-only module file.

    Raised internally by the code generator; :func:`~nasforge.export.export_model` catches it and
    falls back to a ``torch.export`` program.
    """
