"""The lab's one run engine: runs as data, one train, one score path, one results file.

A :class:`Run` names a training (a config file with a few keys replaced, seed,
length, weights, threads) by plain values and a content key; :func:`train`
trains it from the config file it writes into its work dir (which
``tools/train.py`` trains again); :func:`score_test_split` scores a model;
:func:`load_records` / :func:`save_records` keep results; :mod:`.env`
fixes and records the threads, libraries and code the numbers depend on.
``tpc_cma_lab.reproduce``, ``tpc_cma_lab.study`` and ``tpc_cma_lab.gap_targets``
are built on it.
"""
from .configs import (CURRICULUM_HOOK, RUN_CONFIG, curriculum_hook, dump_run_config,
                      replace_option, run_config, with_curriculum)
from .console import runner_logs_to_files
from .env import (LIBRARIES, checkpoint_digest, code_version, cpu_model, environment,
                          environment_key, library_versions, set_threads)
from .records import load_records, save_records
from .run import Run, check_plain, run_key
from .score import TestScores, embed_test, held_out_zero_shot, score_test_split
from .train import HISTORY_KEYS, RUN_RECORD, checkpoint_of, train

__all__ = [
    'CURRICULUM_HOOK', 'HISTORY_KEYS', 'LIBRARIES', 'RUN_CONFIG', 'RUN_RECORD', 'Run',
    'TestScores', 'check_plain', 'checkpoint_digest', 'checkpoint_of', 'code_version',
    'cpu_model', 'curriculum_hook', 'dump_run_config', 'embed_test', 'environment',
    'environment_key', 'held_out_zero_shot', 'library_versions', 'load_records',
    'replace_option', 'run_config', 'run_key', 'runner_logs_to_files', 'save_records',
    'score_test_split', 'set_threads', 'train', 'with_curriculum'
]
