"""The one-command reproduction (``tools/reproduce.py``): modes, variants, jobs, caches."""
from .cache import (PROTOCOL_KEYS, check_cache, check_work_dir, fingerprints, job_key,
                    load_results, protocol)
from .jobs import EXTRA_METRICS, evaluate, run_job, train
from .pipeline import reproduce
from .variants import MODES, TINY_METHOD, TINY_PRETRAIN, variant_configs

__all__ = ['EXTRA_METRICS', 'MODES', 'PROTOCOL_KEYS', 'TINY_METHOD', 'TINY_PRETRAIN',
           'check_cache', 'check_work_dir', 'evaluate', 'fingerprints', 'job_key',
           'load_results', 'protocol', 'reproduce', 'run_job', 'train', 'variant_configs']
