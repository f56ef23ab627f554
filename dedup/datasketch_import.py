"""datasketch, imported without SciPy's ``integrate`` until something calls it.

``datasketch.lsh`` imports ``scipy.integrate.quad`` at its top for one use: ``MinHashLSH``
choosing its bands and rows from a threshold when it is given no ``params``. That import loads
SciPy's optimize, sparse, linalg and special: 0.3–0.6 s of CPU in every process that hashes a
text or holds an index (the crawling process, each extraction process's forkserver, each
worker), on the way to a crawl's first page (bench/import_costs.py). This project gives
``MinHashLSH`` its ``params`` (``dedup.index.lsh_bands``: the defaults' bands are known), so
``scipy.integrate`` is stood in for by a module that imports the real one the first time one of
its attributes is used: a threshold whose bands are not known, or anyone else's use of SciPy.

Import ``MinHash`` and ``MinHashLSH`` from here, not from datasketch. A process that imported
``scipy.integrate`` before this module keeps it as it is."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_INTEGRATE = "scipy.integrate"
# Two threads asking at once: one takes the stand-in out of sys.modules and imports the real one.
_SWAP = threading.Lock()


class _DeferredModule(types.ModuleType):
    """Stands in for ``scipy.integrate`` in ``sys.modules``; any attribute asked of it
    (but the import system's own) imports the real module, which then takes its place."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_integrate(), name)


def _real_integrate() -> types.ModuleType:
    with _SWAP:
        if isinstance(sys.modules.get(_INTEGRATE), _DeferredModule):
            del sys.modules[_INTEGRATE]
        return importlib.import_module(_INTEGRATE)


def _quad(*args: Any, **kwargs: Any) -> Any:
    """What ``datasketch.lsh`` binds as ``integrate`` at its import: the real ``quad``, on call."""
    return _real_integrate().quad(*args, **kwargs)


def _defer_scipy_integrate() -> None:
    if _INTEGRATE in sys.modules:
        return
    spec = importlib.util.find_spec(_INTEGRATE)  # imports the scipy package only (≈ 10 ms)
    if spec is None:
        return  # no SciPy: datasketch's own import says so
    stand_in = _DeferredModule(_INTEGRATE)
    # Its submodules stay importable on their own (the import system looks for them here).
    stand_in.__path__ = list(spec.submodule_search_locations or [])
    stand_in.quad = _quad  # type: ignore[attr-defined]
    sys.modules[_INTEGRATE] = stand_in


_defer_scipy_integrate()

from datasketch import MinHash, MinHashLSH  # noqa: E402 - after the stand-in is in place

__all__ = ["MinHash", "MinHashLSH"]
