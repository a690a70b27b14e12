"""docs/supported-endpoints.md lists exactly the routes the daemon serves."""

import pathlib
import re

from ketch.guest.api.app import RESOURCE_MODULES

DOC = pathlib.Path(__file__).parents[2] / "docs" / "supported-endpoints.md"


def test_table_matches_router() -> None:
    documented = set(
        re.findall(r"^\| (GET|HEAD|POST|PUT|DELETE) \| (\S+) \|", DOC.read_text(), re.MULTILINE)
    )
    served = {(method, path) for module in RESOURCE_MODULES for method, path, _ in module.ROUTES}
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"
