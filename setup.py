"""Maps the top-level source folders onto the `ketch` namespace (see README, "Layout")."""

from setuptools import find_packages, setup

ROOTS = ("common", "guest", "host")

setup(
    packages=[f"ketch.{p}" for p in find_packages(".", include=[f"{r}*" for r in ROOTS])],
    package_dir={f"ketch.{root}": root for root in ROOTS},
)
