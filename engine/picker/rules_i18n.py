"""The picker's keyword rules in French, Spanish and Chinese, as the English ones in
``engine.picker.rules`` read them: speech asked for, text read out of a picture, a
target language, a video of the pictures at hand. Patterns run on lower-cased text."""

from __future__ import annotations

import re

_R = re.compile

SPOKEN_I18N = (
    r"à voix haute|a voix haute|en voz alta|\blis-le\b|\blee(?:lo|la)? en voz\b|\bdi(?:lo|me)?\b.*\bvoz\b|"
    r"读出来|念出来|朗读|说出来|读给我听|念给我听|读一下给我听"
)
READ_SILENT_I18N = (
    r"\blis\b|\blire\b|\blee\b|\bleer\b|\bqu'est-ce qu'(?:il|elle) (?:y a d')?[ée]crit|\bqu[ée] dice\b|"
    r"\bqu'est-ce que ça dit\b|写了什么|上面写|读一下|识别文字|文字"
)
VIDEO_I18N = (
    r"\bvidéo\b|\bvídeo\b|视频|\ben (?:un )?(?:\w+ )?video\b|\bvideo (?:con|de) (?:esta|estas|la|las|los|el|mi|mis|"
    r"ese|esa|este|ambas)\b"
)
SOURCE_I18N = {
    "image": r"\b(?:de|dans|sur) (?:cette|l'|la|ma) ?image\b|\b(?:de|en) (?:esta|la|mi) (?:imagen|foto)\b|这张图|图片里|图里|图上|照片里",
}

_LANG_WORDS = (
    "anglais|français|francais|espagnol|chinois|allemand|italien|portugais|"
    "inglés|ingles|francés|frances|español|espanol|chino|alemán|aleman|italiano|portugués|"
    "英文|英语|中文|法语|法文|西班牙语|西班牙文|德语|日语"
)
TARGET_I18N = _R(rf"(?:\ben |\bal |\ba l'|成|为)(?P<lang>{_LANG_WORDS})")
LANGUAGE_NAMES = {
    **dict.fromkeys(["anglais", "inglés", "ingles", "英文", "英语"], "english"),
    **dict.fromkeys(["français", "francais", "francés", "frances", "法语", "法文"], "french"),
    **dict.fromkeys(["espagnol", "español", "espanol", "西班牙语", "西班牙文"], "spanish"),
    **dict.fromkeys(["chinois", "chino", "中文"], "chinese"),
    **dict.fromkeys(["allemand", "alemán", "aleman", "德语"], "german"),
    **dict.fromkeys(["italien", "italiano"], "italian"),
    **dict.fromkeys(["portugais", "portugués"], "portuguese"),
    "日语": "japanese",
}

MULTILINGUAL_RULES: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (_R(SPOKEN_I18N), "text-to-speech", 0.25),
    (_R(r"\btranscri[rsb]|转写|转成文字|听写|录音里说了什么|说了什么"), "automatic-speech-recognition", 0.2),
    (_R(r"\btradui[st]|\btraduire\b|\btraduc|\btraduz|翻译|译成"), "translation", 0.15),
    (_R(r"\brésume|\bresume|\bresumen\b|总结|摘要|概括"), "summarization", 0.15),
    (_R(r"\bvisages?\b|\bcaras?\b|人脸|脸"), "object-detection", 0.2),
    (_R(r"\bpose\b|\bpostura\b|\bposture\b|姿势|姿态|骨架"), "pose-estimation", 0.2),
    (_R(r"\bsentiment\b|\bhumeur\b|\bton\b|\bánimo\b|\btono\b|情绪|情感|心情"), "text-classification", 0.15),
    (
        _R(
            r"\bdessine(?:-moi)? (?:un|une|des)\b|\bg[ée]n[èe]re (?:une|des) images?|\bcr[ée]e (?:une|des) images?|"
            r"\bdib[uú]ja(?:me)? (?:un|una|unos)\b|\bgenera (?:una|unas) im[áa]gen|\bcrea (?:una|unas) im[áa]gen|"
            r"画一|画个|生成一张|生成图片|画张"
        ),
        "text-to-image",
        0.25,
    ),
)
