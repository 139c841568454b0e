"""CLIPTokenizer against open_clip's SimpleTokenizer (an independent copy of OpenAI's BPE)."""
import pickle
import random

import pytest
import torch

from tpc_cma_mm.models import CLIPTokenizer
from tpc_cma_mm.registry import MODELS, TOKENIZER

open_clip_tokenizer = pytest.importorskip('open_clip.tokenizer')

BROAD = [
    'a photo of a cat', 'A small RED circle in the top left',
    "It's 2026: naïve café &amp; résumé!!", 'Crème brûlée, São Paulo, Ærøskøbing, Straße',
    'e\u0301 decomposed accent', 'ſ long s, İstanbul, ΣΊΣΥΦΟΣ',
    '東京タワーの写真', '一只猫坐在桌子上', '한국어 문장', 'Привет мир', 'مرحبا بالعالم',
    '👨\u200d👩\u200d👧\u200d👦 family, 🏳️\u200d🌈 flag, 👍🏽 thumbs',
    '&lt;b&gt;bold&lt;/b&gt; &amp;amp; &quot;q&quot; &#39;x&#39; &nbsp;nbsp &#x1F600;',
    '  multiple   spaces\tand\nnewlines \r\n end ',
    '\u00a0nbsp\u2003em\u3000ideographic\u2028line\x1cfs\x85nel\u200bzero\ufeffbom',
    'mojibake: cafÃ©', 'ﬁ ligature ½ ① ＦＵＬＬＷＩＤＴＨ', "don't you'll we've I'M",
    '<|endoftext|>', 'a <|endoftext|> b <|startoftext|>', '<|ENDOFTEXT|>cat',
    '', '   ', '!!!???...', 'C++ & C# https://example.com/a_b?c=d&e=f', 'x' * 300,
    ' '.join(['word'] * 100), 'supercalifragilisticexpialidocious 12345',
]


@pytest.fixture(scope='module')
def tokenizer():
    return CLIPTokenizer(context_length=77)


@pytest.fixture(scope='module')
def reference():
    return open_clip_tokenizer.SimpleTokenizer()


def test_known_openai_ids(tokenizer):
    # Ids published with OpenAI's CLIP for this prompt
    # (docs/pitfalls.md, "mmpretrain's CLIP is inference-only").
    tokens = tokenizer('a photo of a cat')
    assert tokens.shape == (1, 77)
    assert tokens[0, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokens[0, 7:].eq(0).all()
    assert tokenizer.vocab_size == 49408


@pytest.mark.parametrize('text', BROAD)
def test_ids_equal_open_clip(tokenizer, reference, text):
    assert tokenizer.encode(text) == reference.encode(text)
    assert torch.equal(tokenizer([text]), reference([text], context_length=77))


def test_random_unicode_strings_equal_open_clip(tokenizer, reference):
    rng = random.Random(0)
    blocks = [(0x0, 0x7e), (0xa0, 0x24f), (0x300, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff),
              (0x900, 0x97f), (0x1100, 0x11ff), (0x2000, 0x206f), (0x3000, 0x30ff),
              (0x4e00, 0x4fff), (0xac00, 0xad00), (0xfe00, 0xfe0f), (0xff00, 0xffef),
              (0x1f300, 0x1f6ff), (0x1f900, 0x1f9ff), (0x10000, 0x1007f)]
    for _ in range(2000):
        text = ''.join(chr(rng.randint(*rng.choice(blocks))) for _ in range(rng.randint(0, 30)))
        assert tokenizer.encode(text) == reference.encode(text), repr(text)


@pytest.mark.parametrize('context_length', [77, 8, 3])
def test_truncation_equals_open_clip(reference, context_length):
    tokenizer = CLIPTokenizer(context_length=context_length)
    texts = ['one two three four five six seven eight nine', 'a', 'word ' * 90, '']
    tokens = tokenizer(texts)
    assert torch.equal(tokens, reference(texts, context_length=context_length))
    assert (tokens[:, 0] == tokenizer.sot_id).all()
    assert tokens[2, -1] == tokenizer.eot_id  # 90 words: truncated, still ends with end-of-text


def test_text_never_produces_special_ids(tokenizer, reference):
    texts = ['<|endoftext|>', 'x<|startoftext|>y', '<end_of_text>', 'x<start_of_text>y']
    for text in texts:
        ids = tokenizer.encode(text)
        assert ids and not {tokenizer.sot_id, tokenizer.eot_id} & set(ids), text
    # open_clip maps its own spellings to the special ids; here they are plain text,
    # tokenised as open_clip tokenises the same pieces
    assert reference.eot_token_id in reference.encode('<end_of_text>')
    assert tokenizer.encode('<end_of_text>') == reference.encode('< end _ of _ text >')
    assert tokenizer.encode('x<start_of_text>y') == reference.encode('x < start _ of _ text > y')
    # the end-of-text id (the text tower pools there) is only at the end
    tokens = tokenizer(texts)
    assert (tokens == tokenizer.eot_id).sum(1).tolist() == [1] * len(texts)


def test_decode_round_trip(tokenizer):
    text = 'a large blue hexagon in the bottom right'
    assert tokenizer.decode(tokenizer(text)[0]) == text


def test_batch_and_argmax_finds_end_token(tokenizer):
    tokens = tokenizer(['a', 'a much longer caption here'])
    assert tokens.argmax(-1).tolist() == [2, 6]
    assert torch.equal(tokens[:, 0], torch.full((2, ), 49406))


def test_pickles_for_spawned_loader_workers():
    tokenizer = CLIPTokenizer(context_length=12)
    tokenizer.encode('warm the cache')
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert copy.context_length == 12 and copy.bpe_path == tokenizer.bpe_path
    assert torch.equal(copy('a photo of a cat'), tokenizer('a photo of a cat'))


def test_built_from_the_tokenizer_registry():
    tokenizer = TOKENIZER.build(dict(type='CLIPTokenizer', context_length=12))
    assert isinstance(tokenizer, CLIPTokenizer) and tokenizer.context_length == 12
    assert MODELS.get('CLIPTokenizer') is not CLIPTokenizer


def test_bad_arguments():
    for bad in (2, 8.0, True):
        with pytest.raises(ValueError, match='context_length must be an integer >= 3'):
            CLIPTokenizer(context_length=bad)
    with pytest.raises(TypeError, match='item 1 is a int'):
        CLIPTokenizer()(['fine', 3])
