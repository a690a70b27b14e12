"""Where the Engine API reference (shared/spec/engine-api-v1.50.yaml) is, for the tests that
check models and fuzz requests against it: $KETCH_API_SPEC, else shared/spec/ beside this
checkout or one of its parents."""

import os
from pathlib import Path
from typing import Any

SPEC_RELATIVE = Path("shared") / "spec" / "engine-api-v1.50.yaml"


def find_spec() -> Path | None:
    if env := os.environ.get("KETCH_API_SPEC"):
        return Path(env)
    for folder in Path(__file__).resolve().parents:
        for candidate in (folder / SPEC_RELATIVE, folder.parent / SPEC_RELATIVE):
            if candidate.is_file():
                return candidate
    return None


def load_spec(path: Path) -> dict[str, Any]:
    import yaml  # a test dependency

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(), Loader=loader)  # type: ignore[no-any-return]
