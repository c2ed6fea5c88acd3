"""Runners: one per task type, turning a loaded model's output into typed Resources.

A runner says how to load a model for its task (``load``, blocking, in a worker
thread) and how to run it on resolved inputs (``run``, blocking too). Each declares
the argument names it reads and the resource kinds it returns; both are checked
against engine/tasks.py when the class is defined, so a runner cannot drift from
the task table the planner and scheduler use.

transformers 5 dropped several pipelines HuggingGPT relies on (summarization,
translation, text2text, extractive QA, image captioning, VQA); those runners drive
the ``AutoModelFor...`` classes directly. Diffusers runners live in diffusion.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw

from engine.errors import ExpertError, InputError
from engine.experts.base import RunContext
from engine.experts.local.device import Device
from engine.experts.local.media import load_audio, open_image, save_image, save_wav
from engine.tasks import TASK_SPECS
from engine.types import Resource, ResourceKind, Task

MAX_NEW_TOKENS = 128


@dataclass(frozen=True)
class LoadSpec:
    """Where a model's files are (a folder or a hub id) and how to place it. Offline, the
    backend resolves a hub id to its cached snapshot folder, so loaders never need the
    network (transformers' ``pipeline(local_files_only=...)`` leaks the flag into
    ``generate``, so pipelines do not get it)."""

    source: str
    device: Device
    local_files_only: bool = False


@dataclass(frozen=True)
class RunOptions:
    """Knobs the backend passes down (a tiny test model wants 2 diffusion steps)."""

    diffusion_steps: int | None = None
    max_new_tokens: int = MAX_NEW_TOKENS
    video_fps: int = 8
    video_frames: int | None = None  # None: the pipeline's default


class Runner(ABC):
    task: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]  # argument names it uses, as in TASK_SPECS
    outputs: ClassVar[tuple[ResourceKind, ...]]
    family: ClassVar[str] = "transformers"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "task", None) is None:
            return  # an abstract helper base
        spec = TASK_SPECS.get(cls.task)
        if spec is None:
            raise TypeError(f"{cls.__name__}.task={cls.task!r} is not a task type in engine/tasks.py")
        unknown = [a for a in cls.reads if a not in spec.input_kinds]
        if unknown:
            raise TypeError(f"{cls.__name__} reads {unknown}, not arguments of {cls.task}")
        if not set(cls.outputs) <= set(spec.outputs):
            raise TypeError(f"{cls.__name__} returns {cls.outputs}; {cls.task} outputs {spec.outputs}")

    @abstractmethod
    def load(self, spec: LoadSpec) -> Any:
        """Blocking: build the model object (called once, then cached)."""

    @abstractmethod
    def run(self, model: Any, task: Task, inputs: Mapping[str, Resource], ctx: RunContext,
            options: RunOptions) -> Sequence[Resource]:
        """Blocking: run on resolved inputs and return resources of the declared kinds."""


def text_arg(inputs: Mapping[str, Resource], name: str = "text", required: bool = True) -> str | None:
    res = inputs.get(name)
    if res is None or (res.text is None and res.kind != "json"):
        if required:
            raise InputError(f"this task needs a {name!r} text argument")
        return None
    return res.text if res.text is not None else res.describe()


def image_arg(inputs: Mapping[str, Resource], name: str = "image") -> Image.Image:
    res = inputs.get(name)
    if res is None:
        raise InputError(f"this task needs an {name!r} argument")
    return open_image(res)


def jsonable(value: Any) -> Any:
    """Pipeline outputs with numpy/torch scalars and PIL images made JSON-safe."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if not isinstance(v, Image.Image)}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    if hasattr(value, "item") and callable(value.item):
        return jsonable(value.item())
    return value


# ---------------------------------------------------------------- transformers pipelines


class PipelineRunner(Runner):
    """A runner backed by ``transformers.pipeline(pipeline_task, model=...)``."""

    pipeline_task: ClassVar[str]
    pipeline_kwargs: ClassVar[Mapping[str, Any]] = {}

    def load(self, spec: LoadSpec) -> Any:
        from transformers import pipeline

        return pipeline(  # type: ignore[call-overload]
            self.pipeline_task, model=spec.source, device=spec.device.pipeline_device(),
            dtype=spec.device.dtype(), **self.pipeline_kwargs,
        )


def labels_outputs(results: Any) -> list[Resource]:
    """``[{"label", "score"}, ...]`` as a text line of the top five and their JSON."""
    text, labels = _labels(results)
    return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


def _labels(results: Any) -> tuple[str, list[dict[str, Any]]]:
    items = results[0] if results and isinstance(results[0], list) else results
    items = jsonable(list(items))
    items.sort(key=lambda r: -r.get("score", 0))
    text = ", ".join(f"{r['label']} ({r['score']:.2f})" for r in items[:5])
    return text, items[:5]


class TextClassification(PipelineRunner):
    task = "text-classification"
    reads = ("text",)
    outputs = ("text", "json")
    pipeline_task = "text-classification"

    def run(self, model, task, inputs, ctx, options):
        text, labels = _labels(model(text_arg(inputs), top_k=None))
        return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


class TokenClassification(PipelineRunner):
    task = "token-classification"
    reads = ("text",)
    outputs = ("text", "json")
    pipeline_task = "token-classification"
    pipeline_kwargs = {"aggregation_strategy": "simple"}

    def run(self, model, task, inputs, ctx, options):
        entities = jsonable(model(text_arg(inputs)))
        text = "; ".join(f"{e.get('word', '').strip()}: {e.get('entity_group', e.get('entity'))}"
                         for e in entities) or "no entities found"
        return [Resource(kind="text", text=text), Resource(kind="json", data=entities)]


class TextGeneration(PipelineRunner):
    task = "text-generation"
    reads = ("text",)
    outputs = ("text",)
    pipeline_task = "text-generation"

    def run(self, model, task, inputs, ctx, options):
        prompt = text_arg(inputs)
        out = model(prompt, max_new_tokens=options.max_new_tokens, do_sample=False)
        return [Resource(kind="text", text=str(out[0]["generated_text"]))]


class ImageClassification(PipelineRunner):
    task = "image-classification"
    reads = ("image",)
    outputs = ("text", "json")
    pipeline_task = "image-classification"

    def run(self, model, task, inputs, ctx, options):
        text, labels = _labels(model(image_arg(inputs), top_k=5))
        return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
            (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def _count_text(labels: Sequence[str], empty: str) -> str:
    counts = Counter(labels)
    return ", ".join(f"{n} {label}" for label, n in counts.most_common()) or empty


class ObjectDetection(PipelineRunner):
    task = "object-detection"
    reads = ("image",)
    outputs = ("image", "text", "json")
    pipeline_task = "object-detection"

    def run(self, model, task, inputs, ctx, options):
        image = image_arg(inputs)
        return detection_outputs(image, jsonable(model(image, threshold=0.5)), ctx, task.id)


def detection_outputs(image: Image.Image, boxes: list[dict[str, Any]], ctx: RunContext,
                      task_id: int) -> list[Resource]:
    """Boxes ``{"label", "score", "box": {xmin, ymin, xmax, ymax}}`` drawn on the image, plus
    a count ("2 cat, 1 remote") and the boxes as JSON (shared with the hosted backend)."""
    drawn = image.copy()
    draw = ImageDraw.Draw(drawn)
    for i, b in enumerate(boxes):
        box, colour = b["box"], _PALETTE[i % len(_PALETTE)]
        draw.rectangle([box["xmin"], box["ymin"], box["xmax"], box["ymax"]], outline=colour, width=3)
        draw.text((box["xmin"] + 3, box["ymin"] + 2), f"{b['label']} {b['score']:.2f}", fill=colour)
    text = _count_text([b["label"] for b in boxes], "no objects found")
    return [save_image(drawn, ctx, task_id, text=text, data=boxes),
            Resource(kind="text", text=text), Resource(kind="json", data=boxes)]


class ImageSegmentation(PipelineRunner):
    task = "image-segmentation"
    reads = ("image",)
    outputs = ("image", "text", "json")
    pipeline_task = "image-segmentation"

    def run(self, model, task, inputs, ctx, options):
        image = image_arg(inputs)
        segments = model(image)
        overlay = np.asarray(image, dtype=np.float32).copy()
        for i, seg in enumerate(segments):
            mask = np.asarray(seg["mask"].resize(image.size)) > 127
            overlay[mask] = overlay[mask] * 0.5 + np.array(_PALETTE[i % len(_PALETTE)]) * 0.5
        info = [{"label": s.get("label"), "score": jsonable(s.get("score"))} for s in segments]
        text = _count_text([str(s["label"]) for s in info], "no regions found")
        picture = Image.fromarray(overlay.clip(0, 255).astype(np.uint8))
        return [save_image(picture, ctx, task.id, text=text, data=info),
                Resource(kind="text", text=text), Resource(kind="json", data=info)]


class DepthEstimation(PipelineRunner):
    task = "depth-estimation"
    reads = ("image",)
    outputs = ("image",)
    pipeline_task = "depth-estimation"

    def run(self, model, task, inputs, ctx, options):
        out = model(image_arg(inputs))
        return [save_image(out["depth"], ctx, task.id, text="depth map (brighter is nearer)")]


class DocumentQuestionAnswering(PipelineRunner):
    task = "document-question-answering"
    reads = ("image", "text")
    outputs = ("text",)
    pipeline_task = "document-question-answering"

    def run(self, model, task, inputs, ctx, options):
        out = model(image=image_arg(inputs), question=text_arg(inputs))
        best = out[0] if isinstance(out, list) and out else out
        if not best or not best.get("answer"):
            return [Resource(kind="text", text="no answer found in the document")]
        return [Resource(kind="text", text=str(best["answer"]).strip())]


class SpeechRecognition(PipelineRunner):
    task = "automatic-speech-recognition"
    reads = ("audio",)
    outputs = ("text",)
    pipeline_task = "automatic-speech-recognition"

    def run(self, model, task, inputs, ctx, options):
        rate = getattr(model.feature_extractor, "sampling_rate", 16000)
        audio = load_audio(_required(inputs, "audio"), rate)
        out = model({"raw": audio, "sampling_rate": rate}, chunk_length_s=30)
        return [Resource(kind="text", text=str(out["text"]).strip())]


class AudioClassification(PipelineRunner):
    task = "audio-classification"
    reads = ("audio",)
    outputs = ("text", "json")
    pipeline_task = "audio-classification"

    def run(self, model, task, inputs, ctx, options):
        rate = getattr(model.feature_extractor, "sampling_rate", 16000)
        audio = load_audio(_required(inputs, "audio"), rate)
        text, labels = _labels(model({"raw": audio, "sampling_rate": rate}, top_k=5))
        return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


class TextToSpeech(PipelineRunner):
    task = "text-to-speech"
    reads = ("text",)
    outputs = ("audio",)
    pipeline_task = "text-to-audio"

    def run(self, model, task, inputs, ctx, options):
        out = model(text_arg(inputs))
        return [save_wav(out["audio"], out["sampling_rate"], ctx, task.id)]


def _required(inputs: Mapping[str, Resource], name: str) -> Resource:
    res = inputs.get(name)
    if res is None:
        raise InputError(f"this task needs an {name!r} argument")
    return res


# ---------------------------------------------------------------- AutoModel runners


@dataclass
class Loaded:
    """A model with its pre/post-processor, for runners that drive AutoModel classes."""

    model: Any
    processor: Any
    device: Device
    extra: Mapping[str, Any]


def _place(model: Any, device: Device) -> Any:
    model = model.to(device.name)
    model.eval()
    return model


def _to_device(batch: Any, device: Device, model: Any) -> Any:
    import torch

    batch = batch.to(device.name)
    dtype = getattr(model, "dtype", None)
    if dtype is not None and dtype != torch.float32:
        for key, value in batch.items():
            if torch.is_tensor(value) and value.is_floating_point():
                batch[key] = value.to(dtype)
    return batch


class Seq2SeqRunner(Runner):
    """Encoder-decoder models (T5, BART, Marian, Pegasus) with ``generate``; a decoder-only
    model is prompted with an instruction instead. T5-style task prefixes come from
    the config's ``task_specific_params``."""

    params_prefix: ClassVar[str] = ""
    instruction: ClassVar[str] = ""
    reads = ("text",)
    outputs = ("text",)

    def load(self, spec: LoadSpec) -> Any:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        kw = {"local_files_only": spec.local_files_only}
        config = AutoConfig.from_pretrained(spec.source, **kw)
        cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        model = _place(cls.from_pretrained(spec.source, dtype=spec.device.dtype(), **kw), spec.device)
        tokenizer = AutoTokenizer.from_pretrained(spec.source, **kw)
        params = getattr(config, "task_specific_params", None) or {}
        chosen: dict[str, Any] = next((v for k, v in params.items() if k.startswith(self.params_prefix)), {}) \
            if self.params_prefix else {}
        return Loaded(model, tokenizer, spec.device, {"prefix": chosen.get("prefix", ""),
                                                      "seq2seq": config.is_encoder_decoder})

    def run(self, model: Loaded, task, inputs, ctx, options):
        import torch

        text = text_arg(inputs) or ""
        tok = model.processor
        prompt = model.extra["prefix"] + text if model.extra["seq2seq"] else f"{self.instruction}{text}\n"
        enc = tok(prompt, return_tensors="pt", truncation=True)
        enc.pop("token_type_ids", None)  # BERT-style tokenizers add them; generate() refuses them
        batch = _to_device(enc, model.device, model.model)
        with torch.inference_mode():
            out = model.model.generate(**batch, max_new_tokens=options.max_new_tokens)
        if not model.extra["seq2seq"]:
            out = out[:, batch["input_ids"].shape[1]:]
        return [Resource(kind="text", text=tok.decode(out[0], skip_special_tokens=True).strip())]


class Text2Text(Seq2SeqRunner):
    task = "text2text-generation"
    instruction = "Rewrite the following text:\n"


class Summarization(Seq2SeqRunner):
    task = "summarization"
    params_prefix = "summarization"
    instruction = "Summarize the following text:\n"


class Translation(Seq2SeqRunner):
    task = "translation"
    params_prefix = "translation"
    instruction = "Translate the following text into English:\n"


class QuestionAnswering(Runner):
    """Extractive QA: the best span of the context (start <= end, at most 30 tokens)."""

    task = "question-answering"
    reads = ("text", "context")
    outputs = ("text",)

    def load(self, spec: LoadSpec) -> Any:
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        kw = {"local_files_only": spec.local_files_only}
        model = AutoModelForQuestionAnswering.from_pretrained(spec.source, dtype=spec.device.dtype(), **kw)
        return Loaded(_place(model, spec.device), AutoTokenizer.from_pretrained(spec.source, **kw),
                      spec.device, {})

    def run(self, model: Loaded, task, inputs, ctx, options):
        import torch

        question = text_arg(inputs) or ""
        context = text_arg(inputs, "context", required=False) or ctx.request_text
        if not context:
            raise InputError("question-answering needs a context text to find the answer in")
        enc = model.processor(question, context, truncation="only_second", max_length=512,
                              return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        in_context = [s == 1 for s in enc.sequence_ids(0)]
        with torch.inference_mode():
            out = model.model(**_to_device(enc, model.device, model.model))
        start = out.start_logits[0].float().cpu().numpy()
        end = out.end_logits[0].float().cpu().numpy()
        best, span = -np.inf, None
        for i in np.argsort(start)[::-1][:20]:
            if not in_context[i]:
                continue
            for j in range(i, min(i + 30, len(end))):
                if in_context[j] and start[i] + end[j] > best:
                    best, span = start[i] + end[j], (offsets[i][0], offsets[j][1])
        if span is None:
            return [Resource(kind="text", text="no answer found in the context")]
        return [Resource(kind="text", text=context[span[0]:span[1]].strip())]


class SentenceSimilarity(Runner):
    """Cosine similarity of two sentence embeddings (sentence-transformers pooling when the
    folder declares it, mean pooling of a plain encoder otherwise)."""

    task = "sentence-similarity"
    reads = ("text", "text2")
    outputs = ("text", "json")

    def load(self, spec: LoadSpec) -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(spec.source, device=spec.device.name,
                                   local_files_only=spec.local_files_only)

    def run(self, model, task, inputs, ctx, options):
        first, second = text_arg(inputs), text_arg(inputs, "text2")
        vectors = model.encode([first, second], normalize_embeddings=True, convert_to_numpy=True)
        score = float(np.dot(vectors[0], vectors[1]))
        return [Resource(kind="text", text=f"similarity {score:.3f} (cosine, -1 to 1)"),
                Resource(kind="json", data={"score": round(score, 4)})]


def _vision_loader(spec: LoadSpec, auto_names: Sequence[str]) -> Loaded:
    import transformers
    from transformers import AutoConfig, AutoProcessor

    kw = {"local_files_only": spec.local_files_only}
    config = AutoConfig.from_pretrained(spec.source, **kw)
    names = list(auto_names)
    if config.model_type == "vision-encoder-decoder":
        names.insert(0, "VisionEncoderDecoderModel")
    last: Exception | None = None
    for name in names:
        cls = getattr(transformers, name, None)
        if cls is None:
            continue
        try:
            model = cls.from_pretrained(spec.source, dtype=spec.device.dtype(), **kw)
            break
        except (ValueError, KeyError) as exc:  # this Auto class does not map the architecture
            last = exc
    else:
        raise ExpertError(f"transformers cannot load {spec.source} as {' or '.join(names)}: {last}")
    try:
        processor = AutoProcessor.from_pretrained(spec.source, **kw)
    except (OSError, ValueError, KeyError):
        from transformers import AutoImageProcessor, AutoTokenizer

        processor = _ImageAndTokenizer(AutoImageProcessor.from_pretrained(spec.source, **kw),
                                       AutoTokenizer.from_pretrained(spec.source, **kw))
    return Loaded(_place(model, spec.device), processor, spec.device, {})


class _ImageAndTokenizer:
    """An image processor and tokenizer behaving like one processor (ViT-GPT2 captioners)."""

    def __init__(self, image_processor: Any, tokenizer: Any) -> None:
        self.image_processor, self.tokenizer = image_processor, tokenizer

    def __call__(self, images: Any = None, text: Any = None, return_tensors: str = "pt") -> Any:
        batch = self.image_processor(images=images, return_tensors=return_tensors)
        if text is not None:
            batch.update(self.tokenizer(text, return_tensors=return_tensors))
        return batch

    def batch_decode(self, ids: Any, **kw: Any) -> list[str]:
        return self.tokenizer.batch_decode(ids, **kw)


def _generate_text(model: Loaded, batch: Any, options: RunOptions) -> str:
    import torch

    batch = _to_device(batch, model.device, model.model)
    with torch.inference_mode():
        out = model.model.generate(**batch, max_new_tokens=options.max_new_tokens)
    prompt_len = batch["input_ids"].shape[1] if "input_ids" in batch and \
        not getattr(model.model.config, "is_encoder_decoder", False) else 0
    decoder_only = prompt_len and out.shape[1] > prompt_len and \
        bool((out[0, :prompt_len] == batch["input_ids"][0]).all())
    if decoder_only:
        out = out[:, prompt_len:]
    return str(model.processor.batch_decode(out, skip_special_tokens=True)[0]).strip()


class ImageToText(Runner):
    """Captioning with generate(): BLIP, GIT, ViT-GPT2 and image-text-to-text models."""

    task = "image-to-text"
    reads = ("image",)
    outputs = ("text",)

    def load(self, spec: LoadSpec) -> Any:
        return _vision_loader(spec, ["AutoModelForImageTextToText"])

    def run(self, model: Loaded, task, inputs, ctx, options):
        batch = model.processor(images=image_arg(inputs), return_tensors="pt")
        return [Resource(kind="text", text=_generate_text(model, batch, options) or "(no caption)")]


class VisualQuestionAnswering(Runner):
    """ViLT-style classifiers answer with a label; BLIP-style models generate the answer."""

    task = "visual-question-answering"
    reads = ("image", "text")
    outputs = ("text",)

    def load(self, spec: LoadSpec) -> Any:
        return _vision_loader(spec, ["AutoModelForVisualQuestionAnswering", "AutoModelForImageTextToText"])

    def run(self, model: Loaded, task, inputs, ctx, options):
        import torch

        batch = model.processor(images=image_arg(inputs), text=text_arg(inputs), return_tensors="pt")
        if model.model.can_generate():
            return [Resource(kind="text", text=_generate_text(model, batch, options))]
        with torch.inference_mode():
            logits = model.model(**_to_device(batch, model.device, model.model)).logits
        best = int(logits[0].argmax())
        return [Resource(kind="text", text=str(model.model.config.id2label[best]))]


TRANSFORMERS_RUNNERS: tuple[type[Runner], ...] = (
    TextClassification, TokenClassification, Text2Text, Summarization, Translation, QuestionAnswering,
    TextGeneration, SentenceSimilarity, ImageToText, ImageClassification, ObjectDetection,
    ImageSegmentation, DepthEstimation, VisualQuestionAnswering, DocumentQuestionAnswering,
    SpeechRecognition, AudioClassification, TextToSpeech,
)
