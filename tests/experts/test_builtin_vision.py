"""Vision tools on real pictures: OCR, ImageNet classification, faces, pose, masks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from engine.errors import ExpertError
from engine.experts.builtin.efficientnet import EfficientNetDescribe, EfficientNetLite0
from engine.experts.builtin.mediapipe_face import MediaPipeFace
from engine.experts.builtin.mediapipe_pose import MediaPipePose
from engine.experts.builtin.mediapipe_segment import MediaPipeSegment
from engine.experts.builtin.opencv_cascade import OpenCVCascade
from engine.experts.builtin.tesseract import NO_TEXT, TesseractOCR
from engine.types import Resource, Task
from tests.experts.builtin_helpers import image_file, require, run_tool, skimage_photo, text_image


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    blank = folder / "blank.png"
    Image.new("RGB", (320, 240), (200, 210, 220)).save(blank)
    return {
        "astronaut": skimage_photo("astronaut", folder),
        "coffee": skimage_photo("coffee", folder),
        "blank": blank,
    }


def test_ocr_reads_rendered_words(tmp_path: Path) -> None:
    tool = require(TesseractOCR())
    page = text_image(["Invoice number 4711", "Total due: 93 EUR"], tmp_path / "page.png")
    [out] = run_tool(tool, tmp_path, {"image": image_file(page)})
    assert "Invoice number 4711" in out.text
    assert "93 EUR" in out.text


def test_ocr_without_text_fails_so_the_next_expert_is_tried(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(TesseractOCR())
    with pytest.raises(ExpertError, match=NO_TEXT):
        run_tool(tool, tmp_path, {"image": image_file(photos["blank"])})


def test_describe_names_what_a_photo_shows(tmp_path: Path, photos: dict[str, Path]) -> None:
    classifier = require(EfficientNetLite0())
    [out] = run_tool(EfficientNetDescribe(classifier), tmp_path, {"image": image_file(photos["coffee"])})
    assert out.kind == "text" and out.text.startswith("a photo of an espresso")


async def test_image_to_text_on_a_photo_falls_back_from_ocr_to_describing(tmp_path: Path, photos) -> None:
    """Through the real selector and scheduler: OCR first (priority), no text, then the
    photo is described."""
    from engine.catalogue import Catalogue
    from engine.experts.builtin.backend import BuiltinBackend
    from engine.experts.builtin.registry import default_tools
    from engine.scheduler import Scheduler
    from engine.selector import Selector
    from engine.types import Plan

    backend = BuiltinBackend(default_tools())
    selector = Selector(Catalogue([]), {"builtin": backend})
    assert [c.id for c in selector.candidates("image-to-text")][:2] == [
        "builtin/tesseract-ocr",
        "builtin/efficientnet-lite0-describe",
    ]
    photo = Resource(kind="image", path=photos["coffee"], name="coffee.png")
    plan = Plan((Task(id=0, task="image-to-text", args={"image": "coffee.png"}),))
    options, _ = await selector.select(plan, None)
    roots = [photos["coffee"].parent]  # the user's file lies inside the request's folders
    [result] = await Scheduler({"builtin": backend}, 60).execute(plan, options, [photo], roots, tmp_path)
    await backend.aclose()
    assert result.status == "ok" and result.card.id == "builtin/efficientnet-lite0-describe"
    assert result.outputs[0].text.startswith("a photo of an espresso")


def test_classification_names_the_espresso(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(EfficientNetLite0())
    summary, data = run_tool(tool, tmp_path, {"image": image_file(photos["coffee"])})
    predictions = data.data["predictions"]
    assert len(predictions) == 5
    assert predictions[0]["label"] == "espresso" and predictions[0]["score"] > 0.5
    assert "espresso" in summary.text


def test_mediapipe_finds_the_astronauts_face(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(MediaPipeFace())
    image, summary, data = run_tool(tool, tmp_path, {"image": image_file(photos["astronaut"])})
    assert summary.text == "1 face"
    [face] = data.data["detections"]
    left, top, right, bottom = face["box"]
    # Her face sits in the upper middle of the 512 x 512 photo.
    assert 150 < (left + right) / 2 < 300 and 50 < (top + bottom) / 2 < 150
    assert face["score"] > 0.8
    assert Image.open(image.path).size == (512, 512)
    assert image.text == "1 face"
    json.dumps(data.data)


def test_mediapipe_face_on_an_empty_picture(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(MediaPipeFace())
    _, summary, data = run_tool(tool, tmp_path, {"image": image_file(photos["blank"])})
    assert summary.text == "no faces found" and data.data["detections"] == []


def test_opencv_cascade_finds_a_face(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(OpenCVCascade())
    image, summary, data = run_tool(tool, tmp_path, {"image": image_file(photos["astronaut"])})
    faces = [d for d in data.data["detections"] if d["label"] == "face"]
    assert len(faces) >= 1
    assert "face" in summary.text
    original = Image.open(photos["astronaut"]).convert("RGB")
    assert list(Image.open(image.path).convert("RGB").getdata()) != list(original.getdata())  # boxes drawn


def test_pose_draws_a_skeleton(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(MediaPipePose())
    image, summary, data = run_tool(tool, tmp_path, {"image": image_file(photos["astronaut"])})
    assert data.data["people"] == 1
    points = {k["name"]: k for k in data.data["keypoints"]}
    assert len(points) == 33
    assert points["nose"]["y"] < points["left_shoulder"]["y"]  # head above shoulders
    assert summary.text.startswith("1 person")
    original = Image.open(photos["astronaut"]).convert("RGB")
    assert list(Image.open(image.path).convert("RGB").getdata()) != list(original.getdata())


def test_pose_without_a_person(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(MediaPipePose())
    _, summary, data = run_tool(tool, tmp_path, {"image": image_file(photos["blank"])})
    assert summary.text == "no person found" and data.data["people"] == 0


def test_segmentation_masks_the_person(tmp_path: Path, photos: dict[str, Path]) -> None:
    tool = require(MediaPipeSegment())
    image, summary, data = run_tool(tool, tmp_path, {"image": image_file(photos["astronaut"])})
    [segment] = data.data["segments"]
    assert segment["label"] == "person" and 0.2 < segment["area"] < 0.9
    assert "person" in summary.text
    assert Image.open(image.path).size == (512, 512)
