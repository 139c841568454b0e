"""The one-command reproduction (``tools/reproduce.py``): modes, variants, jobs, caches."""
from .cache import PROTOCOL_KEYS, check_cache, check_work_dir, fingerprints, protocol
from .jobs import (EXTRA_METRICS, Job, evaluate, held_out_classes, run_job, seen_classes_option,
                   variant_run)
from .pipeline import in_plan_order, reproduce
from .variants import (GAP_TARGETS, MODES, TARGET_TOWERS, TINY_METHOD, TINY_PRETRAIN, Variant,
                       variants)

__all__ = ['EXTRA_METRICS', 'GAP_TARGETS', 'Job', 'MODES', 'PROTOCOL_KEYS', 'TARGET_TOWERS',
           'TINY_METHOD', 'TINY_PRETRAIN',
           'Variant', 'check_cache', 'check_work_dir', 'evaluate', 'fingerprints',
           'held_out_classes', 'in_plan_order', 'protocol', 'reproduce', 'run_job',
           'seen_classes_option', 'variant_run', 'variants']
