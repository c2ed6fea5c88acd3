# The HTTP server (`hugginggpt-bot serve`) in a container, set up as scripts/bootstrap.sh
# sets up a machine. bootstrap.sh stays the one source of truth: the builder reads its
# Debian packages, torch pin, llama.cpp build flags, extras and --no-deps model packages
# from it. The runtime stage has no compiler and runs as an unprivileged user.
#   docker build -t hugginggpt-bot .
#   docker run -e HUGGINGGPT_API_KEY=... -p 8080:8080 -v hgb-data:/data hugginggpt-bot
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# torch's CPU build: PyPI's default build pulls several GB of CUDA libraries.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/bootstrap.sh scripts/bootstrap.sh
COPY constraints.txt constraints.txt
# What bootstrap.sh installs, read from it into lists/: the Debian packages less the
# compiler, headers and browser; the torch pin; llama.cpp's CMAKE_ARGS; the project's
# extras less dev; the packages that carry model files (installed without dependencies).
RUN mkdir -p lists \
 && bash -c 'eval "$(grep -E "^APT_PACKAGES=" scripts/bootstrap.sh)"; printf "%s\n" $APT_PACKAGES' \
    | grep -vxE 'python3(-.*)?|build-essential|cmake|chromium.*|.*-dev' > lists/apt-runtime.txt \
 && grep -oE 'torch==[0-9][0-9.]*' scripts/bootstrap.sh | sort -u > lists/torch.txt \
 && sed -n 's/^ *CMAKE_ARGS="\([^"]*\)".*/\1/p' scripts/bootstrap.sh > lists/cmake-args.txt \
 && sed -n 's/.*pip install -q -e "\.\[\([^]]*\)\]".*/\1/p' scripts/bootstrap.sh | tr ',' '\n' \
    | { grep -vx 'dev' || true; } > lists/extras.txt \
 && sed -e ':a' -e '/\\$/{N;s/\\\n//;ba}' scripts/bootstrap.sh \
    | sed -n 's/.*pip install -q --no-deps //p' | tr -d '"' | tr -s ' ' '\n' | sed '/^$/d' > lists/no-deps.txt \
 && for f in apt-runtime no-deps; do \
      test -s "lists/$f.txt" || { echo "read nothing from scripts/bootstrap.sh into lists/$f.txt" >&2; exit 1; }; \
    done \
 && for f in torch cmake-args; do \
      test "$(wc -l < "lists/$f.txt")" -eq 1 || { echo "expected one line in lists/$f.txt" >&2; exit 1; }; \
    done
# pip, wheel and setuptools are pinned by constraints.txt (hadolint does not read -c).
# hadolint ignore=DL3013
RUN python -m venv /opt/venv \
 && pip install -q -c constraints.txt --upgrade pip wheel setuptools \
 && xargs -a lists/torch.txt pip install -q --index-url "$TORCH_INDEX_URL"
# llama-cpp-python compiled for any x86-64 CPU (GGML_NATIVE=OFF in bootstrap's flags).
RUN CMAKE_ARGS="$(cat lists/cmake-args.txt)" pip wheel -q --no-deps -c constraints.txt -w /wheels llama-cpp-python \
 && pip install -q -c constraints.txt /wheels/llama_cpp_python-*.whl
COPY . /src
RUN extras=$(paste -sd, lists/extras.txt) \
 && pip install -q -c constraints.txt ".${extras:+[$extras]}" \
 && xargs -a lists/no-deps.txt pip install -q --no-deps -c constraints.txt \
 && site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && cp -r configs "$site/configs"
# bot/config.py finds configs/default.yaml next to the installed packages (above); the
# MiniLM encoder is exported to ONNX once, as the bootstrap does, from outside the sources.
WORKDIR /
RUN python -m engine.picker.embedder --prepare \
 && hugginggpt-bot --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=builder /src/lists/apt-runtime.txt /tmp/apt-runtime.txt
# hadolint ignore=DL3008
RUN apt-get update \
 && xargs -a /tmp/apt-runtime.txt apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/apt-runtime.txt
# The bot writes joined model files under ~/.cache and its database and files under /data.
RUN groupadd --system --gid 10001 hgb \
 && useradd --system --uid 10001 --gid hgb --home-dir /home/hgb --create-home --shell /usr/sbin/nologin hgb \
 && mkdir -p /home/hgb/.cache/hugginggpt-bot /data \
 && chown -R hgb:hgb /home/hgb /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=hgb:hgb /root/.cache/hugginggpt-bot/minilm-onnx /home/hgb/.cache/hugginggpt-bot/minilm-onnx
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HUGGINGGPT_DATA_DIR=/data
USER 10001:10001
WORKDIR /home/hgb
# A no-op when the copied export matches the installed weights; re-exports otherwise.
RUN python -m engine.picker.embedder --prepare > /dev/null
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["hugginggpt-bot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
