"""Builders shared by the tiny-model tests: small random models saved with their tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import T5Config, T5ForConditionalGeneration


def small_bert_config(tok: Any) -> dict[str, Any]:
    """Keyword arguments of a 2-layer, 32-wide BERT config over ``tok``'s vocabulary."""
    return {
        "vocab_size": tok.vocab_size,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 37,
        "max_position_embeddings": 128,
    }


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


def clip_parts(hidden: int, layers: int) -> tuple[Any, Any]:
    """A character-level CLIP tokenizer built in code and a small random text encoder."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list(" .,!?0123456789")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)
    torch.manual_seed(0)
    encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=hidden,
            intermediate_size=37,
            num_attention_heads=2,
            num_hidden_layers=layers,
            vocab_size=len(vocab),
            projection_dim=32,
        )
    )
    return tokenizer, encoder


def tiny_stable_diffusion() -> Any:
    """A Stable Diffusion 1.x pipeline with 32-channel UNet/VAE/CLIP (VAE scale factor 2)."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    tokenizer, encoder = clip_parts(hidden=32, layers=2)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(clip_sample=False, steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return pipe
