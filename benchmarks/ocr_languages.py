"""Which Tesseract languages to read a note with, when its language may not be English.

    python -m benchmarks.ocr_languages

Renders short notes in English, French, Spanish and Chinese (DejaVu Sans; WenQuanYi
Micro Hei or Noto CJK for Chinese), clean at 44 px, as a phone photo (slight tilt,
blur, grey paper, noise) and small (18 px), and reads each with several strategies:

- ``eng``: English only (what the OCR tool did before it followed the language);
- ``latin``: ``eng+fra+spa`` in one pass;
- ``all``: ``eng+fra+spa+chi_sim`` in one pass;
- ``latin-then-chinese``: ``latin``, and ``chi_sim+eng`` when its words are poor
  (mean word confidence under 60 or under half the characters letters), keeping the
  more confident reading;
- ``osd``: Tesseract's script detection (``osd``) picks ``chi_sim+eng`` for Han and
  ``latin`` otherwise;
- ``hint``: the note's own language (what a request in that language gives), plus
  ``eng``;
- ``tool`` and ``tool-hinted``: what ``TesseractOCR`` itself does (upscaling small
  images, the readings above, the second pass in the detected language), with no
  request and with a request in the note's language.

Figures: character accuracy (1 - edit distance / length of the expected text, spaces
ignored for Chinese) per language and strategy, and seconds per note. Prints JSON.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from statistics import mean

from PIL import Image, ImageDraw, ImageFilter, ImageFont

NOTES: dict[str, list[list[str]]] = {
    "en": [
        ["Buy milk and eggs", "Call the dentist on Monday"],
        ["Meeting moved to 3 pm", "Room 204, second floor"],
        ["Please water the plants", "and feed the cat twice a day"],
        ["The train leaves at 8:15", "from platform 6"],
        ["Dinner at Anna's tonight", "bring a bottle of wine"],
        ["Return the library books", "before Friday"],
    ],
    "fr": [
        ["Acheter du pain et du fromage", "Appeler le médecin lundi"],
        ["La réunion est déplacée à 15 h", "salle 204, deuxième étage"],
        ["N'oublie pas d'arroser les plantes", "et de nourrir le chat"],
        ["Le train part à 8 h 15", "du quai numéro 6"],
        ["Dîner chez Hélène ce soir", "apporte une bouteille de vin"],
        ["Rendre les livres à la bibliothèque", "avant vendredi"],
    ],
    "es": [
        ["Comprar pan y leche", "Llamar al médico el lunes"],
        ["La reunión pasó a las tres", "sala 204, segundo piso"],
        ["No olvides regar las plantas", "y dar de comer al gato"],
        ["El tren sale a las 8:15", "del andén número 6"],
        ["Cena en casa de Begoña esta noche", "trae una botella de vino"],
        ["Devolver los libros a la biblioteca", "antes del viernes"],
    ],
    "zh": [
        ["买牛奶和鸡蛋", "星期一给牙医打电话"],
        ["会议改到下午三点", "二楼二零四房间"],
        ["请记得给花浇水", "每天喂两次猫"],
        ["火车八点一刻出发", "在六号站台"],
        ["今晚去安娜家吃饭", "带一瓶葡萄酒"],
        ["星期五之前", "把图书馆的书还回去"],
    ],
}
TESS = {"en": "eng", "fr": "fra", "es": "spa", "zh": "chi_sim"}
LATIN = "eng+fra+spa"
FONTS = {
    "latin": ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
    "zh": [
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    ],
}


def font_for(lang: str, size: int) -> ImageFont.FreeTypeFont:
    for path in FONTS["zh" if lang == "zh" else "latin"]:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    raise SystemExit(f"no font for {lang}: install fonts-dejavu-core and fonts-wqy-microhei")


VARIANTS = ("clean", "photo", "small")


def render_note(lines: list[str], lang: str, variant: str, seed: int = 0) -> Image.Image:
    font = font_for(lang, 18 if variant == "small" else 44)
    photo = variant == "photo"
    width = max(int(font.getlength(line)) for line in lines) + 80
    img = Image.new("L", (width, int(1.6 * font.size) * len(lines) + 60), 255)
    draw = ImageDraw.Draw(img)
    for n, line in enumerate(lines):
        draw.text((40, 30 + int(1.6 * font.size) * n), line, fill=0, font=font)
    if not photo:
        return img
    rng = random.Random(seed)
    img = img.rotate(rng.uniform(-2.0, 2.0), resample=Image.BICUBIC, expand=True, fillcolor=255)
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    paper = Image.effect_noise(img.size, 18).point(lambda v: 200 + v // 5)
    return Image.composite(img, paper, img.point(lambda v: 255 if v < 200 else 0))


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def char_accuracy(got: str, want: str, lang: str) -> float:
    def norm(s: str) -> str:
        return "".join(s.split()) if lang == "zh" else " ".join(s.split())

    got, want = norm(got), norm(want)
    return max(0.0, 1 - edit_distance(got, want) / max(1, len(want)))


def read(image: Image.Image, langs: str) -> tuple[str, float, float]:
    """(text, mean word confidence, share of letters among the characters)."""
    import pytesseract

    data = pytesseract.image_to_data(image, lang=langs, output_type=pytesseract.Output.DICT)
    words = [(w, float(c)) for w, c in zip(data["text"], data["conf"], strict=True) if w.strip()]
    lines: dict[tuple[int, int, int], list[str]] = {}
    for i, word in enumerate(data["text"]):
        if word.strip():
            lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(word)
    text = "\n".join(" ".join(ws) for ws in lines.values())
    chars = "".join(w for w, _ in words)
    letters = sum(ch.isalpha() for ch in chars) / max(1, len(chars))
    return text, (mean(c for _, c in words) if words else 0.0), letters


REQUESTS = {
    "en": "read the text in this image aloud",
    "fr": "Lis le texte de cette image à voix haute",
    "es": "Lee el texto de esta imagen en voz alta",
    "zh": "请把这张图片里的文字读出来",
}


def run_tool(image: Image.Image, request: str) -> str:
    import tempfile

    from engine.errors import ExpertError
    from engine.experts.base import RunContext
    from engine.experts.builtin.tesseract import TesseractOCR
    from engine.types import Resource, Task

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "note.png"
        image.save(path)
        ctx = RunContext(output_dir=Path(folder), request_text=request)
        try:
            [out] = TesseractOCR().run(
                Task(id=1, task="image-to-text", args={}), {"image": Resource(kind="image", path=path)}, ctx
            )
        except ExpertError:
            return ""
        return out.text or ""


def strategy(name: str, image: Image.Image, lang: str) -> str:
    import pytesseract

    if name == "tool":
        return run_tool(image, "")
    if name == "tool-hinted":
        return run_tool(image, REQUESTS[lang])

    if name == "eng":
        return read(image, "eng")[0]
    if name == "latin":
        return read(image, LATIN)[0]
    if name == "all":
        return read(image, LATIN + "+chi_sim")[0]
    if name == "hint":
        return read(image, TESS[lang] if lang == "en" else f"{TESS[lang]}+eng")[0]
    if name == "osd":
        try:
            script = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)["script"]
        except pytesseract.TesseractError:
            script = "Latin"  # too little text for script detection
        return read(image, "chi_sim+eng" if script in ("Han", "HanS", "HanT") else LATIN)[0]
    if name == "latin-then-chinese":
        text, conf, letters = read(image, LATIN)
        if conf >= 60 and letters >= 0.5:
            return text
        other, other_conf, _ = read(image, "chi_sim+eng")
        return other if other_conf > conf else text
    raise ValueError(name)


STRATEGIES = ("eng", "latin", "all", "latin-then-chinese", "osd", "hint", "tool", "tool-hinted")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    for name in args.strategies:
        scores: dict[str, list[float]] = {}
        by_variant: dict[str, list[float]] = {}
        seconds: list[float] = []
        for lang, notes in NOTES.items():
            for n, lines in enumerate(notes):
                for variant in VARIANTS:
                    image = render_note(lines, lang, variant, seed=n)
                    start = time.perf_counter()
                    got = strategy(name, image, lang)
                    seconds.append(time.perf_counter() - start)
                    accuracy = char_accuracy(got, "\n".join(lines), lang)
                    scores.setdefault(lang, []).append(accuracy)
                    by_variant.setdefault(f"{lang}/{variant}", []).append(accuracy)
        results[name] = {
            "char_accuracy": {lang: round(mean(v), 3) for lang, v in scores.items()},
            "by_variant": {key: round(mean(v), 3) for key, v in by_variant.items()},
            "mean": round(mean(mean(v) for v in scores.values()), 3),
            "s_per_note": round(mean(seconds), 3),
        }
        print(f"{name}: {results[name]}", file=sys.stderr)
    notes = len(VARIANTS) * len(NOTES["en"])
    print(json.dumps({"notes_per_language": notes, "strategies": results}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
