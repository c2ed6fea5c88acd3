"""The container image's recipe, checked without a Docker engine: the Dockerfile is
parsed as Docker reads it (continuations joined, comment lines dropped), the lists its
builder reads from scripts/bootstrap.sh are produced by running that very step, the
health check runs against a real server, and .dockerignore is matched with Docker's
rules (a pattern that matches a folder excludes what is inside it; the last match wins)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = ROOT / "scripts" / "bootstrap.sh"
BUILD_ONLY = re.compile(r"python3(-.*)?|build-essential|cmake|chromium.*|.*-dev")
COMPILERS = {"build-essential", "cmake", "gcc", "g++", "make", "python3-dev"}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) pairs: comment lines dropped, backslash continuations joined."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", "")
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def stages(text: str) -> list[Stage]:
    found: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(words[0], name))
        elif found:
            found[-1].instructions.append((keyword, rest))
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[Stage]:
    return stages((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def exec_form(rest: str) -> list[str]:
    words = json.loads(rest)
    assert isinstance(words, list), f"not the exec (JSON) form: {rest}"
    return words


def bootstrap_apt_packages() -> list[str]:
    """APT_PACKAGES as bootstrap.sh builds it (an assignment may extend the one before)."""
    value = ""
    for m in re.finditer(r'^APT_PACKAGES="([^"]*)"$', BOOTSTRAP.read_text(encoding="utf-8"), re.M):
        value = m.group(1).replace("$APT_PACKAGES", value)
    return value.split()


def bootstrap_no_deps_packages() -> list[str]:
    text = BOOTSTRAP.read_text(encoding="utf-8").replace("\\\n", " ")
    m = re.search(r"pip install -q --no-deps (.+)", text)
    assert m, "bootstrap.sh installs no --no-deps packages"
    return [w.strip('"') for w in m.group(1).split()]


def test_the_image_is_built_in_a_builder_stage_and_run_from_a_slim_one(dockerfile):
    assert len(dockerfile) >= 2
    builder, runtime = dockerfile[0], dockerfile[-1]
    assert builder.name == "builder" and runtime.base == builder.base  # one CPython, one venv path
    assert any("build-essential" in r and "cmake" in r for r in builder.all("RUN"))
    assert all(not (COMPILERS & set(r.split())) for r in runtime.all("RUN")), "a compiler in the runtime"
    copies = runtime.all("COPY")
    assert "--from=builder /opt/venv /opt/venv" in copies  # the venv keeps the path its scripts name
    assert all(c.startswith("--from=builder") for c in copies), (
        "the runtime copies only what the builder made"
    )


def pip_installs(stage: Stage) -> list[list[str]]:
    """The words after each ``pip install`` the stage runs (quoted text is not a command)."""
    found = []
    for run in stage.all("RUN"):
        lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        for i in range(len(words) - 1):
            if words[i] == "pip" and words[i + 1] == "install":
                rest = words[i + 2 :]
                ends = [j for j, w in enumerate(rest) if w in {"&&", "||", ";", "|", ">"}]
                found.append(rest[: ends[0]] if ends else rest)
    return found


def test_the_project_is_installed_into_a_fixed_venv_not_editable(dockerfile):
    runs = " ".join(dockerfile[0].all("RUN"))
    assert "python -m venv /opt/venv" in runs
    installs = pip_installs(dockerfile[0])
    assert [".${extras:+[$extras]}"] == [w for words in installs for w in words if w.startswith(".")]
    assert all("-e" not in words and "--editable" not in words for words in installs)
    torch = [words for words in installs if "--index-url" in words]
    assert len(torch) == 1  # the pin read from bootstrap.sh, from the CPU index
    assert all(words[words.index("-c") + 1] == "constraints.txt" for words in installs if words not in torch)
    assert "python -m engine.picker.embedder --prepare" in runs  # the bootstrap's ONNX export


def test_the_last_user_is_not_root_and_owns_the_encoder_cache_and_data(dockerfile):
    runtime = dockerfile[-1]
    user = runtime.last("USER")
    assert user is not None
    uid = user.split(":")[0]
    assert uid not in {"root", "0"}
    setup = " ".join(runtime.all("RUN"))
    assert f"--uid {uid}" in setup and "chown -R hgb:hgb /home/hgb /data" in setup
    cache = next(c for c in runtime.all("COPY") if "minilm-onnx" in c)
    assert "--chown=hgb:hgb" in cache


def test_the_copied_export_lies_where_the_runtime_user_looks_for_it(dockerfile, monkeypatch):
    from engine.picker import embedder

    runtime = dockerfile[-1]
    cache = next(c for c in runtime.all("COPY") if "minilm-onnx" in c).split()
    home = re.search(r"--home-dir (\S+)", " ".join(runtime.all("RUN")))
    assert home
    monkeypatch.delenv("HGB_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", "/root")
    assert cache[-2] == str(embedder.cache_dir())  # where the builder (root) exported it
    monkeypatch.setenv("HOME", home.group(1))
    assert cache[-1] == str(embedder.cache_dir())


def test_it_serves_http_on_the_exposed_port_with_data_on_a_volume(dockerfile):
    runtime = dockerfile[-1]
    command = exec_form(runtime.last("ENTRYPOINT") or "[]") + exec_form(runtime.last("CMD") or "[]")
    assert command[:2] == ["hugginggpt-bot", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert runtime.last("EXPOSE") == port
    env = " ".join(runtime.all("ENV"))
    assert "HUGGINGGPT_DATA_DIR=/data" in env and "HF_HUB_OFFLINE=1" in env
    assert exec_form(runtime.last("VOLUME") or "[]") == ["/data"]
    check = runtime.last("HEALTHCHECK")
    assert check and f"127.0.0.1:{port}/healthz" in check


def health_command(dockerfile: list[Stage]) -> list[str]:
    check = dockerfile[-1].last("HEALTHCHECK") or ""
    return exec_form(check[check.index("CMD") + 3 :].strip())


async def _run(argv: list[str]) -> int:
    proc = await asyncio.create_subprocess_exec(*argv, stderr=asyncio.subprocess.DEVNULL)
    return await proc.wait()


async def test_the_health_check_passes_on_a_serving_bot_and_fails_once_it_stops(dockerfile, serve_with):
    argv = health_command(dockerfile)
    assert argv[0] == "python"  # the venv's, first on PATH in the image
    async with serve_with() as app:
        address = app.url.removeprefix("http://")
        probe = [sys.executable, *argv[1:-1], argv[-1].replace("127.0.0.1:8080", address)]
        assert address in probe[-1]
        assert await _run(probe) == 0
    assert await _run(probe) != 0


@pytest.fixture
def serve_with(openai_server, tmp_path, make):
    from tests.adapters.http_harness import served

    def start():
        engine, backend = make(openai_server.base_url)
        return served(tmp_path, engine, backend)

    return start


def test_the_builder_reads_its_lists_from_bootstrap(dockerfile, tmp_path):
    """Run the builder's own extraction step on a copy of bootstrap.sh."""
    step = next(r for r in dockerfile[0].all("RUN") if r.startswith("mkdir -p lists"))
    (tmp_path / "scripts").mkdir()
    shutil.copy(BOOTSTRAP, tmp_path / "scripts" / "bootstrap.sh")
    subprocess.run(["bash", "-o", "pipefail", "-c", step], cwd=tmp_path, check=True, timeout=30)
    lists = {p.stem: p.read_text().split("\n")[:-1] for p in (tmp_path / "lists").glob("*.txt")}

    apt = bootstrap_apt_packages()
    assert lists["apt-runtime"] == [p for p in apt if not BUILD_ONLY.fullmatch(p)]
    assert set(lists["apt-runtime"]) <= set(apt)
    assert {"tesseract-ocr", "espeak-ng", "ffmpeg", "apertium"} <= set(lists["apt-runtime"])
    assert not {"chromium", "build-essential", "cmake", "python3-dev"} & set(lists["apt-runtime"])
    assert lists["no-deps"] == bootstrap_no_deps_packages()
    text = BOOTSTRAP.read_text(encoding="utf-8")
    assert lists["torch"] == sorted(set(re.findall(r"torch==[\d.]+", text)))
    assert lists["cmake-args"] == re.findall(r'CMAKE_ARGS="([^"]*)"', text)
    extras = re.search(r'pip install -q -e "\.\[([^\]]*)\]"', text)
    assert extras and lists["extras"] == [e for e in extras.group(1).split(",") if e != "dev"]


def test_the_runtime_installs_exactly_the_list_read_from_bootstrap(dockerfile):
    runtime = dockerfile[-1]
    assert "--from=builder /src/lists/apt-runtime.txt /tmp/apt-runtime.txt" in runtime.all("COPY")
    install = next(r for r in runtime.all("RUN") if "apt-get install" in r)
    assert "xargs -a /tmp/apt-runtime.txt apt-get install -y --no-install-recommends" in install
    words = shlex.split(install.split("apt-get install", 1)[1].split("&&")[0])
    assert all(w.startswith("-") for w in words), f"packages named outside bootstrap.sh: {words}"


# debian:bookworm-slim's apt needs libc6, libgcc-s1, libstdc++6 and zlib1g; the python image
# keeps libssl3 for CPython's ssl module.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libssl3"}


def dev_distribution_files() -> set[Path]:
    """Files of the packages the dev extra names: not installed in the image."""
    names = [
        re.split(r"[\s;<>=!\[~]", r, maxsplit=1)[0]
        for r in metadata.requires("hugginggpt-bot") or []
        if 'extra == "dev"' in r
    ]
    files: set[Path] = set()
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        files.update(Path(str(dist.locate_file(f))).resolve() for f in dist.files or ())
    return files


@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("ldd", "dpkg", "apt-cache")),
    reason="needs Debian's ldd, dpkg, apt-cache",
)
def test_the_runtime_packages_provide_every_system_library_the_venv_links(tmp_path):
    """ldd of every compiled module in this set-up's venv: each system library it needs
    must come from the runtime packages' Depends closure or the base image."""
    site = Path(sysconfig.get_paths()["purelib"])
    skip = dev_distribution_files()
    modules = [p for p in site.rglob("*.so*") if p.is_file() and p.resolve() not in skip]
    needed: set[str] = set()
    for i in range(0, len(modules), 200):
        out = subprocess.run(["ldd", *map(str, modules[i : i + 200])], capture_output=True, text=True).stdout
        needed |= {m for m in re.findall(r"=> (/\S+)", out) if not m.startswith(str(site.parent))}
    needed = {p for p in needed if not Path(p).resolve().is_relative_to(Path(sys.prefix).resolve())}
    owners: set[str] = set()
    for lib in sorted(needed):
        found = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True)
        if found.returncode != 0:
            found = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        assert found.returncode == 0, f"{lib}: no Debian package owns it"
        owners.add(found.stdout.split(":")[0])
    runtime = [p for p in bootstrap_apt_packages() if not BUILD_ONLY.fullmatch(p)]
    tree = subprocess.run(
        [
            "apt-cache",
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *runtime,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    closure = {line.strip() for line in tree.splitlines() if not line.startswith(" ")}
    assert owners, "found no system library: the scan is broken"
    assert owners <= closure | BASE_IMAGE_PACKAGES, (
        f"not in the image: {sorted(owners - closure - BASE_IMAGE_PACKAGES)}"
    )


def dockerignore_excludes(path: str) -> bool:
    patterns = [
        ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip() and ln[0] != "#"
    ]

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
            out += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        return re.compile(out)

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        rx = regex(pattern.lstrip("!"))
        if any(rx.fullmatch(p) for p in prefixes):
            excluded = not negate
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".git",
        ".git/HEAD",
        ".venv/bin/python",
        "engine/__pycache__/dag.cpython-311.pyc",
        ".ruff_cache/x",
        ".mypy_cache/3.11/x.json",
        ".pytest_cache/v",
        "hugginggpt_bot.egg-info/PKG-INFO",
        "var/db.sqlite3",
        "data/hugginggpt.sqlite3",
        ".env",
        "build/lib/x.py",
        "dist/x.whl",
    ],
)
def test_dockerignore_keeps_history_venvs_caches_and_local_data_out(path):
    assert dockerignore_excludes(path)


def test_dockerignore_keeps_every_tracked_file_the_build_needs():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    needed = [
        f
        for f in tracked.stdout.split("\n")
        if f.startswith(("bot/", "engine/", "adapters/", "configs/"))
        or f in {"pyproject.toml", "README.md", "scripts/bootstrap.sh", "constraints.txt"}
    ]
    assert "engine/data/catalogue.jsonl" in needed
    assert [f for f in needed if dockerignore_excludes(f)] == []


def test_a_non_editable_install_carries_every_file_the_packages_hold(tmp_path):
    """The image installs a wheel, not the checkout: every tracked file of bot/, engine/
    and adapters/ (docs aside) must be in it, and the default config, which lives beside
    the packages, is copied beside them by the builder."""
    tracked = subprocess.run(
        ["git", "ls-files", "bot", "engine", "adapters", "pyproject.toml", "README.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in tracked:
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / "src" / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            "out",
            "./src",
        ],
        cwd=tmp_path,
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "out").glob("hugginggpt_bot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    package_files = [f for f in tracked if "/" in f and not f.endswith(".md")]
    assert "engine/data/catalogue.jsonl" in package_files
    assert [f for f in package_files if f not in shipped] == []

    from bot.config import DEFAULT_CONFIG

    assert DEFAULT_CONFIG == ROOT / "configs" / "default.yaml"  # next to bot/, engine/, adapters/
    assert 'cp -r configs "$site/configs"' in " ".join((ROOT / "Dockerfile").read_text().split())
