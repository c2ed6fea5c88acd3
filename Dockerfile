# The same set-up as the README: Debian with Python 3.11, then scripts/bootstrap.sh.
FROM python:3.11-slim-bookworm
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
WORKDIR /app
COPY . /app
RUN bash scripts/bootstrap.sh setup && rm -rf /root/.cache/pip
VOLUME ["/data"]
ENV HUGGINGGPT_DATA_DIR=/data
ENTRYPOINT ["/app/.venv/bin/hugginggpt-bot"]
CMD ["chat"]
