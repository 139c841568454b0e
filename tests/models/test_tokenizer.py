import pytest
import torch

from tpc_cma_mm.models import CLIPTokenizer


@pytest.fixture(scope='module')
def tokenizer():
    return CLIPTokenizer(context_length=77)


def test_known_openai_ids(tokenizer):
    # Ids published with OpenAI's CLIP for this prompt (STACK.md, trap 4).
    tokens = tokenizer('a photo of a cat')
    assert tokens.shape == (1, 77)
    assert tokens[0, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokens[0, 7:].eq(0).all()
    assert tokenizer.vocab_size == 49408


@pytest.mark.parametrize('text', [
    'A small RED circle in the top left',
    "It's 2026: naïve café &amp; résumé!!",
    '  multiple   spaces\tand\nnewlines ',
    'supercalifragilisticexpialidocious 12345',
])
def test_matches_reference_bpe(tokenizer, text):
    # clip-anytorch's own tokenizer is an independent implementation of the
    # same published vocabulary.
    from clip.simple_tokenizer import SimpleTokenizer
    assert tokenizer.encode(text) == SimpleTokenizer().encode(text)


def test_truncation_keeps_end_token():
    tokenizer = CLIPTokenizer(context_length=8)
    tokens = tokenizer('one two three four five six seven eight nine')
    assert tokens.shape == (1, 8)
    assert tokens[0, 0] == tokenizer.sot_id and tokens[0, -1] == tokenizer.eot_id


def test_decode_round_trip(tokenizer):
    text = 'a large blue hexagon in the bottom right'
    assert tokenizer.decode(tokenizer(text)[0]) == text


def test_batch_and_argmax_finds_end_token(tokenizer):
    tokens = tokenizer(['a', 'a much longer caption here'])
    assert tokens.argmax(-1).tolist() == [2, 6]
    assert torch.equal(tokens[:, 0], torch.full((2, ), 49406))


def test_bad_context_length():
    with pytest.raises(ValueError, match='context_length'):
        CLIPTokenizer(context_length=2)
