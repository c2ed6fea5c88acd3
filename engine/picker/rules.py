"""Modality and direction rules that correct the encoder's similarity scores.

The encoder knows what a clause is about, not which way it points: "convert the
text to speech" and "convert the speech to text" embed alike. These rules read the
direction from the words and forbid tasks whose input cannot exist in the request.
Each rule is a (pattern, task, bonus) row so they can be read and tuned as a table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from engine.picker.exemplars import NO_TASK
from engine.picker.rules_i18n import (
    LANGUAGE_NAMES,
    MULTILINGUAL_RULES,
    READ_SILENT_I18N,
    SOURCE_I18N,
    SPOKEN_I18N,
    TARGET_I18N,
    VIDEO_I18N,
)
from engine.tasks import TASK_SPECS

_R = re.compile
# (pattern on the masked, lower-cased clause, task, score change)
KEYWORD_RULES: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (
        _R(
            r"\baloud\b|out loud|\bread (?:it |them |this |the \w+ )?out\b|\b(?:in|to|into|as) (?:an? )?(?:speech|voice|audio)\b|\bspeech (?:audio|version)|\bnarrat"
        ),
        "text-to-speech",
        0.2,
    ),
    (
        _R(r"\btranscri|\b(?:speech|audio|recording|it) (?:back )?(?:in)?to text\b|\bspeech[- ]to[- ]text"),
        "automatic-speech-recognition",
        0.2,
    ),
    (
        _R(
            r"\b(?:generate|draw|create|make|paint|render|produce|design|give me)\s+(?:an?|new|some|one|\d+|another)\b(?:(?!descri|caption|text\b)[^,.]){0,25}?\b(?:image|picture|photo|illustration|drawing)s?\b(?! (?:description|caption))|\bvisuali[sz](?:e|ing|ation)\b|\bimage of\b"
        ),
        "text-to-image",
        0.25,
    ),
    (
        _R(r"\b(?:generate|create|make|produce|render)\b[^,.]{0,30}\b(?:video|clip|animation)s?\b"),
        "text-to-video",
        0.2,
    ),
    (_R(r"\btable\b|\btabular"), "tabular-classification", 0.12),
    (_R(r"\bsimilar|\bsimilarity|\bcompare\b"), "sentence-similarity", 0.15),
    (_R(r"\bhow similar\b|\bsimilarity (?:score|between)"), "sentence-similarity", 0.1),
    (_R(r"\bdepth|\bhow deep|\bhow far"), "depth-estimation", 0.15),
    (_R(r"\bsegment"), "image-segmentation", 0.15),
    (_R(r"\bemotion|\bcategory\b|kind of (?:sound|audio)|\bsound type"), "audio-classification", 0.08),
    (_R(r"\bnoise|\benhance|\bseparat|\baudio quality"), "audio-to-audio", 0.12),
    (
        _R(
            r"\bcaption|\bdescri\w+ (?:of )?(?:the |this |that )?(?:\w+ )?(?:image|picture|photo)|\bextract\w*\b[^,.]{0,25}\btext\b|\bread the text"
        ),
        "image-to-text",
        0.12,
    ),
    (_R(r"\bsummar|\bshort(?:er|en)|\bcondense"), "summarization", 0.12),
    (_R(r"\bsum (?:it |this |that |them )?up\b|\btl;?dr\b|\bthe gist\b"), "summarization", 0.25),
    # "say good morning everyone", "now say it": speaking, whatever follows
    (
        _R(r"^(?!.*\bwhat (?:does|did|do)\b)(?:\W*\w+\W+){0,3}?(?:say|speak|pronounce|dis|di|dime|prononce|pronuncia)\b|^说"),
        "text-to-speech",
        0.3,
    ),
    (_R(r"\bfaces?\b"), "object-detection", 0.2),
    # French, Spanish and Chinese forms of the words above (engine.picker.rules_i18n)
    *MULTILINGUAL_RULES,
    (_R(r"\btranslat"), "translation", 0.12),
    (_R(r"\bvisual question"), "visual-question-answering", 0.2),
    (_R(r"\bparaphras|\brephras|\brewrit|\bgrammar"), "text2text-generation", 0.12),
    (_R(r"\bentit|\btoken|\bpart[- ]of[- ]speech"), "token-classification", 0.12),
    (_R(r"\bconversation|\bchat|\bdialog"), "conversational", 0.12),
    (_R(r"\bedit|\bmodif|\bchange the colou?r"), "image-editing", 0.06),
    (_R(r"\bstyle|\bstyli[sz]|\btransform\b|\bvintage|\bdomain"), "image-to-image", 0.08),
    (_R(r"\bdetect|\bbounding|\bobjects\b"), "object-detection", 0.06),
    (_R(r"\bpose\b|\bskeleton|\bkeypoint"), "pose-estimation", 0.1),
)

# "the translated labels", "the summary": words that name an earlier output, not this step's task
_REFERRING = _R(
    r"\b(?:the|this|that|its|their|these|those) (?:\w+ )?(?:translat|summar|transcri|caption|classif|detected|edited|modified|generated|segmented|transformed|paraphrased|answer|depth-estimated|spoken)\w*"
)
_BASED = _R(
    r"\b(?:based on|using|from|with|according to) (?:the|this|that|its|their) [\w-]+(?: (?:information|text|output|result|labels?))?"
)
_CONTEXT = _R(
    r"^(?:hi,? |hello,? )?(?:i have|i've got|i also have|here is|here's|attached is|this is|the \w+ (?:file )?is|the text is|it's|it is)\b"
)
_BASED_ON = _R(
    r"\bbased on\b|\buse the output|\busing the (?!image|picture|photo|document)|\bfrom the (?:text|table|summary|output)"
)
_DOCUMENT = _R(r"\b(?:document|article|invoice|receipt|form|page|scan\w*|letter)\b")
_QUESTION = _R(r"\bquestion\b|\banswer\b|\?")
_ANSWER = _R(r"\banswer (?:this|the|my|a|following)\b")
_SPOKEN = _R(
    r"\baloud\b|out loud|\bread (?:it |them )?out\b|\b(?:with|as|in) (?:an? )?(?:spoken|audio|voice)\b|\bspoken (?:result|answer|version|reply|summary)|"
    + SPOKEN_I18N
)
_MAKE_PICTURE = _R(
    r"\b(?:generate|draw|create|make|paint|render|produce|design|sketch|imagine|visuali[sz]e|illustrat|dessine|g[ée]n[èe]re|"
    r"cr[ée]e|dibuja|genera|crea|haz)\w*\b|\bimage of\b|画|生成|"
    r"\ban? (?:\w+ )?(?:image|picture|photo|illustration|drawing)s? (?:that|which|of|showing|depicting|representing|to)\b"
)
_TRANSLATE_WORDS = _R(r"translat|\btradu|翻译|译成|\bin (?:another|other|a different) language|\blanguage\b")
_SAY = _R(
    r"^(?!.*\bwhat (?:does|did|do)\b)(?:\W*\w+\W+){0,3}?(?:say|speak|pronounce|dis|di|dime|prononce|pronuncia)\b|^说"
)
_READ_SILENT = _R(
    r"\bread\b|\bwhat does (?:it|this|that|the \w+) say\b|\bocr\b|\bwhat(?:'s| is) written\b|" + READ_SILENT_I18N
)
# a video made from the request's pictures, not one generated from words
_VIDEO = _R(
    r"\b(?:pics?|pictures?|photos?|images?|it|this|that|these|them|one)\b[^.]{0,30}\b(?:into|to) an? (?:\w+ )?"
    r"(?:video|slideshow|movie|clip)|\b(?:video|slideshow|movie|clip)s? (?:out of|from|of|with) (?:it\b|(?:this|these|"
    r"the|my|that|those|her|his|our)\b[^.]{0,20}\b(?:pics?|pictures?|photos?|images?|one)\b)|\bslideshow\b|" + VIDEO_I18N
)
_LANGUAGE = _R(
    r"\b(?:in|into|to) (french|spanish|german|italian|chinese|japanese|korean|russian|portuguese|arabic|dutch|hindi)\b"
)
_SOURCE = {
    "image": _R(
        r"\b(?:in|from|on|of|about) (?:this|the|my|an?|that|attached|given) (?:\w+ )?(?:image|picture|photo|scan|screenshot)\b|"
        + SOURCE_I18N["image"]
    ),
    "audio": _R(
        r"\b(?:in|from|of) (?:this|the|my|an?|that|attached|given) (?:\w+ )?(?:audio|recording|speech|voice message)\b|\baudio file\b"
    ),
}
CONVERTERS = {"image": "image-to-text", "audio": "automatic-speech-recognition"}


def adjust(scores: dict[str, float], clause: str, quotes: Iterable[str], available: set[str]) -> None:
    """Apply the keyword, question and modality rules to ``scores`` in place."""
    low = clause.lower()
    own = _REFERRING.sub(" ", _BASED.sub(" ", low))
    for pattern, task, bonus in KEYWORD_RULES:
        if pattern.search(own):
            scores[task] = scores.get(task, 0.0) + bonus
    if _CONTEXT.match(low):
        scores[NO_TASK] = scores.get(NO_TASK, 0.0) + 0.3
    if not _TRANSLATE_WORDS.search(low) and not target_language(low):
        # no word of translating and no language named: a foreign-language request is not one to translate
        scores["translation"] = scores.get("translation", 0.0) - 0.2
    if _LANGUAGE.search(own) and "translat" not in own:
        scores["translation"] = scores.get("translation", 0.0) - 0.15  # a modifier: added after the main task
    question = bool(_QUESTION.search(own)) or any(q.rstrip().endswith("?") for q in quotes)
    if question:
        scores[NO_TASK] = scores.get(NO_TASK, 0.0) - 0.1
        documentish = _DOCUMENT.search(low) or any(_DOCUMENT.search(q.lower()) for q in quotes)
        if "image" in available and not _BASED_ON.search(low):
            visual = "visual question" in low
            best = (
                "document-question-answering" if documentish and not visual else "visual-question-answering"
            )
            # "answer this question: ..." names the task outright, more than "objects" or "class" in it
            scores[best] = scores.get(best, 0.0) + 0.2 + 0.1 * bool(_ANSWER.search(own))
            scores["question-answering"] = scores.get("question-answering", 0.0) - 0.1
        else:
            scores["question-answering"] = scores.get("question-answering", 0.0) + 0.08
    if _SAY.match(own):  # "say good morning everyone": the words are what to speak, not small talk
        scores[NO_TASK] = scores.get(NO_TASK, 0.0) - 0.25
    if "image" in available:
        if _READ_SILENT.search(own) and not _SPOKEN.search(own):
            # "read the note", "what does it say": the text in the picture, not speech
            scores["image-to-text"] = scores.get("image-to-text", 0.0) + 0.2
            scores["text-to-speech"] = scores.get("text-to-speech", 0.0) - 0.15
        if not _MAKE_PICTURE.search(low):  # a picture at hand and no word of making one
            scores["text-to-image"] = scores.get("text-to-image", 0.0) - 0.25
        if _VIDEO.search(low):  # a video from the pictures the request has
            scores["image-to-video"] = scores.get("image-to-video", 0.0) + 0.25
            scores["text-to-video"] = scores.get("text-to-video", 0.0) - 0.25
    for task in list(scores):
        spec = TASK_SPECS.get(task)
        if spec is None:
            continue
        missing = {a.kind for a in spec.inputs if a.required and a.kind != "text"} - available
        if missing:
            scores[task] -= 0.3


def wants_speech(clause: str) -> bool:
    return bool(_SPOKEN.search(clause.lower()))


def target_language(clause: str) -> str | None:
    low = clause.lower()
    m = _LANGUAGE.search(low)
    if m:
        return m.group(1)
    m = TARGET_I18N.search(low)
    return LANGUAGE_NAMES.get(m.group("lang")) if m else None


def source_kinds(clause: str, file_kinds: Iterable[str]) -> set[str]:
    """Media kinds the clause names as the thing to work on."""
    low = clause.lower()
    kinds = {k for k in file_kinds if k in CONVERTERS}
    kinds |= {k for k, pattern in _SOURCE.items() if pattern.search(low)}
    return kinds
