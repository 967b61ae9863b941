"""Maps the top-level adapters/, plugins/ and characters/ folders into the botkit namespace."""

from setuptools import find_packages, setup

ROOTS = {
    "botkit": "botkit",
    "botkit.adapters": "adapters",
    "botkit.plugins": "plugins",
    "botkit.packs": "characters",
}


def _packages() -> list[str]:
    found: list[str] = []
    for package, folder in ROOTS.items():
        found += [package, *(f"{package}.{sub}" for sub in find_packages(folder))]
    return sorted(set(found))


setup(package_dir=ROOTS, packages=_packages())
