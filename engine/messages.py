"""Every message the bot shows a user, in English: the msgids of the catalogues.

Call sites pass these constants to ``engine.i18n`` (``Messages(lang)(MSG, **params)``)
rather than writing text inline, so one extraction over this module finds them all
(``make i18n-extract``; engine/locale/README.md). Placeholders use ``str.format``
names, and every translation must keep the same names (tests/test_i18n.py holds it).
``N_`` marks a message; ``Np_`` a message with a plural form, chosen by a count.
Grouped by the module that shows them.
"""

from __future__ import annotations

from typing import NamedTuple


class Plural(NamedTuple):
    singular: str
    plural: str


def N_(msgid: str) -> str:  # noqa: N802 - the gettext marker's customary name
    return msgid


def Np_(singular: str, plural: str) -> Plural:  # noqa: N802
    return Plural(singular, plural)


# engine/engine.py: _apology
APOLOGY_LLM_TIMEOUT = N_("Sorry, the language model took too long to answer ({error}). Please try again.")
APOLOGY_LLM_UNREACHABLE = N_("Sorry, I couldn't use the language model: {error}")
APOLOGY_LLM_UNUSABLE = N_("Sorry, the language model's answer was unusable: {error}")
APOLOGY_BAD_INPUT = N_("Sorry, I couldn't use your input: {error}")
APOLOGY_NO_PLAN = N_("Sorry, I couldn't make a plan for that: {error}")

# engine/responder.py: summary, result_lines, _short, the LLM answer's fallbacks
DIGEST_ALL_DONE = N_("Done. Here is what I did:")
DIGEST_SOME_DONE = Np_(
    "{ok} of {total} step worked. Here is what I did:",
    "{ok} of {total} steps worked. Here is what I did:",
)
DIGEST_HEADER = N_("Here is what I did:")
DIGEST_RESULTS = N_("Results:")
DIGEST_ATTACHED = N_("Attached: {files}")
RESULT_OK = N_("- #{id} {task}: {outputs}")
RESULT_OK_WITH_MODEL = N_("- #{id} {task} with {model}: {outputs}")
RESULT_OK_WITH_MODEL_AND_REASON = N_("- #{id} {task} with {model} ({reason}): {outputs}")
RESULT_FAILED = N_("- #{id} {task}: failed: {error}")
RESULT_FAILED_WITH_MODEL = N_("- #{id} {task} with {model}: failed: {error}")
RESULT_SKIPPED = N_("- #{id} {task}: skipped: {error}")
RESULT_NO_OUTPUT = N_("done")
OUTPUT_IMAGE_FILE = N_("image file {name}")
OUTPUT_AUDIO_FILE = N_("audio file {name}")
OUTPUT_VIDEO_FILE = N_("video file {name}")
OUTPUT_FILE_NOTE = N_("{file} ({note})")

# engine/summary.py: the reply built from the results alone
SUMMARY_READ = N_("It says: “{text}”")
SUMMARY_SHOWS = N_("It shows: {text}")
SUMMARY_HEARD = N_("The recording says: “{text}”")
SUMMARY_TRANSLATION = N_("Translation: “{text}”")
SUMMARY_SUMMARY = N_("Summary: {text}")
SUMMARY_LOOKS_LIKE = N_("It looks like: {text}")
SUMMARY_MOOD = N_("Mood: {text}")
SUMMARY_FOUND = N_("Found: {text}")
SUMMARY_ANSWER = N_("Answer: {text}")
SUMMARY_RESULT = N_("{task}: {text}")
SUMMARY_SPOKEN = N_("Here it is read aloud.")
SUMMARY_VIDEO = N_("Here is the video.")
SUMMARY_PICTURE = N_("Here is the picture.")
SUMMARY_AUDIO = N_("Here is the audio.")
SUMMARY_FAILED = N_("I couldn't {action}: {error}")
SUMMARY_SKIPPED = N_("So I didn't {actions}.")
SUMMARY_NOTHING = N_("Nothing came of that: no step produced a result.")
ACTION_READ_IMAGE = N_("read the image")
ACTION_TRANSCRIBE = N_("transcribe the audio")
ACTION_SPEAK = N_("read it aloud")
ACTION_TRANSLATE = N_("translate it")
ACTION_MAKE_PICTURE = N_("make the picture")
ACTION_MAKE_VIDEO = N_("make the video")
ACTION_ANSWER_PICTURE = N_("answer about the picture")
ACTION_TASK = N_("do {task}")

# engine/responder.py, engine/claims.py: answers given without tools
RECALL_SAID = N_("It said: “{text}”")
RECALL_NOTHING = N_("I don't have an earlier result to repeat; send the file again and I'll read it.")
NOTHING_MADE = N_("I didn't run any tool for that. Tell me what to make, or send the file to work on.")

# engine/capabilities.py: questions about the bot itself
CAPABILITY_LIST = N_(
    "Here I can {listing}. Send me a file (a picture, a recording, a video) with what you want done, "
    "or just ask me something."
)
CAPABILITY_MISSING = N_("Not set up here: {names} (they need a GPU model or a Hugging Face token, HF_TOKEN).")
CAPABILITY_YES = N_("Yes: here I can {what}. Send it along with what you want.")
CAPABILITY_NO = N_("No, that is not something I can do.")
CAPABILITY_NOT_HERE = N_("Not here yet. To {what}, {why}.")
CAPABILITY_SHORT = N_("What I can do here: {listing}.")
CAN_READ_IMAGES = N_("read the text in images or say what a photo shows")
CAN_SPEAK = N_("read text aloud")
CAN_TRANSCRIBE = N_("transcribe speech in audio")
CAN_TRANSLATE = N_("translate text")
CAN_CLASSIFY_IMAGES = N_("name what a photo shows")
CAN_DETECT = N_("find objects or faces in a picture")
CAN_POSE = N_("draw a person's body pose")
CAN_SEGMENT = N_("cut out people from the background")
CAN_SLIDESHOW = N_("turn pictures into a short video")
CAN_MOOD = N_("tell the mood of a text")
CAN_SIMILARITY = N_("compare how similar two texts are")
CAN_SUMMARISE = N_("summarise text")
CAN_ANSWER_TEXT = N_("answer questions about a text")
CAN_ANSWER_PICTURE = N_("answer questions about a picture")
CAN_SPEECH_OR_NOT = N_("tell whether a recording has speech")
CAN_MAKE_IMAGES = N_("make images from a description")
CAN_RESTYLE = N_("restyle or transform images")
CAN_EDIT = N_("edit images as you describe")
CAN_MAKE_VIDEOS = N_("make videos from a description")
CAN_DEPTH = N_("estimate depth in a photo")
CAN_ANSWER_DOCUMENT = N_("answer questions about a document")
CAN_CHANGE_AUDIO = N_("clean up or change audio")
CAN_LABEL_VIDEO = N_("say what happens in a video")
NEEDS_SETUP = N_("it needs a GPU model (or its weights in the Hugging Face cache) or a Hugging Face token (HF_TOKEN)")

# engine/scheduler.py: why a task did not run
SKIPPED_AFTER_FAILURE = N_("skipped: needs task {id} ({task}), which failed")
SKIPPED_AFTER_SKIP = N_("skipped: needs task {id} ({task}), which was skipped")
NO_EXPERT_HERE = N_("no expert for {task} can run here")
EXPERT_TIMED_OUT = N_("{model}: timed out after {seconds} s")
NO_TIME_LEFT = N_("no time left for {model} within {seconds} s")

# engine/selector.py: why_unavailable, select
CANNOT_RUN_HERE = N_(
    "{task} cannot run here: it needs a GPU model (or its weights in the Hugging Face cache) "
    "or a Hugging Face token (HF_TOKEN) for hosted inference"
)
CANNOT_RUN_HERE_TOOL_MISSING = N_(
    "{task} cannot run here: it needs a GPU model (or its weights in the Hugging Face cache) "
    "or a Hugging Face token (HF_TOKEN) for hosted inference; its offline tool is missing: {why}"
)
SUBSTITUTED_TASK = N_(
    "no {task} expert can run here, so {substitute} answered instead, without using the question"
)

# engine/experts/builtin: what the offline tools say instead of a result
OCR_NO_TEXT = N_("No text found in the image.")
ASR_NO_SPEECH = N_("No speech found in the audio.")
TTS_SPEECH_NOTE = N_("speech, {seconds} s")
TTS_NO_VOICE = N_(
    "eSpeak NG has no {language} voice here (Debian: apt-get install espeak-ng-data); "
    "a hosted or local text-to-speech model can speak it"
)
TRANSLATION_NO_PAIR = N_(
    "no offline translation from {source} to {target} (Apertium has {pairs}): "
    "set HF_TOKEN for a hosted translation model, or run one on a GPU through experts.local"
)

# bot/conversations.py
EMPTY_REQUEST = N_("Send me a request in words, with files if you like.")
REQUEST_CUT = N_("your message was cut to {limit} characters")
INTERNAL_ERROR = N_("Sorry, something went wrong on my side ({error_type}).")

# bot/ingest.py: files left out or cut
FILE_LABEL = N_("file {number}")
FILE_TOO_MANY = N_("{name}: left out, at most {limit} files per message")
FILE_TOO_BIG = N_("{name}: left out, it is {size} and the limit is {limit}")
FILE_EMPTY = N_("{name}: left out, the file is empty")
FILE_UNSUPPORTED = N_("{name}: left out, unsupported type (send images, audio, video or text)")
FILE_TEXT_CUT = N_("{name}: only the first {limit} characters were read")

# adapters/discord/incoming.py, adapters/slack/files.py
DISCORD_FILE_TOO_BIG = N_("{name} ({size} MiB) was not read: files over {limit} MiB are not accepted.")
DISCORD_FILE_UNREADABLE = N_("{name} could not be downloaded ({error_type}).")
SLACK_TOO_MANY_FILES = N_("Only the first {limit} files are used: {name} was skipped.")

# adapters/progress.py: the status message
PROGRESS_THINKING = N_("Thinking…")
PROGRESS_QUEUED = Np_("Queued behind {count} earlier message…", "Queued behind {count} earlier messages…")
PROGRESS_WORKING = N_("Working on it…")
PROGRESS_PLANNING = N_("Planning…")
PROGRESS_PLAN = Np_("Plan: {count} task", "Plan: {count} tasks")
PROGRESS_ANSWERING_DIRECTLY = N_("Answering directly…")
PROGRESS_WRITING = N_("Writing the answer…")
PROGRESS_DONE = N_("Done.")
PROGRESS_LINE = N_("{icon} #{id} {task}: {state}")
PROGRESS_LINE_WITH_MODEL = N_("{icon} #{id} {task} ({model}): {state}")
STATE_PENDING = N_("pending")
STATE_RUNNING = N_("running")
STATE_OK = N_("ok")
STATE_FAILED = N_("failed")
STATE_SKIPPED = N_("skipped")

# adapters/terminal.py
TERMINAL_HELP = N_(
    "Type a request and press Enter. Commands:\n"
    "  /attach PATH   add a file (image, audio, video, text) to your next message\n"
    "  /forget        clear this conversation's context\n"
    "  /help          show this help\n"
    "  /quit          leave (also Ctrl-D)"
)
TERMINAL_WELCOME = N_("HuggingGPT chat ({channel}). /help for commands.")
TERMINAL_CONTEXT_CLEARED = N_("Context cleared.")
TERMINAL_ATTACHED = Np_(
    "attached {name} ({count} file for the next message)",
    "attached {name} ({count} files for the next message)",
)
TERMINAL_UNKNOWN_COMMAND = N_("unknown command {command}; /help lists them")
TERMINAL_ERROR = N_("error: {error}")
TERMINAL_WARNING = N_("warning: {warning}")
TERMINAL_PLAN_DIRECT = N_("plan: no tools needed, answering directly")
TERMINAL_PLAN = N_("plan ({source}):")
TERMINAL_WRITING = N_("writing the answer…")
TERMINAL_NO_SUCH_FILE = N_("{path}: no such file")
TERMINAL_NOT_A_FILE = N_("{path}: not a regular file")
TERMINAL_FILE_TOO_BIG = N_("{path}: {size} MB is over the {limit} MB limit (limits.max_attachment_mb)")
TERMINAL_FILE_UNREADABLE = N_("{path}: cannot read it ({reason})")


def all_messages() -> dict[str, str | Plural]:
    """Every message constant of this module, by name."""
    return {
        name: value for name, value in globals().items() if name.isupper() and isinstance(value, str | Plural)
    }
