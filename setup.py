"""Package discovery, which pyproject.toml cannot say alone: every ``mer*`` package, plus the top-level
``checkpoints/`` folder (the shipped weights, where DESIGN.md lays them out and where app.py reads them from a plain
copy of the tree) installed inside the package as ``mer/checkpoints``. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["mer*"]), "mer.checkpoints"],
    package_dir={"mer.checkpoints": "checkpoints"},
)
