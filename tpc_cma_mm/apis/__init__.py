"""The package API under the tools: load a model, embed a split, caption, report, reproduce.

``init_model`` (checked, weights-only loading), ``embed_split`` (the one
embedding loop), ``caption_scores`` (the captioning protocol), ``gap_report``,
``reproduce`` (``tpc_cma_mm.apis.reproduce``) and ``write_report``; every
writer refuses an existing output of other content unless ``overwrite``.
"""
from . import reproduce, study
from .captioning import (DECODER_CONFIG, cache_embeddings, caption_scores, decode_and_score,
                         limit_dataset)
from .embed import embed_split
from .fingerprint import checkpoint_id, config_digest, digest, state_dict_digest
from .gap_report import gap_report, write_gap_report
from .model import init_model, load_config, load_weights
from .outputs import OutputExistsError, json_bytes, read_json, write_outputs
from .report import aggregate, r_squared, reductions, write_report
from .schedule import rescale_schedule

__all__ = ['DECODER_CONFIG', 'OutputExistsError', 'aggregate', 'cache_embeddings',
           'caption_scores', 'checkpoint_id', 'config_digest', 'decode_and_score', 'digest',
           'embed_split', 'gap_report', 'init_model', 'json_bytes', 'limit_dataset',
           'load_config', 'load_weights', 'r_squared', 'read_json', 'reductions',
           'rescale_schedule', 'reproduce', 'state_dict_digest', 'study', 'write_gap_report',
           'write_outputs', 'write_report']
