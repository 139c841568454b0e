"""The lab's results files: read as data, written atomically after every finished job.

A results file maps a job's key to its entry; it is rewritten whole
(tpc_cma_mm/utils/atomic_io.py) each time a job finishes, so a stopped
reproduction or study loses nothing and resumes where it stopped::

    results = load_records('work_dirs/reproduce_quick/results.json')
    results[key] = entry
    save_records(results, 'work_dirs/reproduce_quick/results.json')
"""
import os.path as osp
from typing import Dict

from tpc_cma_mm.apis.outputs import json_bytes, read_json
from tpc_cma_mm.utils.atomic_io import atomic_write

__all__ = ['load_records', 'save_records']


def load_records(path: str) -> Dict[str, dict]:
    """The entries recorded in ``path`` ({} before the first job finishes)."""
    return read_json(path, 'results file') if osp.isfile(path) else {}


def save_records(results: Dict[str, dict], path: str) -> None:
    atomic_write(path, json_bytes(results))
