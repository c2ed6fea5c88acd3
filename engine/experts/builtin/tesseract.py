"""OCR with Tesseract 5 through pytesseract: reads printed text in images and scans."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Mapping, Sequence

from engine.errors import ExpertError, ExpertTimeout
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.draw import open_rgb
from engine.experts.builtin.resources import path_arg
from engine.types import Resource, Task

NO_TEXT = "No text found in the image."
_MIN_SIDE = 600  # smaller images are upscaled: Tesseract wants ~20 px letters


class TesseractOCR(BuiltinTool):
    tool_id = "builtin/tesseract-ocr"
    task = "image-to-text"
    description = (
        "Tesseract OCR: reads the printed text in an image, screenshot or scanned document "
        "(English). Does not describe pictures."
    )
    licence = "apache-2.0"
    priority = 1  # first for image-to-text: a request to read an image means its text

    def available(self) -> Availability:
        if shutil.which("tesseract") is None:
            return Availability(
                False, "install Tesseract (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)"
            )
        if importlib.util.find_spec("pytesseract") is None:
            return Availability(False, "install the pytesseract package (pip install pytesseract)")
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        import pytesseract

        image = open_rgb(path_arg(inputs, "image")).convert("L")
        if min(image.size) < _MIN_SIDE:
            scale = _MIN_SIDE / min(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        try:
            text = pytesseract.image_to_string(image, lang="eng", timeout=ctx.timeout)
        except RuntimeError as exc:  # pytesseract's timeout
            raise ExpertTimeout(f"tesseract ran past {ctx.timeout:.0f} s") from exc
        except pytesseract.TesseractError as exc:
            raise ExpertError(f"tesseract failed: {exc.message}") from exc
        lines = [line.strip() for line in text.splitlines()]
        text = "\n".join(line for line in lines if line).strip()
        if not text:
            # a failure, not an answer: the scheduler then tries the next image-to-text expert
            # (offline: naming what the photo shows), and the user hears why if none is left
            raise ExpertError(NO_TEXT)
        return [Resource(kind="text", text=text)]
