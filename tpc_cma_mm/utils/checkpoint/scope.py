"""The scope inside which mmengine's checkpoint loaders are weights-only.

Importing ``tpc_cma_mm`` leaves mmengine's ``CheckpointLoader`` as it is, so
other OpenMMLab code in the process keeps mmengine's behaviour. Inside the
scope every scheme registered at its start is served by its weights-only
stand-in (:mod:`.loaders`); when the last holder leaves, the loaders it
replaced come back (a scheme someone re-registered meanwhile is left alone).

Who opens it:

* tools and ``tpc_cma_mm.apis``: ``with safe_loading(): ...`` around any
  load (``Runner.train()``, ``mmengine.runner.load_checkpoint`` ...);
* a ``Runner`` built from this plugin's configs:
  :class:`~tpc_cma_mm.engine.hooks.AtomicCheckpointHook` opens it in
  ``before_run``, before the Runner initialises weights and loads
  ``load_from`` / resumes, and closes it when the loop starts. mmengine calls
  no hook when a run raises, so such a scope is opened with
  ``close_on_load_error=True``: a failed load closes it on its way out.

Example::

    from tpc_cma_mm.utils import safe_loading
    with safe_loading():
        runner = Runner.from_cfg(cfg)
        runner.train()
"""
import contextlib
import functools
import threading
from typing import Callable, Dict, Iterator, Set, Tuple

from mmengine.runner.checkpoint import CheckpointLoader

from .loaders import safe_loader_for

__all__ = ['close_run_scopes', 'close_safe_loading', 'open_safe_loading', 'safe_loading']

_lock = threading.RLock()
_replaced: Dict[str, Tuple[Callable, Callable]] = {}  # prefix -> (replaced, stand-in)
_holders: Set[object] = set()
_closed_by_load_error: Set[object] = set()


def _close_on_error(loader: Callable) -> Callable:

    @functools.wraps(loader)
    def load(filename, map_location=None):
        try:
            return loader(filename, map_location)
        except BaseException:
            close_run_scopes()
            raise

    return load


def close_run_scopes() -> None:
    """Close every scope opened with ``close_on_load_error``: what a failed load
    does, for a check that refuses what was loaded (the run stops there)."""
    with _lock:
        for token in list(_closed_by_load_error):
            close_safe_loading(token)


def _install() -> None:
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        stand_in = _close_on_error(safe_loader_for(prefix, loader))
        CheckpointLoader.register_scheme(prefix, stand_in, force=True)
        _replaced[prefix] = (loader, stand_in)


def _restore() -> None:
    for prefix, (loader, stand_in) in _replaced.items():
        if CheckpointLoader._schemes.get(prefix) is stand_in:
            CheckpointLoader.register_scheme(prefix, loader, force=True)
    _replaced.clear()


def open_safe_loading(close_on_load_error: bool = False) -> object:
    """Enter the scope; returns the token to give :func:`close_safe_loading`.

    With ``close_on_load_error`` the first load that raises closes it too
    (for a hook, which sees no exception).
    """
    token = object()
    with _lock:
        if not _holders:
            _install()
        _holders.add(token)
        if close_on_load_error:
            _closed_by_load_error.add(token)
    return token


def close_safe_loading(token: object) -> None:
    """Leave the scope entered with ``token`` (again: nothing)."""
    with _lock:
        if token not in _holders:
            return
        _holders.discard(token)
        _closed_by_load_error.discard(token)
        if not _holders:
            _restore()


@contextlib.contextmanager
def safe_loading() -> Iterator[None]:
    """Every mmengine checkpoint load inside the block is weights-only."""
    token = open_safe_loading()
    try:
        yield
    finally:
        close_safe_loading(token)
