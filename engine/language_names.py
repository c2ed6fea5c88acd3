"""Names of languages as users and plans write them, mapped to ISO 639-1 codes.

"French", "français", "francés", "法语", "fra" and "fr-FR" all mean ``fr``. The
target of a translation is read from a plan argument (``tgt_lang``...) or from the
request ("into French", "en anglais", "al inglés", "翻译成英文").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# code -> (English name, other names and codes users or plans use)
_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": (
        "English",
        (
            "eng",
            "inglés",
            "ingles",
            "anglais",
            "englisch",
            "inglese",
            "inglês",
            "英语",
            "英文",
            "英語",
            "영어",
            "английский",
            "الإنجليزية",
        ),
    ),
    "fr": (
        "French",
        (
            "fra",
            "fre",
            "français",
            "francais",
            "francés",
            "frances",
            "französisch",
            "francese",
            "francês",
            "法语",
            "法文",
            "法語",
            "フランス語",
            "프랑스어",
            "французский",
            "الفرنسية",
        ),
    ),
    "es": (
        "Spanish",
        (
            "spa",
            "español",
            "espanol",
            "castellano",
            "espagnol",
            "spanisch",
            "spagnolo",
            "espanhol",
            "西班牙语",
            "西班牙文",
            "西班牙語",
            "スペイン語",
            "스페인어",
            "испанский",
            "الإسبانية",
        ),
    ),
    "zh": (
        "Chinese",
        (
            "zho",
            "chi",
            "cmn",
            "mandarin",
            "chinois",
            "chino",
            "chinesisch",
            "cinese",
            "chinês",
            "中文",
            "汉语",
            "漢語",
            "普通话",
            "华语",
            "中国語",
            "중국어",
            "китайский",
            "الصينية",
            "zh-cn",
            "zh-hans",
            "zh-tw",
            "zh-hant",
        ),
    ),
    "de": (
        "German",
        (
            "deu",
            "ger",
            "deutsch",
            "allemand",
            "alemán",
            "aleman",
            "tedesco",
            "alemão",
            "德语",
            "德文",
            "ドイツ語",
            "독일어",
            "немецкий",
            "الألمانية",
        ),
    ),
    "it": (
        "Italian",
        (
            "ita",
            "italiano",
            "italien",
            "italienisch",
            "意大利语",
            "イタリア語",
            "이탈리아어",
            "итальянский",
            "الإيطالية",
        ),
    ),
    "pt": (
        "Portuguese",
        (
            "por",
            "português",
            "portugues",
            "portugais",
            "portugués",
            "portugiesisch",
            "portoghese",
            "葡萄牙语",
            "ポルトガル語",
            "포르투갈어",
            "португальский",
            "البرتغالية",
            "pt-br",
            "pt-pt",
        ),
    ),
    "ja": (
        "Japanese",
        (
            "jpn",
            "japonais",
            "japonés",
            "japones",
            "japanisch",
            "giapponese",
            "japonês",
            "日语",
            "日文",
            "日本語",
            "일본어",
            "японский",
            "اليابانية",
        ),
    ),
    "ko": (
        "Korean",
        (
            "kor",
            "coréen",
            "coreen",
            "coreano",
            "koreanisch",
            "韩语",
            "韓国語",
            "한국어",
            "корейский",
            "الكورية",
        ),
    ),
    "ru": (
        "Russian",
        ("rus", "russe", "ruso", "russisch", "russo", "俄语", "ロシア語", "러시아어", "русский", "الروسية"),
    ),
    "ar": (
        "Arabic",
        (
            "ara",
            "arabe",
            "árabe",
            "arabisch",
            "arabo",
            "阿拉伯语",
            "アラビア語",
            "아랍어",
            "арабский",
            "العربية",
        ),
    ),
    "ca": ("Catalan", ("cat", "catalan", "català", "catalán", "catalano", "加泰罗尼亚语")),
    "gl": ("Galician", ("glg", "galego", "gallego", "galicien")),
    "el": ("Greek", ("ell", "grec", "griego", "griechisch", "greco", "希腊语")),
    "he": ("Hebrew", ("heb", "hébreu", "hebreo", "hebräisch", "ebraico", "希伯来语")),
    "th": ("Thai", ("tha", "thaï", "tailandés", "thailändisch", "泰语")),
    "hi": ("Hindi", ("hin", "印地语")),
}

LANGUAGE_NAMES: dict[str, str] = {}
for _code, (_english, _others) in _NAMES.items():
    for _name in (_code, _english, *_others):
        LANGUAGE_NAMES[_name.lower()] = _code


def language_code(name: str) -> str | None:
    """ "Spanish", "es", "es-MX", "español", "西班牙语" -> "es"; None for no known language."""
    key = name.strip().lower().replace("_", "-")
    if key in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[key]
    head = key.split("-")[0]
    return LANGUAGE_NAMES.get(head) if len(head) in (2, 3) else None


def language_label(code: str) -> str:
    """The English name of a language code ("fr" -> "French"); the code itself if unknown."""
    entry = _NAMES.get(code)
    return entry[0] if entry else code


HINT_KEYS = ("tgt_lang", "target_lang", "target_language", "target", "language", "lang", "to")
_LATIN_NAMES = sorted((n for n in LANGUAGE_NAMES if ord(n[0]) < 0x0250), key=len, reverse=True)
_OTHER_NAMES = sorted((n for n in LANGUAGE_NAMES if ord(n[0]) >= 0x0250), key=len, reverse=True)
# "into French", "to english", "en anglais", "al inglés", "auf Deutsch", "in italiano", "para o inglês"
_TO_LANG = re.compile(
    r"\b(?:to|into|in|en|al|a|para|pour|vers|auf|ins|in|nach|na|para o|para a)\s+(?:el\s+|le\s+|l'|o\s+)?("
    + "|".join(re.escape(n) for n in _LATIN_NAMES if len(n) > 3)
    + r")\b",
    re.I,
)
# other scripts write the name without a separate preposition: "翻译成英文", "на английский"
_OTHER_LANG = re.compile("|".join(re.escape(n) for n in _OTHER_NAMES))


def target_language(args: Mapping[str, object], request_text: str) -> str | None:
    """The target language a plan argument or the request names ("... into Spanish")."""
    for key in HINT_KEYS:
        value = args.get(key)
        if isinstance(value, str) and (code := language_code(value)):
            return code
    found = _TO_LANG.findall(request_text) + _OTHER_LANG.findall(request_text.lower())
    if found:
        # the last named language is the target: "translate this French note into English"
        positions = [(request_text.lower().rfind(name.lower()), name) for name in found]
        return language_code(max(positions)[1])
    return None
