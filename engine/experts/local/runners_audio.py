"""Audio runners: speech recognition, audio classification and text-to-speech, on
transformers pipelines. Input audio is decoded and resampled to the model's rate."""

from __future__ import annotations

from engine.experts.local.media import load_audio, save_wav
from engine.experts.local.runners_base import PipelineRunner, required_arg, text_arg, top_labels
from engine.types import Resource


class SpeechRecognition(PipelineRunner):
    task = "automatic-speech-recognition"
    reads = ("audio",)
    outputs = ("text",)
    pipeline_task = "automatic-speech-recognition"

    def run(self, model, task, inputs, ctx, options):
        rate = getattr(model.feature_extractor, "sampling_rate", 16000)
        audio = load_audio(required_arg(inputs, "audio"), rate)
        out = model({"raw": audio, "sampling_rate": rate}, chunk_length_s=30)
        return [Resource(kind="text", text=str(out["text"]).strip())]


class AudioClassification(PipelineRunner):
    task = "audio-classification"
    reads = ("audio",)
    outputs = ("text", "json")
    pipeline_task = "audio-classification"

    def run(self, model, task, inputs, ctx, options):
        rate = getattr(model.feature_extractor, "sampling_rate", 16000)
        audio = load_audio(required_arg(inputs, "audio"), rate)
        text, labels = top_labels(model({"raw": audio, "sampling_rate": rate}, top_k=5))
        return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


class TextToSpeech(PipelineRunner):
    task = "text-to-speech"
    reads = ("text",)
    outputs = ("audio",)
    pipeline_task = "text-to-audio"

    def run(self, model, task, inputs, ctx, options):
        out = model(text_arg(inputs))
        return [save_wav(out["audio"], out["sampling_rate"], ctx, task.id)]
