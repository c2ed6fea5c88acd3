"""Patterns of intent for the tool / no-tool decision (engine/intent.py), on lower-cased
text with quoted parts removed. English, French, Spanish and Chinese forms."""

from __future__ import annotations

import re

_R = re.compile

_MEDIA_NOUN = (
    r"(?:images?|pictures?|pics?|photos?|drawings?|illustrations?|paintings?|videos?|clips?|animations?|"
    r"gifs?|audio|speech|voices?|songs?|music|slideshows?|imágenes|imagen|fotos?|vidéos?|vídeos?|dessins?|"
    r"dibujos?)"
)
_ABILITY_VERB = (
    r"(?:make|create|talk|speak|chat|generate|draw|paint|read|speak|talk|transcribe|translate|see|hear|listen(?: to)?|"
    r"understand|edit|detect|recogni[sz]e|sing|produce|do|handle|process|open|watch|describe|caption|"
    r"identify|convert|summari[sz]e|write|analy[sz]e|look at)"
)

# what a question about abilities may name after its verb: kinds of things, never a particular one
_GENERIC = (
    r"(?:images?|pictures?|pics?|photos?|drawings?|art|videos?|clips?|movies?|audio|speech|voices?|"
    r"voice ?(?:messages?|notes?|memos?)|messages?|notes?|recordings?|music|songs?|texts?|handwriting|"
    r"writing|documents?|docs|pdfs?|files?|scans?|screenshots?|languages?|spanish|french|chinese|english|"
    r"german|japanese|faces?|objects?|people|things|stuff|other|different|any|more|like|from|in|of|out|loud|"
    r"aloud|too|also|as|well|at|all|for|and|or|with|into|to|real|time|really|now|yet|even)"
)

# a question about the bot itself: "can you make images?", "what can you do", "do you speak french?"
CAPABILITY = _R(
    r"^(?:\W*(?:hey|so|ok|okay|and|but|also|cool|nice|great|wait|btw|lol|hmm)\b)*\W*"
    r"(?:can|could|do|are|will|would) (?:you|u|ya)(?: also| even| actually| really)?(?: be able to)? "
    rf"{_ABILITY_VERB}(?:\W+{_GENERIC})*\W*$|"
    r"\bwhat (?:\w+ ){0,3}(?:can|could|do) (?:you|u) (?:\w+)\W*$|"
    r"\bwhat (?:else )?(?:can|could|do) (?:you|u|ya) do\b|\bwhat (?:are|r) (?:you|u) (?:able|capable|good)\b|"
    r"\bwhat (?:are |r )?(?:your|ur) (?:features|capabilities|skills|tools|abilities|powers)\b|"
    r"\bwhat (?:tools|models|experts|things) (?:do|can) (?:you|u)\b|\bhow can (?:you|u) help\b|"
    r"\bare (?:you|u) able to \w+(?: \w+)?\s*\W*$|^(?:/?help|what is this bot|who made you)\W*$|"
    r"\bqu'est-ce que tu (?:sais|peux) faire\b|\btu (?:sais|peux) faire quoi\b|\bque sais-tu faire\b|"
    r"\bqu[ée] (?:puedes|sabes) hacer\b|\bpuedes (?:hacer|crear|generar|leer) (?:imágenes|fotos|videos|audio)\s*\W*$|"
    r"\btu (?:peux|sais) (?:faire|créer|générer|lire) des (?:images|photos|vidéos)\s*\W*$|"
    r"你(?:能|会|可以)(?:做|干)(?:什么|啥)|你(?:能|会|可以)(?:画画|画图|生成图片|做图|读图|说话|翻译)吗"
)

# asks for a picture, sound or video to be made: "draw a fox", "generate an image of a dog"
MAKE_MEDIA = _R(
    r"\b(?:generate|draw|make|create|paint|render|produce|design|sketch|give me|show me|send me)\s+(?:me\s+)?"
    rf"(?:an?|some|one|\d+|another|a few)\s+(?:[\w-]+\s+){{0,3}}?{_MEDIA_NOUN}\b"
    r"|\b(?:draw|paint|sketch)\s+(?:me\s+)?(?:an?|some|the)\s+\w+"
    r"|\baloud\b|\bout loud\b|\bread (?:it|this|that|them) to me\b|\b(?:as|in|into) (?:an? )?(?:audio|speech|voice)\b"
    r"|\b(?:turn|make|convert) (?:it|this|that|these|them|the \w+) into an? (?:\w+ )?(?:video|audio|gif|slideshow)\b"
    r"|à voix haute|en voz alta|dessine|génère une image|fais(?:-moi)? une image|dibuja|genera una imagen|"
    r"hazme una imagen|读出来|念出来|朗读|画一(?:张|个|幅)|生成一(?:张|个|幅)"
)

# a verb that asks a tool to work on something
TOOL_VERBS = _R(
    r"\b(?:say|speak|pronounce|narrate|transcribe|translate|caption|classify|detect|segment|ocr|"
    r"extract|recogni[sz]e|read)\b|\b(?:mood|sentiment|tone)\b|\bpositive or negative\b|"
    r"\bhow similar\b|\bdis\b|\blis\b|\btradui[st]|\btraduc|\blee\b|\bdi\b|\btranscri|翻译|识别|读|念|转写"
)

# chit-chat that needs nothing but an answer
SMALL_TALK = _R(
    r"(?:[\W\d_]*(?:hi+|hey+|hello|hiya|yo|sup|thanks?|thank you|thank u|thx|ty|tysm|ok(?:ay)?|k|cool|nice|great|"
    r"lol|lmao|haha+|hehe|good (?:morning|night|evening|afternoon)|gm|gn|bye|goodbye|see (?:you|ya)|cya|"
    r"how are you|how r u|hru|what'?s up|wassup|cute|wow|awesome|perfect|amazing|yes|no|nope|yep|sure|"
    r"you(?:'re| are) (?:awesome|great|the best)|love it|merci|bonjour|salut|coucou|ça va|hola|gracias|"
    r"buenos días|qué tal|vale|genial|你好|谢谢|好的|再见|哈哈+)[\W\d_]*)+"
)

# writing help and other things the chat model does itself
CHAT_ONLY = _R(
    r"\b(?:write|compose|tell|give) (?:me |us )?(?:a |an |some |another )?(?:short |little |funny )?"
    r"(?:haiku|poem|story|joke|limerick|song|email|letter|essay|paragraph|tweet|riddle|fact)s?\b|"
    r"\bfix (?:my|the|this) (?:grammar|spelling|sentence)\b|\bexplain\b|\bhelp me (?:write|with|understand)\b|"
    r"\brecommend\b|\bgive me (?:some )?(?:ideas|tips|advice|names|suggestions)\b|\bwhat should i\b"
)

# "how do you say X in french": a question for the chat model, not a tool request
HOW_TO_SAY = _R(r"\bhow (?:do|would|can|should) (?:i|you|u|we|they) say\b|\bcomment (?:on )?dit[- ]on\b|\bc[óo]mo se dice\b|怎么说")

# a question in general form, not about a file
GENERAL_QUESTION = _R(
    r"^(?:\W*(?:so|and|but|btw|ok|okay|hey|thanks|thx|cool|lol|sorry|oh|well|wait|merci|gracias|ah)\b)*\W*(?:what|what's|whats|who|who's|whom|whose|when|where|why|how|which|is|are|"
    r"was|were|do|does|did|should|would|will|tell me|name|qu[ée]|qui|quel|quelle|quand|où|pourquoi|comment|"
    r"combien|c'est quoi|est-ce|cu[áa]l|qui[ée]n|cu[áa]ndo|d[óo]nde|por qu[ée]|c[óo]mo|cu[áa]nt)\b|\?\s*$|？\s*$|"
    r"吗\W*$|什么|为什么|怎么|哪|谁|几"
)
