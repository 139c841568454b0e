# A small caption decoder (2 layers, width 128) conditioned on a 64-d CLIP
# embedding through 4 prefix tokens. tools/eval_caption.py sets embed_dim,
# context_length and vocab (the BPE ids of the training captions) from the data.
model = dict(
    type='CaptionDecoder',
    # Built in this plugin's scope by any caller, e.g. mmpretrain.get_model and its tools,
    # which build in the 'mmpretrain' scope (docs/pitfalls.md, "mmpretrain's get_model").
    _scope_='tpc_cma_mm',
    embed_dim=64,
    width=128,
    num_layers=2,
    num_heads=4,
    prefix_length=4,
    context_length=32,
    vocab=None,
    noise_std=0.0,  # CapDec noise injection (std); 0 = off
    beam_size=1,  # 1 = greedy decoding
    length_penalty=1.0,
)
