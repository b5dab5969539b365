"""The package as users install it and the Space as Hugging Face builds it.

- `pip install .` into a fresh virtual environment, then `mer predict` from another folder (weights found inside the
  installed package, not the source tree);
- the Space build: a folder holding only requirements.txt resolves with `pip install --dry-run -r`, and
  `python app.py` from a plain copy of the tree (no install step) answers `/predict`;
- `mer --help` imports neither torch nor timm;
- the shipped weights live in the top-level checkpoints/ folder (tracked through Git LFS) and a built wheel carries
  them inside the package as mer/checkpoints/, where mer.weights finds them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "synthetic_happiness.webm"
SHIPPED = ("mer_dbfem_caffm.realfaces", "mer_dbfem_caffm.synth")


def _run(cmd: list[str], cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env
    return subprocess.run(cmd, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


def _plain_copy(dest: Path) -> Path:
    """The tracked files of the tree, as a Space's repository holds them (no .git, no venv, nothing built)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def test_mer_help_imports_neither_torch_nor_timm():
    code = "import sys; from mer.cli import build_parser; build_parser(); print({'torch', 'timm'} & {*sys.modules})"
    out = _run([sys.executable, "-c", code], cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "set()"


def test_import_mer_registers_the_models_when_timm_loads():
    code = "import mer, timm; print(len(timm.list_models('mer_*')))"
    out = _run([sys.executable, "-c", code], cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 8


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_then_mer_predict_from_another_folder(tmp_path):
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path).returncode == 0
    # the dependencies come from this environment (a .pth line, which processes no .pth of its own, so this
    # environment's editable `mer` stays out); `mer` itself is built and installed from the source tree
    fresh_site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (fresh_site / "dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    _run([*pip, "uninstall", "-q", "-y", "setuptools"], cwd=tmp_path)  # build with this environment's setuptools
    source = _plain_copy(tmp_path / "source")  # setuptools builds in the source folder: not in this checkout
    out = _run([*pip, "install", "-q", "--no-deps", "--no-build-isolation", str(source)], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clip = shutil.copy(EXAMPLE, elsewhere / "clip.webm")
    out = _run([str(venv / "bin" / "mer"), "predict", str(clip), "--json"], cwd=elsewhere)
    assert out.returncode == 0, out.stderr[-3000:]
    answer, _ = json.JSONDecoder().raw_decode(out.stdout.lstrip())  # the first (here: only) clip's answer
    assert answer["checkpoint"]["path"].startswith(str(fresh_site / "mer" / "checkpoints"))  # the installed weights
    assert answer["label"] == "happiness"
    located = _run([str(venv / "bin" / "python"), "-c", "import mer; print(mer.__file__)"], cwd=elsewhere)
    assert located.stdout.strip().startswith(str(fresh_site))


@pytest.mark.slow
def test_the_space_requirements_resolve_on_their_own(tmp_path):
    """The Space builder mounts requirements.txt alone: it must not name the repository or a local path."""
    shutil.copy(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    lines = [ln.split("#")[0].strip() for ln in (tmp_path / "requirements.txt").read_text().splitlines()]
    assert not [ln for ln in lines if ln.startswith(("-e", ".", "/", "file:"))]
    out = _run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q", "-r", "requirements.txt",
         "--report", "report.json"],
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    names = {item["metadata"]["name"].lower() for item in json.loads((tmp_path / "report.json").read_text())["install"]}
    assert {"torch", "timm", "gradio", "dlib-bin", "grad-cam", "opencv-contrib-python-headless"} <= names


@pytest.mark.slow
def test_app_py_from_a_plain_copy_of_the_tree_answers_predict(tmp_path):
    from app_server import free_port
    from gradio_client import Client, handle_file

    tree = _plain_copy(tmp_path / "space")
    port = free_port()
    env = {"GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "app.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=tree, stdout=log, stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env,
    )  # fmt: skip
    try:
        client = None
        for _ in range(240):
            if process.poll() is not None:
                break
            try:
                client = Client(f"http://127.0.0.1:{port}", verbose=False)
                break
            except Exception:
                time.sleep(1)
        assert client is not None, (tmp_path / "app.log").read_text()[-3000:]
        result = client.predict(handle_file(str(tree / "examples" / "synthetic_happiness.webm")), api_name="/predict")
        text = json.dumps(result, default=str)
        assert "happiness" in text, text[:2000]
        assert str(tree / "mer") in (tmp_path / "app.log").read_text() or process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_source_tree_finds_top_level_checkpoints():
    from mer.weights import DEMO_CHECKPOINT, FIRST_CHECKPOINT, shipped_checkpoints

    found = shipped_checkpoints()
    assert set(SHIPPED) <= set(found)
    assert DEMO_CHECKPOINT == ROOT / "checkpoints" / "mer_dbfem_caffm.realfaces"
    assert FIRST_CHECKPOINT.parent == ROOT / "checkpoints"
    for name in SHIPPED:
        card = json.loads((found[name] / "card.json").read_text())
        assert card["architecture"] == "mer_dbfem_caffm"


def test_weights_go_through_lfs():
    """The Hugging Face Hub refuses files over 10 MiB outside Git LFS: the moved weights keep the rule."""
    for name in SHIPPED:
        path = f"checkpoints/{name}/model.safetensors"
        out = subprocess.run(["git", "check-attr", "filter", path], cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            pytest.skip("not a git checkout")
        assert out.stdout.strip().endswith("filter: lfs"), out.stdout


@pytest.mark.slow
def test_built_wheel_carries_the_weights(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to copy the tree from")
    src = _plain_copy(tmp_path / "src")  # setuptools builds in the source folder: not in this checkout
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("mer-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in SHIPPED:
            for f in ("model.safetensors", "card.json", "config.json"):
                member = f"mer/checkpoints/{name}/{f}"
                assert member in names, f"{member} missing from {wheel.name}"
                size = zf.getinfo(member).file_size
                assert size == (ROOT / "checkpoints" / name / f).stat().st_size
        assert "mer/checkpoints/README.md" in names
        zf.extractall(tmp_path / "site")
    # the unpacked wheel, first on the path, imported from elsewhere: mer.weights points into the wheel's files
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import mer.weights as w; "
        "print(w.__file__); print(w.DEMO_CHECKPOINT); print(' '.join(w.shipped_checkpoints()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "site")], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    module, demo, shipped = out.stdout.strip().splitlines()
    site = (tmp_path / "site").resolve()
    assert Path(module).is_relative_to(site)
    assert Path(demo) == site / "mer" / "checkpoints" / "mer_dbfem_caffm.realfaces"
    assert set(shipped.split()) == set(SHIPPED)
