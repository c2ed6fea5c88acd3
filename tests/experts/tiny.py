"""Builders shared by the tiny-model tests: small random models saved with their tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import T5Config, T5ForConditionalGeneration


def tiny_t5(tok: Any, task_specific_params: dict[str, Any]) -> T5ForConditionalGeneration:
    """A 2-layer T5 over ``tok``'s vocabulary; the task prefix comes from its config."""
    return T5ForConditionalGeneration(
        T5Config(
            vocab_size=tok.vocab_size,
            d_model=32,
            d_ff=37,
            d_kv=8,
            num_layers=2,
            num_heads=2,
            decoder_start_token_id=tok.pad_token_id,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.sep_token_id,
            task_specific_params=task_specific_params,
        )
    )


def save_with_tokenizer(models: dict[str, Any], tok: Any, root: Path) -> None:
    """Each model under ``root/<org>/<name>``, as the local backend's models_dir expects."""
    for name, model in models.items():
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
