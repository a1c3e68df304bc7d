"""Optional dependencies: imported when a feature needs them, with the extra to install named.

nasforge's core needs torch, numpy, pydantic and the CLI libraries. ONNX export, plotting and
pandas live behind extras (``pip install 'nasforge[onnx]'``, ``[plot]``, ``[pandas]``, or
``[all]``) and are imported only inside the functions that use them, so ``import nasforge`` stays
cheap and a missing extra fails only the feature that needs it, with a message saying what to
install. The shape follows Optuna's ``optuna/_imports.py``:

Example:
    >>> with try_import("plot", "Drawing the report's plots") as imports:
    ...     import matplotlib
    >>> imports.check()  # raises MissingDependencyError if matplotlib could not be imported
"""

from __future__ import annotations

import importlib.util
from types import TracebackType

from nasforge.errors import NasforgeError

EXTRAS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxruntime", "onnxscript"),
    "plot": ("matplotlib", "plotly"),
    "pandas": ("pandas",),
    "fair": ("fairlearn",),
    "mo": ("moocore",),
    "green": ("codecarbon",),
    "optuna": ("optuna",),
    "dashboard": ("fastapi", "uvicorn"),
}
"""The modules each extra of ``pyproject.toml`` provides (``all`` installs every extra)."""


class MissingDependencyError(NasforgeError, ImportError):
    """An optional package a feature needs is not installed (or fails to import).

    Attributes:
        module: the package that is missing, e.g. ``"onnxruntime"``.
        extra: the nasforge extra that installs it, e.g. ``"onnx"``.
        feature: what needed it, e.g. ``"ONNX export"``.
        alternative: another way out besides installing, e.g. ``"pass onnx=False"``; a front
            door may rephrase it in its own syntax.
    """

    def __init__(
        self, module: str, extra: str, feature: str, alternative: str = "", reason: str = ""
    ) -> None:
        self.module = module
        self.extra = extra
        self.feature = feature
        self.alternative = alternative
        why = f" ({reason})" if reason else ""
        fix = self.install + (f", or {alternative}" if alternative else "")
        super().__init__(
            f"{feature} needs the {module!r} package, which is not installed or fails to "
            f"import{why} (fix: {fix})",
            name=module,
        )

    @property
    def install(self) -> str:
        """The command that installs the missing extra."""
        return f"pip install 'nasforge[{self.extra}]'"


class DeferredImport:
    """Context manager that catches a failed import and raises it, explained, on :meth:`check`.

    Made by :func:`try_import`; see the module docstring for its use.
    """

    def __init__(self, extra: str, feature: str, alternative: str = "") -> None:
        if extra not in EXTRAS:
            raise ValueError(f"unknown extra {extra!r}; known extras: {', '.join(EXTRAS)}")
        self.extra = extra
        self.feature = feature
        self.alternative = alternative
        self._error: MissingDependencyError | None = None

    def __enter__(self) -> DeferredImport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if isinstance(exc, ImportError):
            module = (exc.name or "").partition(".")[0] or EXTRAS[self.extra][0]
            self._error = MissingDependencyError(
                module, self.extra, self.feature, self.alternative, f"{type(exc).__name__}: {exc}"
            )
            self._error.__cause__ = exc
            return True
        return False

    def is_successful(self) -> bool:
        """Whether every import in the block succeeded."""
        return self._error is None

    def check(self) -> None:
        """Raise :class:`MissingDependencyError` if an import in the block failed."""
        if self._error is not None:
            raise self._error


def try_import(extra: str, feature: str, alternative: str = "") -> DeferredImport:
    """Defer an ImportError in a ``with`` block until :meth:`DeferredImport.check`.

    Args:
        extra: the extra that installs the imported packages (a key of :data:`EXTRAS`).
        feature: what needs them, as the start of a sentence: ``"ONNX export"``.
        alternative: another way out, e.g. ``"pass onnx=False to skip it"``.
    """
    return DeferredImport(extra, feature, alternative)


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be found (without importing any of them)."""
    missing = []
    for name in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken parent package, or a module without spec
            found = False
        if not found:
            missing.append(name)
    return missing


def require_extra(extra: str, feature: str, alternative: str = "") -> None:
    """Raise :class:`MissingDependencyError` now if a module of ``extra`` is not installed.

    A cheap up-front check (nothing is imported), so a feature fails before doing any work.
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingDependencyError(missing[0], extra, feature, alternative)
