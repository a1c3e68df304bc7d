"""Reading nasforge's own checkpoint files without unpickling arbitrary objects.

A checkpoint (a supernet's training state, a one-shot search's state) lives in a study's
directory, which may have been copied from someone else. ``torch.load`` with
``weights_only=False`` would run any code a crafted pickle names, so every checkpoint is read
with ``weights_only=True``: tensors, dicts, lists, tuples, strings and numbers only (random
generator states are saved as those plain types). A file holding anything else is refused with
a :class:`~nasforge.errors.ConfigError` that names the file and the fix, never executed.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from nasforge.errors import ConfigError, Problem


def load_checkpoint(path: str | os.PathLike[str], *, field: str) -> Any:
    """The object saved at ``path``, read with ``torch.load(weights_only=True)``.

    Args:
        path: the checkpoint file.
        field: the setting the checkpoint belongs to (``evaluator``, ``strategy``), named in the
            error.

    Raises:
        ConfigError: the file holds something other than tensors and plain Python values (a
            foreign or tampered pickle) or is not a torch file at all.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()
        detail = next((line for line in first if "GLOBAL" in line or "Unsupported" in line),
                      first[0] if first else type(exc).__name__)
        raise ConfigError([Problem(
            field, f"the checkpoint {os.fspath(path)} holds something other than tensors "
            f"and plain values, so it was not loaded (a foreign or tampered file): "
            f"{detail.strip()}",
            "delete the file to start that training afresh; never load checkpoints you did "
            "not write")]) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ConfigError([Problem(
            field, f"the checkpoint {os.fspath(path)} cannot be read "
            f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''})",
            "delete the file to start that training afresh")]) from None
