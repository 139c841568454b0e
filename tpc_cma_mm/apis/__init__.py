"""What a user of the plugin calls: load a model, embed a split, caption, report, convert.

``init_model`` (checked, weights-only loading), ``embed_split`` (the one
embedding loop), ``caption_scores`` (the captioning protocol), ``gap_report``,
``DualEncoderInferencer`` (embed images and texts, zero-shot with given class
names), ``image_pipeline_cfg`` (a config's test pipeline for
mmpretrain's ``FeatureExtractor``), ``build_runner`` (what tools/train.py and tools/test.py run),
``convert_clip_checkpoint`` (other projects' CLIP weights in) and
``check_data``, ``schedule_curves`` (lr and curriculum alpha without
training), ``model_complexity`` (FLOPs of both towers), ``browse_dataset`` (a sheet of
the data as the model gets it); every writer refuses an existing output of other
content unless ``overwrite``. Importing it loads no plotting backend (the figures are
drawn in ``tpc_cma_mm.apis.figures``, imported when a report draws) and no experiment
code (the paper's reproduction and the studies are the ``tpc_cma_lab`` package).
"""
from .browse import browse_dataset
from .captioning import (DECODER_CONFIG, cache_embeddings, caption_scores, decode_and_score,
                         limit_dataset)
from .check_data import check_data
from .complexity import model_complexity
from .convert import convert_clip_checkpoint
from .embed import embed_split
from .fingerprint import checkpoint_id, config_digest, digest, state_dict_digest
from .gap_report import gap_report, write_gap_report
from .image_pipeline import image_pipeline_cfg
from .inference import DualEncoderInferencer
from .model import init_model, load_config, load_weights
from .outputs import OutputExistsError, json_bytes, npz_bytes, read_json, write_outputs
from .runner import build_runner
from .schedule import rescale_schedule
from .schedule_curves import schedule_curves

__all__ = ['browse_dataset', 'build_runner', 'cache_embeddings', 'caption_scores', 'check_data',
           'checkpoint_id', 'config_digest', 'convert_clip_checkpoint', 'decode_and_score',
           'DECODER_CONFIG', 'digest', 'DualEncoderInferencer', 'embed_split', 'gap_report',
           'image_pipeline_cfg', 'init_model', 'json_bytes', 'limit_dataset', 'load_config', 'load_weights',
           'model_complexity', 'npz_bytes', 'OutputExistsError', 'read_json',
           'rescale_schedule', 'schedule_curves', 'state_dict_digest', 'write_gap_report',
           'write_outputs']
