"""ControlNet image-to-image through the local backend, on a tiny randomly initialised
Stable Diffusion (saved under the default base id) and a ControlNet made from its UNet
(``ControlNetModel.from_unet``), both saved with ``save_pretrained`` in a models_dir and
loaded by the real runner. Outputs are random; sizes, files and control maps are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.experts.tiny import tiny_stable_diffusion

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")
cv2 = pytest.importorskip("cv2")

from engine.experts.base import RunContext  # noqa: E402
from engine.experts.local import LocalBackend  # noqa: E402
from engine.experts.local.controlnet import (  # noqa: E402
    DEFAULT_BASE_MODEL,
    ControlNetImageToImage,
    control_type,
    is_controlnet,
    looks_like,
)
from engine.types import ModelCard, Resource, Task  # noqa: E402

WIDTH, HEIGHT = 64, 48


def build_models(root: Path) -> None:
    """A tiny SD 1.x pipeline at ``root/<DEFAULT_BASE_MODEL>`` (VAE scale factor 2) and a
    ControlNet from its UNet, saved as the canny and depth ControlNets."""
    from diffusers import ControlNetModel

    pipe = tiny_stable_diffusion()
    pipe.save_pretrained(root / DEFAULT_BASE_MODEL)
    # The conditioning embedding downsamples once: the control image meets latents at
    # the tiny VAE's scale factor of 2 (SD 1.5's ControlNets downsample 8x, like its VAE).
    controlnet = ControlNetModel.from_unet(pipe.unet, conditioning_embedding_out_channels=(16, 32))
    for name in ("lllyasviel/sd-controlnet-canny", "lllyasviel/sd-controlnet-depth"):
        controlnet.save_pretrained(root / name)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("controlnet-models")
    build_models(root)
    return root


@pytest.fixture(scope="module")
def backend(models_dir: Path) -> LocalBackend:
    return LocalBackend(
        device="cpu", memory_budget_mb=1024, models_dir=models_dir, offline=True, diffusion_steps=2
    )


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(output_dir=tmp_path / "out", request_text="an astronaut on mars")


def card(model_id: str) -> ModelCard:
    return ModelCard(id=model_id, task="image-to-image", backend="local")


def image_resource(path: Path, array: np.ndarray) -> Resource:
    Image.fromarray(array).save(path)
    return Resource(kind="image", path=path, name=path.name)


@pytest.fixture
def astronaut(tmp_path: Path) -> Resource:
    """scikit-image's astronaut photo, or a Pillow-drawn scene without scikit-image."""
    try:
        from skimage import data

        photo = Image.fromarray(data.astronaut()).resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    except ImportError:
        photo = Image.new("RGB", (WIDTH, HEIGHT), (30, 60, 120))
        draw = ImageDraw.Draw(photo)
        draw.ellipse((10, 8, 40, 38), fill=(230, 200, 40))
        draw.rectangle((36, 20, 60, 44), fill=(200, 40, 40))
    return image_resource(tmp_path / "astronaut.png", np.asarray(photo))


async def test_canny_controlnet_draws_a_png_from_computed_edges(
    backend: LocalBackend, ctx: RunContext, astronaut: Resource
) -> None:
    canny = card("lllyasviel/sd-controlnet-canny")
    assert backend.availability(canny).ok
    out = await backend.run(
        canny, Task(7, "image-to-image", {}), {"image": astronaut, "text": Resource("text", "a robot")}, ctx
    )
    assert len(out) == 1 and out[0].kind == "image" and out[0].path.suffix == ".png"
    with Image.open(out[0].path) as img:
        assert img.format == "PNG" and img.size == (WIDTH, HEIGHT)
    data = out[0].data
    assert data["control"] == "canny" and data["control_computed"] is True
    assert data["base_model"] == DEFAULT_BASE_MODEL and data["prompt"] == "a robot"
    assert "Canny" in out[0].text and out[0].text.startswith("a robot")
    with Image.open(data["control_map"]) as control:
        edges = np.asarray(control.convert("L"))
    with Image.open(astronaut.path) as photo:
        gray = cv2.cvtColor(np.asarray(photo.convert("RGB")), cv2.COLOR_RGB2GRAY)
    assert np.array_equal(edges, cv2.Canny(gray, 100, 200))  # the real Canny map, not the photo
    assert set(np.unique(edges)) == {0, 255} and 0.01 < float(np.mean(edges > 0)) < 0.6
    assert backend.availability(canny).ready  # cached under the card id


async def test_depth_controlnet_uses_the_input_as_given_and_says_so(
    backend: LocalBackend, ctx: RunContext, astronaut: Resource, tmp_path: Path
) -> None:
    depth = card("lllyasviel/sd-controlnet-depth")
    ramp = np.tile(np.linspace(0, 255, WIDTH, dtype=np.uint8), (HEIGHT, 1))
    depth_map = image_resource(tmp_path / "depth.png", np.stack([ramp] * 3, axis=-1))
    out = await backend.run(depth, Task(8, "image-to-image", {}), {"image": depth_map}, ctx)
    data = out[0].data
    assert data["control"] == "depth" and data["control_computed"] is False
    assert data["prompt"] == "an astronaut on mars"  # the request text when no text argument
    assert "as given" in out[0].text and "does not look like" not in out[0].text
    with Image.open(data["control_map"]) as control:
        assert np.array_equal(np.asarray(control.convert("RGB")), np.stack([ramp] * 3, axis=-1))
    photo_out = await backend.run(depth, Task(9, "image-to-image", {}), {"image": astronaut}, ctx)
    assert "does not look like a depth map" in photo_out[0].text and "depth-estimation" in photo_out[0].text


def test_a_controlnet_needs_its_base_model(models_dir: Path) -> None:
    other_base = LocalBackend(
        device="cpu",
        models_dir=models_dir,
        offline=True,
        runners=[ControlNetImageToImage(base_model="nobody/sd-base")],
    )
    why = other_base.availability(card("lllyasviel/sd-controlnet-canny")).why
    assert not other_base.availability(card("lllyasviel/sd-controlnet-canny")).ok
    assert "nobody/sd-base" in why and "hf download nobody/sd-base" in why
    online = LocalBackend(
        device="cpu",
        models_dir=models_dir,
        offline=False,
        runners=[ControlNetImageToImage(base_model="nobody/sd-base")],
    )
    av = online.availability(card("lllyasviel/sd-controlnet-canny"))
    assert av.ok and av.download and "nobody/sd-base will be downloaded" in av.why
    assert not other_base.availability(card("lllyasviel/sd-controlnet-seg")).ok  # no weights at all


def test_control_types_from_names_and_map_checks() -> None:
    assert is_controlnet("lllyasviel/sd-controlnet-canny")
    assert not is_controlnet("lambdalabs/sd-image-variations")
    names = {t: control_type(f"lllyasviel/sd-controlnet-{t}") for t in ("canny", "hed", "mlsd", "openpose")}
    assert names == {"canny": "canny", "hed": "hed", "mlsd": "mlsd", "openpose": "openpose"}
    assert control_type("lllyasviel/control_v11p_sd15_softedge-controlnet") == "hed"
    photo = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert not looks_like("depth", photo) and not looks_like("seg", photo)
    pose = np.zeros((32, 32, 3), np.uint8)
    pose[10:12, 5:25] = (255, 0, 0)
    assert looks_like("openpose", pose) and not looks_like("openpose", photo)


def test_offline_edge_maps_for_hed_scribble_and_mlsd(tmp_path: Path) -> None:
    runner = ControlNetImageToImage()
    scene = Image.new("RGB", (96, 64), (40, 40, 40))
    ImageDraw.Draw(scene).rectangle((20, 15, 70, 50), fill=(220, 220, 220))
    for kind in ("hed", "scribble", "mlsd"):
        made = runner.control_map(kind, scene)
        arr = np.asarray(made.image.convert("L"))
        assert made.computed and made.image.size == scene.size
        assert arr[32, 45] == 0 and arr.max() > 128  # dark inside the box, bright on its border
    drawing = Image.new("RGB", (96, 64), "white")
    ImageDraw.Draw(drawing).line((10, 10, 80, 50), fill="black", width=3)
    used = runner.control_map("scribble", drawing)
    assert not used.computed and np.asarray(used.image.convert("L"))[0, 0] == 0  # inverted: white on black
