"""References to the user's code: ``"module:qualname"`` or ``"path/to/file.py:qualname"``.

A user's space function, training function, dataset factory, space builder or validity predicate
reaches worker processes and reopened studies as such a reference, never pickled as code: each
process imports it again. One resolver serves every part, so every field that names user code
accepts the same forms and fails with the same kind of message:

- ``mymodule:net``: a module importable from ``sys.path``, or from the current directory (as
  ``python -m`` and uvicorn's ``module:app`` do; the ``nasforge`` console script does not put it
  on ``sys.path``);
- ``path/to/file.py:net``: a file, loaded once per process under its stem, so a function of the
  script being run (``__main__``) has a reference another process can import.

Example:
    >>> reference_of(reference_of)
    'nasforge.references:reference_of'
    >>> resolve("nasforge.references:reference_of", field="x") is reference_of
    True
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError, Problem

_RESOLVED: dict[str, Any] = {}
"""Objects resolved in this process, by reference."""

_DEFERRED: ContextVar[list[str] | None] = ContextVar("nasforge_user_imports_deferred",
                                                     default=None)
"""While set (see :func:`user_imports_deferred`): the user code refused so far."""


class UserCodeDeferred(ImportError):
    """User code that :func:`user_imports_deferred` kept from being imported."""


@contextmanager
def user_imports_deferred() -> Iterator[list[str]]:
    """Within the block, user code this process has not imported yet is not imported: the
    import raises :class:`UserCodeDeferred` and its name is appended to the list yielded.

    For views over many studies (the dashboard's study list), which must not run the code of
    a study nobody opened. Modules already imported stay usable. Per thread and task
    (a :class:`~contextvars.ContextVar`), so another thread's imports are unaffected.

    Example:
        >>> with user_imports_deferred() as refused:
        ...     import_user_module("surely_no_module_is_named_this")
        Traceback (most recent call last):
        nasforge.references.UserCodeDeferred: ...
    """
    refused: list[str] = []
    reset = _DEFERRED.set(refused)
    try:
        yield refused
    finally:
        _DEFERRED.reset(reset)


def deferring() -> bool:
    """Whether this thread is inside :func:`user_imports_deferred` and it refused something."""
    return bool(_DEFERRED.get())


def refuse_if_deferred(what: str) -> None:
    """Raise :class:`UserCodeDeferred` (recording ``what``) inside
    :func:`user_imports_deferred`; do nothing outside it."""
    refused = _DEFERRED.get()
    if refused is not None:
        refused.append(what)
        raise UserCodeDeferred(f"{what} is user code, not imported by a view over many studies")


def import_user_module(name: str) -> Any:
    """``importlib.import_module(name)``, also looking in the current directory.

    The directory is appended to ``sys.path`` once, at the end, so it never shadows installed
    packages; spawned workers inherit it.
    """
    if name not in sys.modules:
        refuse_if_deferred(f"module {name!r}")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        if exc.name != name.partition(".")[0] or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(name)


def load_file(file: str | Path) -> Any:
    """The module of a ``.py`` file, loaded once per process under its file's stem (so what it
    defines pickles by that name in this process); a module already loaded from the same file
    (other than ``__main__``) is reused."""
    file = Path(file).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no such file: {file}")
    for module in list(sys.modules.values()):
        known = getattr(module, "__file__", None)
        if known and module.__name__ != "__main__" and Path(known).resolve() == file:
            return module
    refuse_if_deferred(f"file {str(file)!r}")
    spec = importlib.util.spec_from_file_location(file.stem, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(file.stem, module)
    spec.loader.exec_module(module)
    return module


def _importable(module_name: str) -> bool:
    top = module_name.split(".")[0]
    if module_name == "__main__":
        return False
    if top in sys.builtin_module_names or (top in sys.modules and not hasattr(
        sys.modules[top], "__file__"
    )):
        return True
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    try:
        found = importlib.machinery.PathFinder.find_spec(top)
    except (ImportError, ValueError):
        found = None
    if found is None and os.path.isfile(os.path.join(os.getcwd(), f"{top}.py")):
        return True  # import_user_module finds it there
    if found is None or file is None or found.origin is None:
        return found is not None
    # a module loaded from a file (load_file) whose stem shadows another module is not that one
    return top != module_name or Path(found.origin).resolve() == Path(file).resolve()


def reference_of(obj: Any, *, field: str = "path", what: str = "function") -> str:
    """The reference another process imports ``obj`` by: ``module:qualname``, or
    ``/abs/file.py:qualname`` for an object of the main script or of a module loaded from a
    file outside ``sys.path``.

    Raises:
        ConfigError: under ``field``: ``obj`` is a lambda or defined inside a function, or was
            defined where no file names it (an interactive session).
    """
    qualname = getattr(obj, "__qualname__", None)
    module_name = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", repr(obj))
    if not qualname or not module_name or "<" in qualname:
        what_it_is = "a lambda" if name == "<lambda>" else f"{name}, a {what} defined inside " \
            "another function,"
        named = "fn" if name == "<lambda>" else name
        raise ConfigError([Problem(
            field,
            f"{what_it_is} cannot be imported by worker processes and reopened studies",
            f"define {named} at the top level of a module (e.g. mymodule.py) and pass it, or "
            f"name it as 'mymodule:{named}'")])
    if _importable(module_name):
        return f"{module_name}:{qualname}"
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if not file:
        place = "the interactive session" if module_name == "__main__" else repr(module_name)
        raise ConfigError([Problem(
            field,
            f"{name} is defined in {place}, which no other process can import",
            f"move {name} into a module file (e.g. mymodule.py next to your notebook) and "
            "import it from there")])
    return f"{Path(file).resolve()}:{qualname}"


def resolve(reference: object, *, field: str, example: str = "mymodule:function") -> Any:
    """Import the object ``reference`` names (``module:qualname`` or ``file.py:qualname``).

    Raises:
        ConfigError: under ``field``: the text is malformed, the module or file does not import
            (the fix names what to make importable), or it lacks the name.
    """
    if not isinstance(reference, str):
        raise ConfigError([Problem(field, f"expected a 'module:function' string; got "
                                          f"{reference!r}", f"e.g. {example!r}")])
    if reference in _RESOLVED:
        return _RESOLVED[reference]
    where, sep, qualname = reference.rpartition(":")
    if not sep or not where or not qualname or (":" in where and not where.endswith(".py")):
        raise ConfigError([Problem(field, f"expected 'module:function' or 'file.py:function'; "
                                          f"got {reference!r}", f"e.g. {example!r}")])
    try:
        module = load_file(where) if where.endswith(".py") else import_user_module(where)
    except Exception as exc:
        what = f"file {where!r}" if where.endswith(".py") else f"module {where!r}"
        raise ConfigError([Problem(
            field,
            f"cannot import {what} of {reference!r} ({type(exc).__name__}: {exc}; the "
            "current directory was searched too)",
            f"make {where!r} importable: install it, run from the folder that holds it or add "
            f"that folder to PYTHONPATH; or name the file: 'path/to/file.py:{qualname}'")],
        ) from None
    obj: Any = module
    for part in qualname.split("."):
        if part == "<locals>" or not hasattr(obj, part):
            public = sorted(n for n in vars(module) if not n.startswith("_")
                            and callable(getattr(module, n)))
            place = "the main script" if where == "__main__" else (
                f"file {where!r}" if where.endswith(".py") else f"module {where!r}")
            raise ConfigError([Problem(
                field, f"{place} has no attribute {qualname!r}",
                f"define {qualname.rsplit('.', 1)[-1]} at the top level of {where!r}"
                + (f"; it has: {', '.join(public[:20])}" if public else ""))])
        obj = getattr(obj, part)
    _RESOLVED[reference] = obj
    return obj


def resolve_callable(reference: object, *, field: str, example: str = "mymodule:function",
                     what: str = "a function") -> Any:
    """:func:`resolve`, refusing an object that is not callable."""
    obj = resolve(reference, field=field, example=example)
    if not callable(obj):
        raise ConfigError([Problem(field, f"{reference!r} is a {type(obj).__name__}, not "
                                          f"{what}", f"name {what}, e.g. {example!r}")])
    return obj
