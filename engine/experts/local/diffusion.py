"""Runners for diffusers pipelines: text-to-image, image-to-image, text-to-video.

``DiffusionPipeline.from_pretrained`` reads ``model_index.json`` and builds whatever
pipeline class the folder declares, so one loader serves Stable Diffusion, SDXL,
Kandinsky, ModelScope text-to-video and the rest. A text-to-image checkpoint asked
to do image-to-image is converted with ``AutoPipelineForImage2Image.from_pipe``
(same weights, no second load). ControlNet cards are drawn by the image-to-image
runner of controlnet.py, which extends ``ImageToImage``.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from engine.errors import ExpertError
from engine.experts.local.media import save_image, save_mp4, to_pil
from engine.experts.local.runners import LoadSpec, Runner, image_arg, text_arg
from engine.types import Resource

DEFAULT_STEPS = 25


def _call_params(pipe: Any) -> set[str]:
    return set(inspect.signature(pipe.__call__).parameters)


class DiffusersRunner(Runner):
    family = "diffusers"

    def load(self, spec: LoadSpec) -> Any:
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained(
            spec.source,
            torch_dtype=spec.device.dtype(),
            local_files_only=spec.local_files_only,
        )
        pipe = self.adapt(pipe)
        pipe = pipe.to(spec.device.name)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        return pipe

    def adapt(self, pipe: Any) -> Any:
        return pipe

    @staticmethod
    def kwargs(pipe: Any, steps: int | None) -> dict[str, Any]:
        params = _call_params(pipe)
        out: dict[str, Any] = {}
        if "num_inference_steps" in params:
            out["num_inference_steps"] = steps or DEFAULT_STEPS
        return out


def _first_image(result: Any) -> Any:
    images = getattr(result, "images", None)
    if images is None or len(images) == 0:
        raise ExpertError("the pipeline returned no image")
    return images[0]


class TextToImage(DiffusersRunner):
    task = "text-to-image"
    reads = ("text",)
    outputs = ("image",)

    def run(self, model, task, inputs, ctx, options):
        prompt = text_arg(inputs)
        result = model(prompt, **self.kwargs(model, options.diffusion_steps))
        return [save_image(_first_image(result), ctx, task.id, text=prompt)]


class ImageToImage(DiffusersRunner):
    task = "image-to-image"
    reads = ("image", "text")
    outputs = ("image",)

    def adapt(self, pipe: Any) -> Any:
        if "image" in _call_params(pipe):
            return pipe
        from diffusers import AutoPipelineForImage2Image

        try:
            return AutoPipelineForImage2Image.from_pipe(pipe)
        except ValueError as exc:
            raise ExpertError(f"{type(pipe).__name__} has no image-to-image variant: {exc}") from exc

    def run(self, model, task, inputs, ctx, options):
        image = image_arg(inputs)
        prompt = text_arg(inputs, required=False) or ctx.request_text or ""
        result = model(prompt=prompt, image=image, **self.kwargs(model, options.diffusion_steps))
        return [save_image(_first_image(result), ctx, task.id, text=prompt or None)]


class TextToVideo(DiffusersRunner):
    task = "text-to-video"
    reads = ("text",)
    outputs = ("video",)

    def run(self, model, task, inputs, ctx, options):
        prompt = text_arg(inputs)
        kwargs = self.kwargs(model, options.diffusion_steps)
        if "output_type" in _call_params(model):
            kwargs["output_type"] = "pil"
        if options.video_frames and "num_frames" in _call_params(model):
            kwargs["num_frames"] = options.video_frames
        result = model(prompt, **kwargs)
        frames = getattr(result, "frames", None)
        if frames is None or len(frames) == 0:
            raise ExpertError("the pipeline returned no video frames")
        first = frames[0]  # batch of one
        if isinstance(first, np.ndarray) or hasattr(first, "cpu"):
            arr = np.asarray(first.cpu().float() if hasattr(first, "cpu") else first)
            if arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
                arr = arr.transpose(0, 2, 3, 1)
            first = [to_pil(f) for f in arr]
        video = save_mp4(list(first), ctx, task.id, fps=options.video_fps)
        return [Resource(kind="video", path=video.path, mime=video.mime, text=f"{prompt} ({video.text})")]


DIFFUSERS_RUNNERS: tuple[type[Runner], ...] = (TextToImage, ImageToImage, TextToVideo)
