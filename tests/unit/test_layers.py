"""The import contracts in pyproject.toml ([tool.importlinter]) hold: api -> engine -> runtime,
store, registry -> util, no lower layer reaches up, the host and the guest import nothing of each
other and ketch.common neither of them."""

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports") or os.path.join(
        os.path.dirname(sys.executable), "lint-imports"
    )
    if not os.path.exists(lint_imports):
        pytest.fail("lint-imports is not installed: pip install import-linter (test extras)")
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
