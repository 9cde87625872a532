"""The README's pandas and shell examples run as written, on a small CSV standing in for my.csv."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from helpers import write_csv

README = Path(__file__).resolve().parents[1] / "README.md"


def _example(kind: str) -> str:
    match = re.search(rf"<!-- readme-example: {kind} -->\n```\w+\n(.*?)```", README.read_text(), re.S)
    assert match, f"no {kind} example in the README"
    return match.group(1)


def test_python_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "my.csv", n=600, columns=("load", "temp", "OT"))
    exec(compile(_example("python"), "README.md", "exec"), {})
    assert (tmp_path / "my-forecaster" / "model.safetensors").is_file()


def test_shell_example(tmp_path):
    write_csv(tmp_path / "my.csv", n=260, columns=("load", "temp", "OT"))
    exe = Path(sys.executable).parent / "sparsecast"
    for line in _example("shell").strip().splitlines():
        args = shlex.split(line)
        assert args[0] in ("sparsecast", ".venv/bin/sparsecast")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sparsecast.cli"]
        res = subprocess.run(cmd + args[1:], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "forecast.csv").is_file() and (tmp_path / "forecast.png").is_file()


def _make_train_args(target: str) -> list[str]:
    """The arguments of the ``sparsecast train`` command of the Makefile's ``target`` (continuation lines joined)."""
    text = (README.parent / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, f"no {target} target in the Makefile"
    line = next(line for line in recipe.group(1).splitlines() if "sparsecast train " in line)
    args = shlex.split(line)
    return args[args.index("train"):]


def test_make_run_and_make_paper_train_the_models_the_readme_names():
    from sparsecast.cli.parser import build_parser
    from sparsecast.cli.train import default_model
    text = README.read_text()
    for target, model, words in (("run", "longpatch", "then trains LongPatch"),
                                 ("paper", "informer", "`make paper` trains the paper's Informer")):
        assert words in text
        a = build_parser().parse_args(_make_train_args(target))
        assert default_model(a) == model, target
