"""ControlNet on Stable Diffusion: HuggingGPT's ``lllyasviel/sd-controlnet-*`` experts.

A ControlNet card (its id contains "controlnet") on task image-to-image is drawn by
``StableDiffusionControlNetPipeline``: the ControlNet weights of the card plus a base
Stable Diffusion model (``base_model``, runwayml/stable-diffusion-v1-5 by default),
both found by the backend's usual rules (``models_dir/<org>/<name>``, the Hugging Face
cache, or the Hub). The input image is first turned into the control map the card's
name implies, then a new image is drawn from that map and the prompt (the task's
``text`` argument, else the request text).

Control maps, with what runs offline (no annotator models):

- canny: real Canny edges (``cv2.Canny``, thresholds 100/200 as in HuggingGPT);
- hed, scribble: OpenCV stand-ins for the HED annotator: a soft Sobel edge map for
  hed, thick binary edge strokes for scribble (a line drawing given as input is used
  as the scribble, inverted to white on black when drawn dark on light);
- mlsd: straight lines found by OpenCV's LSD line-segment detector, a classical
  stand-in for the M-LSD network;
- depth, normal, openpose, seg: no annotator here; the input is used as the control
  map as given (the planner can make one first, e.g. with depth-estimation), and the
  output text says so, with a warning when the input does not look like such a map.

Cards that are not ControlNets go to the plain image-to-image runner this one extends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from engine.experts.local.diffusion import ImageToImage, _first_image
from engine.experts.local.media import save_image
from engine.experts.local.runners import LoadSpec, Runner, image_arg, text_arg

DEFAULT_BASE_MODEL = "runwayml/stable-diffusion-v1-5"
CONTROL_TYPES = ("canny", "depth", "hed", "mlsd", "normal", "openpose", "scribble", "seg")

# Words in a ControlNet's name, mapped to the control map it was trained on.
_NAME_WORDS = {
    "canny": "canny",
    "depth": "depth",
    "hed": "hed",
    "softedge": "hed",
    "mlsd": "mlsd",
    "normal": "normal",
    "normalbae": "normal",
    "openpose": "openpose",
    "pose": "openpose",
    "scribble": "scribble",
    "seg": "seg",
    "segmentation": "seg",
}

# What each passthrough map should be, and the task that can make one from a photo.
_GIVEN = {
    "depth": ("a depth map", "depth-estimation"),
    "normal": ("a normal map", None),
    "openpose": ("an OpenPose skeleton", "pose-estimation"),
    "seg": ("an ADE20K-coloured segmentation map", "image-segmentation"),
    "mlsd": ("a straight-line map", None),
    None: ("a control map", None),
}


def is_controlnet(model_id: str) -> bool:
    return "controlnet" in model_id.lower()


def control_type(model_id: str) -> str | None:
    """The control map a ControlNet's name implies ("canny" for sd-controlnet-canny)."""
    words = re.split(r"[-_./]+", model_id.rsplit("/", 1)[-1].lower())
    for word in reversed(words):
        if word in _NAME_WORDS:
            return _NAME_WORDS[word]
    return None


@dataclass
class ControlNetPipe:
    """A loaded ControlNet pipeline and the control map its ControlNet reads."""

    pipe: Any
    control: str | None
    model_id: str

    @property
    def components(self) -> Mapping[str, Any]:  # what the model cache measures
        return dict(self.pipe.components)


@dataclass(frozen=True)
class ControlMap:
    image: Image.Image
    computed: bool  # False: the input was used as given
    note: str  # how it was made, for the output text


class ControlNetImageToImage(ImageToImage):
    """image-to-image: ControlNet cards drawn on ``base_model``; other cards as ImageToImage."""

    def __init__(
        self,
        base_model: str = DEFAULT_BASE_MODEL,
        max_side: int = 768,
        canny_thresholds: tuple[int, int] = (100, 200),
    ) -> None:
        self.base_model = base_model
        self.max_side = max_side
        self.canny_thresholds = canny_thresholds

    def companions(self, model_id: str) -> tuple[str, ...]:
        return (self.base_model,) if is_controlnet(model_id) else ()

    def load(self, spec: LoadSpec) -> Any:
        if not is_controlnet(spec.model_id):
            return super().load(spec)
        from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

        base = spec.companions.get(self.base_model) or LoadSpec(
            self.base_model, spec.device, local_files_only=spec.local_files_only, model_id=self.base_model
        )
        dtype = spec.device.dtype()
        controlnet = ControlNetModel.from_pretrained(
            spec.source, torch_dtype=dtype, local_files_only=spec.local_files_only
        )
        pipe = StableDiffusionControlNetPipeline.from_pretrained(
            base.source, controlnet=controlnet, torch_dtype=dtype, local_files_only=base.local_files_only
        )
        pipe = pipe.to(spec.device.name)
        pipe.set_progress_bar_config(disable=True)
        return ControlNetPipe(pipe, control_type(spec.model_id), spec.model_id)

    def run(self, model, task, inputs, ctx, options):
        if not isinstance(model, ControlNetPipe):
            return super().run(model, task, inputs, ctx, options)
        image = fit_size(image_arg(inputs), self.max_side)
        prompt = text_arg(inputs, required=False) or ctx.request_text or ""
        control = self.control_map(model.control, image)
        width, height = control.image.size
        result = model.pipe(
            prompt=prompt,
            image=control.image,
            height=height,
            width=width,
            **self.kwargs(model.pipe, options.diffusion_steps),
        )
        drawn = _first_image(result)
        control_file = ctx.new_path(task.id, ".png")
        control.image.save(control_file, format="PNG")
        data = {
            "model": model.model_id,
            "base_model": self.base_model,
            "control": model.control,
            "control_map": str(control_file),
            "control_computed": control.computed,
            "control_note": control.note,
            "prompt": prompt,
        }
        text = f"{prompt} ({control.note})" if prompt else control.note
        return [save_image(drawn, ctx, task.id, text=text, data=data)]

    def control_map(self, control: str | None, image: Image.Image) -> ControlMap:
        """The control map for ``control`` made from ``image`` (RGB), or ``image`` as given."""
        rgb = np.asarray(image.convert("RGB"))
        gray = _gray(rgb)
        if control in ("canny", "scribble", "hed"):
            drawing = _as_line_drawing(gray)
            if drawing is not None and control != "hed":
                return ControlMap(
                    _rgb(drawing), False, f"the input line drawing was used as the {control} map"
                )
        if control == "canny":
            low, high = self.canny_thresholds
            return ControlMap(_rgb(canny_edges(gray, low, high)), True, f"Canny edges (OpenCV, {low}/{high})")
        if control == "hed":
            return ControlMap(
                _rgb(soft_edges(gray)), True, "soft edges from OpenCV Sobel filters (no HED model)"
            )
        if control == "scribble":
            return ControlMap(
                _rgb(scribble_lines(gray)), True, "scribble strokes from OpenCV edges (no HED model)"
            )
        if control == "mlsd":
            lines = straight_lines(gray)
            if lines is not None:
                return ControlMap(
                    _rgb(lines), True, "straight lines from OpenCV's LSD detector (no M-LSD model)"
                )
        return self._given(control, rgb)

    @staticmethod
    def _given(control: str | None, rgb: np.ndarray) -> ControlMap:
        what, maker = _GIVEN.get(control, _GIVEN[None])
        note = f"the input was used as {what} as given; there is no {control or 'control'} annotator here"
        if not looks_like(control, rgb):
            hint = f"; run {maker} first to make one from a photo" if maker else ""
            note += f"; it does not look like {what}, so expect a loose result{hint}"
        return ControlMap(Image.fromarray(rgb), False, note)


# ---------------------------------------------------------------- control maps (OpenCV)


def _cv2() -> Any:
    import cv2

    return cv2


def _gray(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(_cv2().cvtColor(rgb, _cv2().COLOR_RGB2GRAY))


def _rgb(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(np.stack([gray] * 3, axis=-1).astype(np.uint8))


def fit_size(image: Image.Image, max_side: int, multiple: int = 8) -> Image.Image:
    """``image`` scaled down to at most ``max_side`` on its long side, both sides a
    multiple of ``multiple`` (what Stable Diffusion's VAE and UNet divide by)."""
    width, height = image.size
    scale = min(1.0, max_side / max(width, height))
    w = max(multiple, int(width * scale) // multiple * multiple)
    h = max(multiple, int(height * scale) // multiple * multiple)
    return image if (w, h) == (width, height) else image.resize((w, h), Image.Resampling.LANCZOS)


def canny_edges(gray: np.ndarray, low: int = 100, high: int = 200) -> np.ndarray:
    return np.asarray(_cv2().Canny(gray, low, high))


def soft_edges(gray: np.ndarray) -> np.ndarray:
    """Soft edge strength 0-255 (white edges on black), blurred Sobel gradient magnitude."""
    cv2 = _cv2()
    sigma = max(1.0, min(gray.shape) / 256)
    blurred = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), sigma)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    top = float(np.percentile(magnitude, 99)) or 1.0
    return (np.clip(magnitude / top, 0.0, 1.0) ** 0.8 * 255).astype(np.uint8)


def scribble_lines(gray: np.ndarray) -> np.ndarray:
    """Thick binary strokes (white on black) along the main edges, as ControlNet's
    scribble annotator draws them (HED edges, thresholded and thickened)."""
    cv2 = _cv2()
    sigma = max(1.5, min(gray.shape) / 200)
    blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
    otsu, _ = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    edges = cv2.Canny(blurred, 0.5 * otsu, otsu)
    thick = cv2.GaussianBlur(edges, (0, 0), 3.0)
    return np.where(thick > 4, 255, 0).astype(np.uint8)


def straight_lines(gray: np.ndarray) -> np.ndarray | None:
    """Long straight segments drawn white on black (LSD), or None without LSD in this OpenCV."""
    cv2 = _cv2()
    if not hasattr(cv2, "createLineSegmentDetector"):
        return None
    found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(gray)[0]
    out = np.zeros_like(gray)
    min_length = 0.03 * float(np.hypot(*gray.shape))
    for x1, y1, x2, y2 in [] if found is None else found.reshape(-1, 4):
        if np.hypot(x2 - x1, y2 - y1) >= min_length:
            cv2.line(out, (round(x1), round(y1)), (round(x2), round(y2)), 255, 1, cv2.LINE_AA)
    return out


def _as_line_drawing(gray: np.ndarray) -> np.ndarray | None:
    """A line drawing or edge map given as input (nearly all pixels black or white, the
    lines a minority), as white lines on black; None for anything else (a photo)."""
    binary = float(np.mean((gray < 40) | (gray > 215)))
    if binary < 0.97:
        return None
    light = float(np.mean(gray > 127))
    if 0.02 <= light <= 0.35:  # white lines on black already
        return np.where(gray > 127, 255, 0).astype(np.uint8)
    if 0.65 <= light <= 0.98:  # dark lines on a light page
        return np.where(gray > 127, 0, 255).astype(np.uint8)
    return None


def looks_like(control: str | None, rgb: np.ndarray) -> bool:
    """A rough check that ``rgb`` is the kind of map ``control`` reads (not a photo)."""
    small = np.asarray(Image.fromarray(rgb).resize((64, 64), Image.Resampling.NEAREST)).astype(np.int16)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    if control == "depth":  # grey levels
        return float(np.mean(np.abs(r - g) + np.abs(g - b))) < 6
    if control == "normal":  # blue-purple: z up
        return float(b.mean()) > 1.15 * max(float(r.mean()), float(g.mean()))
    if control == "openpose":  # coloured limbs on black
        return float(np.mean(small.max(axis=-1) < 20)) > 0.75
    if control in ("seg", None):  # flat regions of few colours
        colours, counts = np.unique(small.reshape(-1, 3), axis=0, return_counts=True)
        return len(colours) <= 64 or float(np.sort(counts)[-32:].sum()) / counts.sum() > 0.95
    if control == "mlsd":  # thin white lines on black
        return float(np.mean(small.max(axis=-1) < 40)) > 0.8
    return True


CONTROLNET_RUNNERS: tuple[type[Runner], ...] = (ControlNetImageToImage,)

__all__ = [
    "CONTROLNET_RUNNERS",
    "CONTROL_TYPES",
    "DEFAULT_BASE_MODEL",
    "ControlMap",
    "ControlNetImageToImage",
    "ControlNetPipe",
    "canny_edges",
    "control_type",
    "is_controlnet",
    "looks_like",
    "scribble_lines",
    "soft_edges",
    "straight_lines",
]
