"""Refuse a top-level ``--cfg-options`` key that would change nothing at run time.

A key such as ``data_root`` lives inside each dataset dict, and mmengine
substitutes a config's module-level variables into the dicts that use them when
the file is read (docs/pitfalls.md, "Config variables are substituted"): either way
``--cfg-options data_root=X`` sets a top-level key that no module reads::

    from tpc_cma_mm.apis.cfg_options import refuse_copied_variables
    refuse_copied_variables(Config.fromfile(path), dict(data_root='/data/mine'))
    # ValueError naming train_dataloader.dataset.data_root, ... to override instead
"""
import inspect
from typing import Iterator, List, Tuple

from mmengine.config import Config

__all__ = ['copies_of_variable', 'nested_keys_named', 'refuse_copied_variables']


def _leaves(node, path: str = '') -> Iterator[Tuple[str, object]]:
    items = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, (list, tuple)) else None
    if items is None:
        yield path, node
        return
    for key, value in items:
        yield from _leaves(value, f'{path}.{key}' if path else str(key))


def nested_keys_named(cfg: Config, key: str) -> List[str]:
    """Dotted paths of the nested (not top-level) keys called ``key``."""
    return [path for path, _ in _leaves(cfg.to_dict())
            if '.' in path and path.rsplit('.', 1)[1] == key]


def copies_of_variable(cfg: Config, key: str) -> List[str]:
    """Dotted paths (list items by index) of the nested values that hold the
    top-level ``cfg[key]``: equal to it, or for a string, containing it."""
    original = cfg[key]
    found = []
    for path, value in _leaves(cfg.to_dict()):
        if path == key:
            continue
        if value == original or (isinstance(original, str) and len(original) > 2
                                 and isinstance(value, str) and original in value):
            found.append(path)
    return found


def refuse_copied_variables(cfg: Config, cfg_options: dict) -> None:
    """``ValueError`` for a top-level option the Runner does not take that either
    names keys living inside dicts (``data_root``) or a top-level variable whose
    value the config copied into nested keys: the error lists the keys to override."""
    from mmengine.runner import Runner
    runner_keys = set(inspect.signature(Runner.__init__).parameters)
    for key in cfg_options or {}:
        if '.' in key or key in runner_keys:
            continue
        nested = nested_keys_named(cfg, key)
        why = f'this config sets {key} inside dicts only'
        if key in cfg and not isinstance(cfg[key], (dict, list, tuple)) \
                and cfg[key] is not None:
            nested += [p for p in copies_of_variable(cfg, key) if p not in nested]
            why = (f'{key}={cfg[key]!r} is a config variable, copied into the keys that '
                   'use it when the file was read')
        if nested:
            listed = ' '.join(f'{path}=...' for path in nested)
            raise ValueError(
                f'--cfg-options {key}=... changes nothing at run time: {why} '
                f'(docs/pitfalls.md, "Config variables are substituted"). Override those '
                f'instead: --cfg-options {listed}')
