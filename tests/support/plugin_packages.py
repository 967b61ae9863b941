"""Building a wheel that declares a botkit plugin entry point, and installing it with pip."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from botkit.plugin_loader import ENTRY_POINT_GROUP

__all__ = ["install_plugin_package"]


def install_plugin_package(
    tmp_path: Path, *, distribution: str, module: str, source: str, entry: str
) -> Path:
    """Build a wheel of ``distribution`` holding ``module`` (its text ``source``) with the
    entry point ``entry = module:plugin``, install it with pip into a fresh folder, and
    return that folder (put it on ``sys.path`` to use it)."""
    version = "1.0"
    dist_info = f"{distribution.replace('-', '_')}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": source,
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: botkit-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": f"[{ENTRY_POINT_GROUP}]\n{entry} = {module}:plugin\n",
    }
    record = [f"{name},sha256={_digest(text)},{len(text.encode())}" for name, text in files.items()]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = tmp_path / f"{distribution.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    target = tmp_path / "site-packages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return target


def _digest(text: str) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
