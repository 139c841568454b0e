from .plan import EXPERIMENTS, Study, job_key
from .pool import bootstrap_r_squared, pool_r_squared
from .report import run_label, study_table, write_study_report
from .runs import embed_with_attributes, prompt_prototypes, score_model, train_run
from .variants import (HELD_OUT_SHAPES, SEEN_SHAPES, finetune_config, pretrain_config,
                       spec_name)
from .wise_ft import interpolate_state_dicts

__all__ = [
    'EXPERIMENTS', 'HELD_OUT_SHAPES', 'SEEN_SHAPES', 'Study', 'bootstrap_r_squared',
    'embed_with_attributes', 'finetune_config', 'interpolate_state_dicts', 'job_key',
    'pool_r_squared', 'pretrain_config', 'prompt_prototypes', 'run_label',
    'score_model', 'spec_name', 'study_table', 'train_run', 'write_study_report'
]
