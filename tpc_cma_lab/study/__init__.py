from .plan import EXPERIMENTS, KINDS, POOL, POSTHOC_FIXES, StudyJob, job_key
from .budget import budget_rows, budget_table
from .captions import caption_metrics
from .pool import bootstrap_r_squared, pool_entries, pool_r_squared
from .pool_report import POOL_TASKS, write_pool_report
from .report import run_label, study_table, write_study_report
from .runs import embed_with_attributes, score_model
from .study import Study
from .variants import (HELD_OUT_SHAPES, SEEN_SHAPES, finetune_config, finetune_run,
                       pretrain_config, pretrain_run, spec_name)
from .wise_ft import interpolate_state_dicts

__all__ = [
    'budget_rows', 'budget_table',
    'EXPERIMENTS', 'HELD_OUT_SHAPES', 'KINDS', 'POOL', 'POOL_TASKS', 'POSTHOC_FIXES',
    'SEEN_SHAPES', 'Study', 'StudyJob', 'bootstrap_r_squared', 'caption_metrics',
    'embed_with_attributes', 'finetune_config', 'finetune_run', 'interpolate_state_dicts',
    'job_key', 'pool_entries', 'pool_r_squared', 'pretrain_config', 'pretrain_run',
    'run_label', 'score_model', 'spec_name', 'study_table', 'write_pool_report',
    'write_study_report'
]
