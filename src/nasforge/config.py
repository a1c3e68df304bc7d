"""Configurable components: the constructor is the configuration.

A :class:`Component` subclass takes keyword-only constructor parameters, stores each under the
attribute of the same name, and has them validated by pydantic from the constructor's type hints
(use ``Annotated[int, Field(ge=1)]`` for bounds). The same validation runs whether the object is
made in Python, from YAML or from a CLI ``--set``, so every entry point gives the same message:
the field, what was expected, what was given, and the fix.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

import pydantic

from nasforge.errors import ConfigError, Problem

_MODELS: dict[type, type[pydantic.BaseModel]] = {}


def params_model(cls: type) -> type[pydantic.BaseModel]:
    """A pydantic model of ``cls.__init__``'s keyword parameters (cached)."""
    if cls in _MODELS:
        return _MODELS[cls]
    constructor: Any = cls.__dict__.get("__init__", object.__init__)
    for klass in cls.__mro__:
        if "__init__" in klass.__dict__:
            constructor = klass.__dict__["__init__"]
            break
    init = getattr(constructor, "__wrapped__", constructor)
    hints = typing.get_type_hints(init, include_extras=True)
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(init).parameters.items():
        if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        annotation = hints.get(name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (annotation, default)
    model: type[pydantic.BaseModel] = pydantic.create_model(
        f"{cls.__name__}Params",
        __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )
    _MODELS[cls] = model
    return model


def _fix_for(error: Mapping[str, Any], field: str, known: list[str]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        name = field.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{hint}valid parameters are: {', '.join(known) or 'none'}"
    if kind == "missing":
        return f"add {field}"
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        return f"use one of {ctx['expected']}"
    bounds = [
        f"{sym} {ctx[key]}"
        for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        if key in ctx
    ]
    if bounds:
        return f"use a value {' and '.join(bounds)}"
    return f"set {field} to a valid value"


def problems_from(
    error: pydantic.ValidationError, prefix: str = "", known: list[str] | None = None
) -> list[Problem]:
    """Turn a pydantic ValidationError into :class:`Problem` rows with dotted field paths."""
    problems = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        field = ".".join(p for p in (prefix, loc) if p)
        message = item["msg"]
        if item.get("type") == "extra_forbidden":
            message = "unknown parameter"
        elif item.get("type") != "missing":
            message = f"{message}; got {item.get('input')!r}"
        problems.append(Problem(field, message, _fix_for(item, field, known or [])))
    return problems


def validate_params(cls: type, params: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Validate ``params`` against ``cls``'s constructor; raise :class:`ConfigError` on problems.

    Returns the coerced values for the parameters given (defaults are left to the constructor).
    """
    model = params_model(cls)
    try:
        validated = model.model_validate(dict(params))
    except pydantic.ValidationError as exc:
        known = list(model.model_fields)
        raise ConfigError(problems_from(exc, where or cls.__name__, known)) from None
    return {name: getattr(validated, name) for name in params}


class Component:
    """Base of every configurable part (spaces, strategies, evaluators, tasks, executors).

    Subclasses declare keyword-only constructor parameters with type hints and store each under
    the attribute of the same name; :meth:`get_params` then returns a JSON-able dict from which
    the registry rebuilds an equal object.
    """

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        original = cls.__dict__["__init__"]

        @functools.wraps(original)
        def __init__(self: Any, *args: Any, **params: Any) -> None:
            if args:
                raise TypeError(f"{type(self).__name__}() takes keyword arguments only")
            if type(self).__init__ is __init__:
                params = validate_params(type(self), params, type(self).__name__)
            original(self, **params)

        cls.__init__ = __init__  # type: ignore[method-assign]

    @classmethod
    def param_names(cls) -> list[str]:
        return list(params_model(cls).model_fields)

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters as stored on the object."""
        return {name: getattr(self, name) for name in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Component)
        return self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.get_params().items()))))
