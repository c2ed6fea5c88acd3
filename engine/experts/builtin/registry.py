"""The builtin tools the bot ships with, in catalogue order."""

from __future__ import annotations

from engine.experts.builtin.apertium import ApertiumTranslate
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.efficientnet import EfficientNetDescribe, EfficientNetLite0
from engine.experts.builtin.espeak import EspeakTTS
from engine.experts.builtin.ffmpeg_video import FfmpegImagesToVideo
from engine.experts.builtin.mediapipe_face import MediaPipeFace
from engine.experts.builtin.mediapipe_pose import MediaPipePose
from engine.experts.builtin.mediapipe_segment import MediaPipeSegment
from engine.experts.builtin.minilm import MiniLMSimilarity
from engine.experts.builtin.opencv_cascade import OpenCVCascade
from engine.experts.builtin.silero_vad import SileroVAD
from engine.experts.builtin.tesseract import TesseractOCR
from engine.experts.builtin.vader import VaderSentiment
from engine.experts.builtin.whisper import WhisperASR


def default_tools() -> list[BuiltinTool]:
    """Fresh instances (each holds its own lazily loaded model)."""
    classifier = EfficientNetLite0()  # one loaded model for classifying and describing
    return [
        TesseractOCR(),
        EspeakTTS(),
        WhisperASR(),
        SileroVAD(),
        VaderSentiment(),
        MiniLMSimilarity(),
        MediaPipePose(),
        MediaPipeFace(),
        MediaPipeSegment(),
        OpenCVCascade(),
        ApertiumTranslate(),
        classifier,
        EfficientNetDescribe(classifier),
        FfmpegImagesToVideo(),
    ]
