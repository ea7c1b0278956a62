"""A randomly initialised tiny Llama (hidden 32, 2 layers) with a tiny byte-level BPE
tokenizer that carries the default model's chat template and special tokens, saved to a
folder: trains in seconds on the CPU and loads wherever --model goes.

The vocabulary is small on purpose: with the default model's 49,152 tokens the embedding
and the logits alone made every optimizer step of this 2-layer model cost about a second on
a loaded 2-core machine; with 400 tokens a step costs a few milliseconds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import skip_or_fail

# The default model's (SmolLM2-135M-Instruct) chat template, as its GGUF metadata holds it;
# a copy, since parsing the GGUF file takes 10 s on a loaded machine.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_CORPUS = [
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    "Solve the problem. Put the final answer in \\boxed{}. What is 12 + 7? The answer is \\boxed{19}.",
    "system user assistant Compute 3 * 4 - 5 = 7. Therefore the final answer is 42.",
    "def f(x):\n    return x + 1\n",
    "0123456789 + - * / ( ) = ? . , ; : ! abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
]


def require_train_stack() -> None:
    for mod in ("trl", "datasets", "torch", "transformers", "peft"):
        if importlib.util.find_spec(mod) is None:
            skip_or_fail("train", f"{mod} not installed (pip install 'verigen[train,transformers]')")


def tiny_tokenizer() -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(_CORPUS * 4, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def save_tiny_llama(folder: Path) -> Path:
    require_train_stack()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,  # type: ignore[arg-type]
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,  # type: ignore[attr-defined]
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))  # type: ignore[attr-defined]
    return folder
