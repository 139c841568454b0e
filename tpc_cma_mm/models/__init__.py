from .data_preprocessor import DualEncoderDataPreprocessor
from .dual_encoder import DualEncoder
from .losses import CMALoss, ContrastiveLoss, cma_terms
from .text_encoder import TextTransformer
from .tokenizer import CLIPTokenizer, find_bpe_vocab

__all__ = [
    'CLIPTokenizer', 'CMALoss', 'ContrastiveLoss', 'DualEncoder',
    'DualEncoderDataPreprocessor', 'TextTransformer', 'cma_terms',
    'find_bpe_vocab'
]
