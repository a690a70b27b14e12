"""The JSON messages of the classic builder's output stream, as the docker CLI renders them."""

from typing import Any


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def text(message: str) -> dict[str, Any]:
    return {"stream": message}


def step(number: int, total: int, original: str) -> dict[str, Any]:
    return text(f"Step {number}/{total} : {original}\n")


def arrow(message: str) -> dict[str, Any]:
    return text(f" ---> {message}\n")


def aux_id(image_id: str) -> dict[str, Any]:
    return {"aux": {"ID": image_id}}
