"""Text runners: classification, NER, generation, seq2seq (summaries, translation,
rewrites), extractive QA and sentence similarity.

transformers 5 dropped the summarization, translation, text2text and extractive QA
pipelines; those runners drive the ``AutoModelFor...`` classes directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.errors import InputError
from engine.experts.local.runners_base import (
    Loaded,
    LoadSpec,
    PipelineRunner,
    Runner,
    jsonable,
    place,
    text_arg,
    to_device,
    top_labels,
)
from engine.types import Resource


class TextClassification(PipelineRunner):
    task = "text-classification"
    reads = ("text",)
    outputs = ("text", "json")
    pipeline_task = "text-classification"

    def run(self, model, task, inputs, ctx, options):
        text, labels = top_labels(model(text_arg(inputs), top_k=None))
        return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


class TokenClassification(PipelineRunner):
    task = "token-classification"
    reads = ("text",)
    outputs = ("text", "json")
    pipeline_task = "token-classification"
    pipeline_kwargs = {"aggregation_strategy": "simple"}

    def run(self, model, task, inputs, ctx, options):
        entities = jsonable(model(text_arg(inputs)))
        text = (
            "; ".join(
                f"{e.get('word', '').strip()}: {e.get('entity_group', e.get('entity'))}" for e in entities
            )
            or "no entities found"
        )
        return [Resource(kind="text", text=text), Resource(kind="json", data=entities)]


class TextGeneration(PipelineRunner):
    task = "text-generation"
    reads = ("text",)
    outputs = ("text",)
    pipeline_task = "text-generation"

    def run(self, model, task, inputs, ctx, options):
        prompt = text_arg(inputs)
        out = model(prompt, max_new_tokens=options.max_new_tokens, do_sample=False)
        return [Resource(kind="text", text=str(out[0]["generated_text"]))]


class Seq2SeqRunner(Runner):
    """Encoder-decoder models (T5, BART, Marian, Pegasus) with ``generate``; a decoder-only
    model is prompted with an instruction instead. T5-style task prefixes come from
    the config's ``task_specific_params``."""

    params_prefix: ClassVar[str] = ""
    instruction: ClassVar[str] = ""
    reads = ("text",)
    outputs = ("text",)

    def load(self, spec: LoadSpec) -> Any:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        kw = {"local_files_only": spec.local_files_only}
        config = AutoConfig.from_pretrained(spec.source, **kw)
        cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        model = place(cls.from_pretrained(spec.source, dtype=spec.device.dtype(), **kw), spec.device)
        tokenizer = AutoTokenizer.from_pretrained(spec.source, **kw)
        params = getattr(config, "task_specific_params", None) or {}
        chosen: dict[str, Any] = (
            next((v for k, v in params.items() if k.startswith(self.params_prefix)), {})
            if self.params_prefix
            else {}
        )
        return Loaded(
            model,
            tokenizer,
            spec.device,
            {"prefix": chosen.get("prefix", ""), "seq2seq": config.is_encoder_decoder},
        )

    def run(self, model: Loaded, task, inputs, ctx, options):
        import torch

        text = text_arg(inputs) or ""
        tok = model.processor
        prompt = model.extra["prefix"] + text if model.extra["seq2seq"] else f"{self.instruction}{text}\n"
        enc = tok(prompt, return_tensors="pt", truncation=True)
        enc.pop("token_type_ids", None)  # BERT-style tokenizers add them; generate() refuses them
        batch = to_device(enc, model.device, model.model)
        with torch.inference_mode():
            out = model.model.generate(**batch, max_new_tokens=options.max_new_tokens)
        if not model.extra["seq2seq"]:
            out = out[:, batch["input_ids"].shape[1] :]
        return [Resource(kind="text", text=tok.decode(out[0], skip_special_tokens=True).strip())]


class Text2Text(Seq2SeqRunner):
    task = "text2text-generation"
    instruction = "Rewrite the following text:\n"


class Summarization(Seq2SeqRunner):
    task = "summarization"
    params_prefix = "summarization"
    instruction = "Summarize the following text:\n"


class Translation(Seq2SeqRunner):
    task = "translation"
    params_prefix = "translation"
    instruction = "Translate the following text into English:\n"


class QuestionAnswering(Runner):
    """Extractive QA: the best span of the context (start <= end, at most 30 tokens)."""

    task = "question-answering"
    reads = ("text", "context")
    outputs = ("text",)

    def load(self, spec: LoadSpec) -> Any:
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        kw = {"local_files_only": spec.local_files_only}
        model = AutoModelForQuestionAnswering.from_pretrained(spec.source, dtype=spec.device.dtype(), **kw)
        return Loaded(
            place(model, spec.device), AutoTokenizer.from_pretrained(spec.source, **kw), spec.device, {}
        )

    def run(self, model: Loaded, task, inputs, ctx, options):
        import torch

        question = text_arg(inputs) or ""
        context = text_arg(inputs, "context", required=False) or ctx.request_text
        if not context:
            raise InputError("question-answering needs a context text to find the answer in")
        enc = model.processor(
            question,
            context,
            truncation="only_second",
            max_length=512,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping")[0].tolist()
        in_context = [s == 1 for s in enc.sequence_ids(0)]
        with torch.inference_mode():
            out = model.model(**to_device(enc, model.device, model.model))
        start = out.start_logits[0].float().cpu().numpy()
        end = out.end_logits[0].float().cpu().numpy()
        best, span = -np.inf, None
        for i in np.argsort(start)[::-1][:20]:
            if not in_context[i]:
                continue
            for j in range(i, min(i + 30, len(end))):
                if in_context[j] and start[i] + end[j] > best:
                    best, span = start[i] + end[j], (offsets[i][0], offsets[j][1])
        if span is None:
            return [Resource(kind="text", text="no answer found in the context")]
        return [Resource(kind="text", text=context[span[0] : span[1]].strip())]


class SentenceSimilarity(Runner):
    """Cosine similarity of two sentence embeddings (sentence-transformers pooling when the
    folder declares it, mean pooling of a plain encoder otherwise)."""

    task = "sentence-similarity"
    reads = ("text", "text2")
    outputs = ("text", "json")

    def load(self, spec: LoadSpec) -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            spec.source, device=spec.device.name, local_files_only=spec.local_files_only
        )

    def run(self, model, task, inputs, ctx, options):
        first, second = text_arg(inputs), text_arg(inputs, "text2")
        vectors = model.encode([first, second], normalize_embeddings=True, convert_to_numpy=True)
        score = float(np.dot(vectors[0], vectors[1]))
        return [
            Resource(kind="text", text=f"similarity {score:.3f} (cosine, -1 to 1)"),
            Resource(kind="json", data={"score": round(score, 4)}),
        ]
