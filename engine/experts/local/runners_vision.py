"""Vision runners: classification, detection, segmentation, depth, document QA (on
transformers pipelines), captioning and visual QA (on AutoModel classes, since
transformers 5 dropped the image-to-text and VQA pipelines)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from engine.errors import ExpertError
from engine.experts.base import RunContext
from engine.experts.local.media import save_image
from engine.experts.local.runners_base import (
    Loaded,
    LoadSpec,
    PipelineRunner,
    Runner,
    RunOptions,
    image_arg,
    jsonable,
    place,
    text_arg,
    to_device,
    top_labels,
)
from engine.types import Resource

_PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
]


def _count_text(labels: Sequence[str], empty: str) -> str:
    counts = Counter(labels)
    return ", ".join(f"{n} {label}" for label, n in counts.most_common()) or empty


class ImageClassification(PipelineRunner):
    task = "image-classification"
    reads = ("image",)
    outputs = ("text", "json")
    pipeline_task = "image-classification"

    def run(self, model, task, inputs, ctx, options):
        text, labels = top_labels(model(image_arg(inputs), top_k=5))
        return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


class ObjectDetection(PipelineRunner):
    task = "object-detection"
    reads = ("image",)
    outputs = ("image", "text", "json")
    pipeline_task = "object-detection"

    def run(self, model, task, inputs, ctx, options):
        image = image_arg(inputs)
        return detection_outputs(image, jsonable(model(image, threshold=0.5)), ctx, task.id)


def detection_outputs(
    image: Image.Image, boxes: list[dict[str, Any]], ctx: RunContext, task_id: int
) -> list[Resource]:
    """Boxes ``{"label", "score", "box": {xmin, ymin, xmax, ymax}}`` drawn on the image, plus
    a count ("2 cat, 1 remote") and the boxes as JSON (shared with the hosted backend)."""
    drawn = image.copy()
    draw = ImageDraw.Draw(drawn)
    for i, b in enumerate(boxes):
        box, colour = b["box"], _PALETTE[i % len(_PALETTE)]
        draw.rectangle([box["xmin"], box["ymin"], box["xmax"], box["ymax"]], outline=colour, width=3)
        draw.text((box["xmin"] + 3, box["ymin"] + 2), f"{b['label']} {b['score']:.2f}", fill=colour)
    text = _count_text([b["label"] for b in boxes], "no objects found")
    return [
        save_image(drawn, ctx, task_id, text=text, data=boxes),
        Resource(kind="text", text=text),
        Resource(kind="json", data=boxes),
    ]


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
        return [
            save_image(picture, ctx, task.id, text=text, data=info),
            Resource(kind="text", text=text),
            Resource(kind="json", data=info),
        ]


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


# ---------------------------------------------------------------- generate()-driven


def _vision_loader(spec: LoadSpec, auto_names: Sequence[str]) -> Loaded:
    import transformers
    from transformers import AutoConfig, AutoProcessor, ProcessorMixin

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
        processor = None
    if not isinstance(processor, ProcessorMixin):
        # No processor class saved (ViT-GPT2): AutoProcessor gives a bare tokenizer or image
        # processor, which cannot both read the image and decode the generated ids.
        from transformers import AutoImageProcessor, AutoTokenizer

        processor = _ImageAndTokenizer(
            AutoImageProcessor.from_pretrained(spec.source, **kw),
            AutoTokenizer.from_pretrained(spec.source, **kw),
        )
    return Loaded(place(model, spec.device), processor, spec.device, {})


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

    batch = to_device(batch, model.device, model.model)
    with torch.inference_mode():
        out = model.model.generate(**batch, max_new_tokens=options.max_new_tokens)
    prompt_len = (
        batch["input_ids"].shape[1]
        if "input_ids" in batch and not getattr(model.model.config, "is_encoder_decoder", False)
        else 0
    )
    decoder_only = (
        prompt_len
        and out.shape[1] > prompt_len
        and bool((out[0, :prompt_len] == batch["input_ids"][0]).all())
    )
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
            logits = model.model(**to_device(batch, model.device, model.model)).logits
        best = int(logits[0].argmax())
        return [Resource(kind="text", text=str(model.model.config.id2label[best]))]
