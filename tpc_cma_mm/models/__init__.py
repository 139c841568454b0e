from .captioner import CaptionDecoder, vocab_from_tokens
from .convert import convert_state_dict
from .data_preprocessor import DualEncoderDataPreprocessor
from .dual_encoder import DualEncoder
from .losses import CMALoss, ContrastiveLoss, cma_terms
from .objectives import AlignmentObjective, GradProbe
from .pretrained_init import CheckedPretrainedInit
from .text_encoder import TextTransformer
from .tokenizer import CLIPTokenizer, find_bpe_vocab
from .tower_config import configure_towers

__all__ = [
    'AlignmentObjective', 'CLIPTokenizer', 'CMALoss', 'CaptionDecoder', 'CheckedPretrainedInit',
    'ContrastiveLoss',
    'DualEncoder', 'DualEncoderDataPreprocessor', 'GradProbe', 'TextTransformer',
    'cma_terms', 'configure_towers', 'convert_state_dict', 'find_bpe_vocab', 'vocab_from_tokens'
]
