"""The engine's one error tree. Foreign errors are translated at the edge with
``raise ... from exc`` so callers catch these, never openai/huggingface_hub types.

    EngineError
    ├── ConfigError            a setting is wrong; the message names the key and the fix
    ├── LLMError               the controller LLM could not answer
    │   ├── LLMUnavailable     unreachable, refused, bad credentials, model missing
    │   ├── LLMTimeout         no answer in time
    │   └── LLMBadOutput       answered, but not in the required shape (recoverable)
    ├── PlanError              no valid plan could be made from the LLM's answer
    ├── ExpertError            one expert failed; becomes a failed TaskResult
    │   ├── ExpertUnavailable  cannot run here (missing weights, token, tool)
    │   └── ExpertTimeout      ran past the per-task timeout
    └── InputError             a user-supplied file or argument was refused
                               (missing, unreadable, too large, unsupported, outside
                               the request's folders); the message names the file

"The model misbehaved" (LLMBadOutput, PlanError, ExpertError) is recoverable: the
engine repairs, retries, falls back, or records a failed task. Anything else is a
bug and propagates.
"""


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(EngineError):
    pass


class LLMError(EngineError):
    pass


class LLMUnavailable(LLMError):
    pass


class LLMTimeout(LLMError):
    pass


class LLMBadOutput(LLMError):
    pass


class PlanError(EngineError):
    pass


class ExpertError(EngineError):
    pass


class ExpertUnavailable(ExpertError):
    pass


class ExpertTimeout(ExpertError):
    pass


class InputError(EngineError):
    pass
