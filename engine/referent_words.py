"""The words that point back at earlier resources, as patterns on lower-cased text.

Kept apart from engine/referents.py so the vocabulary (English, French, Spanish,
Chinese) can grow without touching the resolution logic.
"""

from __future__ import annotations

import re

_R = re.compile

# "the/that/this/my/your (last|new|...) picture"; French le/la/ce/cette, Spanish el/la/ese/esa
_DET = (
    r"(?:the|that|this|those|these|my|your|the same|le|la|les|ce|cet|cette|ces|ta|ton|el|los|las|ese|esa|"
    r"este|esta|tu)"
)
_ADJ = r"(?:\s+(?:last|previous|first|new|same|original|other|\w+ed|dernière|dernier|última|último))?"

KIND_NOUNS: dict[str, str] = {
    "image": r"(?:pic|pics|picture|photo|image|screenshot|scan|drawing|skeleton|mask|photo|imagen|foto|"
    r"dessin|capture|esqueleto|squelette)",
    "audio": r"(?:audio|recording|voice ?(?:note|message|memo)|sound|speech|mp3|wav|enregistrement|"
    r"vocal|grabación|audio)",
    "video": r"(?:video|clip|movie|vidéo|vídeo)",
    "text": r"(?:text|words|texte|texto)",
}

KIND_REFERENCES: dict[str, re.Pattern[str]] = {
    kind: _R(rf"\b{_DET}{_ADJ}\s+{noun}s?\b") for kind, noun in KIND_NOUNS.items()
}
# "the cat picture", "that photo of the beach": a word saying which one (group "what")
DESCRIBED: dict[str, re.Pattern[str]] = {
    kind: _R(
        rf"\b(?:the|that|this|those|my|your)\s+(?P<what>[a-z]{{3,}})\s+{noun}s?\b|"
        rf"\b(?:the|that|this|those|my|your)\s+{noun}s?\s+(?:of|with)\s+(?:the|a|an|my|that)?\s*(?P<what2>[a-z]{{3,}})\b"
    )
    for kind, noun in KIND_NOUNS.items()
}
# 这张图 / 那个音频 / 刚才的图片
KIND_REFERENCES_ZH: dict[str, re.Pattern[str]] = {
    "image": _R(r"(?:这|那|刚才的?|上面的?)(?:张|个|幅)?(?:图|照片|图片)"),
    "audio": _R(r"(?:这|那|刚才的?|上面的?)(?:段|个|条)?(?:音频|录音|语音)"),
    "video": _R(r"(?:这|那|刚才的?)(?:段|个)?视频"),
    "text": _R(r"(?:这|那|刚才的?|上面的?)(?:段|些)?(?:文字|文本|话)"),
}

_LANGS = (
    r"(?:spanish|french|english|german|italian|chinese|portuguese|japanese|español|espagnol|francés|"
    r"français|anglais|inglés|chino|chinois|allemand|alemán)"
)
# (pattern, origin tasks, kinds): nouns that name what an earlier step made
RESULT_NOUNS: tuple[tuple[re.Pattern[str], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        _R(
            rf"\b{_LANGS}\s+(?:version|text|one|translation)\b|\b(?:the|that|this|la|el)\s+"
            rf"(?:translation|translated\s+\w+|traduction|traducción)\b|\bversion\s+(?:en\s+)?{_LANGS}|"
            rf"\bversión\s+(?:en\s+)?{_LANGS}"
        ),
        ("translation",),
        ("text",),
    ),
    (
        _R(r"\b(?:the|that|this|la|el)?\s*(?:transcript|transcription|transcripción)\b"),
        ("automatic-speech-recognition",),
        ("text",),
    ),
    (_R(r"\b(?:the|that|this)\s+(?:caption|description)\b"), ("image-to-text",), ("text",)),
    (_R(r"\b(?:the|that|this)\s+(?:summary|résumé|resumen)\b"), ("summarization",), ("text",)),
    (
        _R(r"\b(?:the|that|your)\s+(?:answer|reply|response)\b"),
        ("question-answering", "visual-question-answering", "document-question-answering"),
        ("text",),
    ),
    (_R(r"\b(?:the|that|this|your)\s+(?:speech|voice|spoken \w+)\b"), ("text-to-speech",), ("audio",)),
    (_R(r"翻译(?:的|后的)|译文"), ("translation",), ("text",)),
)

# "what did it say", "what it says": the text an earlier step read out of a file
SELF_SAID = _R(
    r"\bwhat (?:does|did) (?:it|that|this|the \w+) say\b|\bwhat (?:it|that) (?:says|said)\b|"
    r"\bwhat was (?:written|said)\b|\bqu'est-ce qu'(?:il|elle) (?:dit|disait)\b|\bqué dec[íi]a\b|说了什么|写了什么"
)

PRONOUN = _R(
    r"\b(?:it|its|that|this|them|those|these|again|same)\b|\b(?:ça|cela|eso|esto|ese|esa)\b|"
    r"(?:lis-le|lis-la|traduis-le|traduis-la|dis-le|léelo|leelo|léela|dilo|dímelo|tradúcelo|traducelo|"
    r"tradúcela|léemelo|resúmelo|resumelo)|它|这个|那个|刚才|上面"
)
# words that carry no object of their own: "traduis en espagnol stp", "念出来", "now read it out loud"
BARE_WORDS = _R(
    r"\b(?:now|ok|okay|pls|please|plz|and|then|also|again|too|just|can|could|you|u|it|that|this|to|into|in|out|"
    r"loud|aloud|maintenant|stp|svp|et|puis|aussi|en|à|a|voix|haute|ahora|porfa|por|favor|y|también|al|voz|alta|"
    r"translate|say|speak|read|summari[sz]e|traduis|traduire|traduce|tradúcelo|traducelo|lis|dis|lee|léelo|"
    r"leelo|dilo|resume|résume|resúmelo|english|spanish|french|chinese|german|anglais|espagnol|français|chinois|"
    r"inglés|ingles|español|francés|chino|le|la|lo|me|moi|mí|mi)\b|"
    r"现在|请|吧|一下|再|也|帮我|给我|把|它|翻译成|翻译|英文|英语|中文|法语|西班牙语|念出来|读出来|朗读|说出来|总结|[\W_]"
)

# "do that again with this one", "same for this pic", "this one too"
AGAIN = _R(
    r"\b(?:again|same (?:thing|for|with|here)|the same|this one too|this one as well|too\??$|as well\??$|"
    r"encore|pareil|la même chose|lo mismo|otra vez|de nuevo|también)\b|再来|也一样|同样"
)

# what a request needs from a pronoun's referent, kinds in order of preference
NEEDS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        _R(
            r"\baloud\b|out loud|\bsay\b|\bspeak|\bvoice\b|\bread (?:it|that|this|them) (?:out|to me)|"
            r"\bpronounc|à voix haute|en voz alta|\bdis-le|\bdilo|读出来|念出来|朗读|说出来"
        ),
        ("text", "image", "audio"),
    ),
    (_R(r"\btranscri|\bwrite down|\bwhat (?:was|is) said|转写|听写"), ("audio", "video")),
    (_R(r"\btranslat|\btradu|翻译|\bin (?:spanish|french|english|german|chinese)\b"), ("text", "image", "audio")),
    (_R(r"\bsummar|\bshort(?:er|en)|\brewrite|\brephrase|\bmood|\bsentiment|\btone\b|总结|摘要"), ("text",)),
    (
        _R(
            r"\bvideo|\bslideshow|\banimat|\bcaption|\bdescribe|\bclassif|\bdetect|\bsegment|\bpose\b|"
            r"\bwhat(?:'s| is) in\b|\bfaces?\b|视频|图"
        ),
        ("image",),
    ),
    (_R(r"\bread\b|\bocr\b|\blis\b|\blee\b|读|识别"), ("image", "text")),
)

# "and this one: '...'", "what about this one", "same for this": the last request on new words
ANOTHER = _R(
    r"^\W*(?:(?:and|now|ok|okay|then|what about|how about|same for|also|do)\W+)*(?:this|that|the next|next) one\b|"
    r"\bthis one too\b|^\W*(?:and|now)?\W*same for\b|^\W*(?:et|y) (?:celui-ci|celle-ci|este|esta)\b|还有这个"
)

# tasks whose picture is a drawing over the user's own (boxes, a skeleton, a mask)
ANNOTATING_TASKS = frozenset({"object-detection", "pose-estimation", "image-segmentation", "depth-estimation"})
ANNOTATION_WORDS = _R(
    r"\b(?:skeleton|boxes|box|mask|detection|depth|result|output|one you (?:made|drew)|new one|drawn|annotated|"
    r"esqueleto|squelette|masque|máscara|dibujaste|dessiné)\b|骨架|骨骼"
)

NEEDS_ANY = _R("|".join(f"(?:{pattern.pattern})" for pattern, _ in NEEDS))
