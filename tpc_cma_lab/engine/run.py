"""One training run as data: what it trains, from what, how long, with which seed and threads.

A :class:`Run` holds only plain values (numbers, strings, lists and dicts of
them), so it is its own record: ``results.json`` and the run's ``run.json``
name exactly what was trained, and nothing read back from them is ever code
(docs/reliability.md). Its :func:`run_key` is a content hash of the fields and
of the environment the numbers depend on (:mod:`.env`)::

    run = Run(config='configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py',
              config_digest=config_digest(cfg), work_dir='work_dirs/x/tpc0.5',
              seed=0, iters=300, load_from='work_dirs/x/pretrain/iter_1000.pth',
              curriculum=dict(alpha_target=0.5), threads=1)
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from tpc_cma_mm.apis.fingerprint import digest
from .env import environment_key

__all__ = ['Run', 'check_plain', 'run_key']

PLAIN = (str, int, float, bool, type(None))


def check_plain(value: Any, where: str) -> Any:
    """``value`` if it is plain data (numbers, strings, None, lists / tuples / string-keyed
    dicts of them), else ValueError naming ``where``."""
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, f'{where}[{index}]')
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f'{where}: key {key!r} is not a string')
            check_plain(item, f'{where}[{key!r}]')
    elif not isinstance(value, PLAIN):
        raise ValueError(f'{where} = {value!r} is not a plain value (numbers, strings, '
                         'None, lists and dicts of them); a run names data, never code.')
    return value


@dataclass(frozen=True)
class Run:
    """One training run.

    ``config``: the config file it derives from (``config_digest``: that config's content,
    overrides of the caller included, see :func:`~.configs.base_config`); ``options``:
    dotted keys replaced in it (``{'model.alpha': 0.5}``, the value replaces the key
    whole, dicts are not merged); ``curriculum``: the ``TPCCurriculumHook``'s keys to set
    (``{}``: as configured; None: the hook removed); ``iters``: the
    schedule's length (None: the config's); ``validate``: validate once at the end
    (False: no validation at all); ``threads``: torch's thread count while training.
    """
    config: str
    config_digest: str
    work_dir: str
    seed: int = 0
    iters: Optional[int] = None
    load_from: Optional[str] = None
    options: Mapping[str, Any] = field(default_factory=dict)
    curriculum: Optional[Mapping[str, Any]] = field(default_factory=dict)
    validate: bool = True
    threads: int = 1

    def __post_init__(self):
        check_plain(self.options, 'Run.options')
        check_plain(self.curriculum, 'Run.curriculum')
        if self.threads < 1:
            raise ValueError(f'Run.threads must be >= 1, got {self.threads}')
        if self.iters is not None and self.iters < 1:
            raise ValueError(f'Run.iters must be >= 1 (or None), got {self.iters}')

    def plain(self) -> dict:
        """The fields as a JSON-able dict."""
        return dataclasses.asdict(self)


def run_key(run: Run) -> str:
    """A stable content key: the run's fields but its work dir (where it is cached is not
    what it is) and the environment its numbers depend on (threads are a field)."""
    fields = {k: v for k, v in run.plain().items() if k != 'work_dir'}
    return digest(dict(run=fields, environment=environment_key()))
