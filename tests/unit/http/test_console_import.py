"""The console's import page reads a REST export from a zip: below one top folder or not, this project's
files only, and never more JSON than the upload limit, whatever the zip's headers claim."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from flagward.domain.errors import InvalidRequest
from flagward.http.console.pages_import import _rest_files


def _zip(files: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, doc in files.items():
            archive.writestr(name, doc if isinstance(doc, str) else json.dumps(doc))
    return buffer.getvalue()


def test_the_files_of_the_project_are_read_below_a_top_folder() -> None:
    raw = _zip({"export/projects/shop.json": {"key": "shop"}, "export/flags/shop/a.json": {"key": "a"}, "x.txt": ""})
    assert _rest_files(raw, "shop", 1024) == {"projects/shop.json": {"key": "shop"}, "flags/shop/a.json": {"key": "a"}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not a zip", "A REST export must be a .zip"),
        (_zip({"flags/other/a.json": {}}), "flags/other/a.json is of another project"),
        (_zip({"flags/shop/a.json": "{"}), "flags/shop/a.json is not JSON"),
        (_zip({"README.md": "hi"}), "The zip holds no projects/, flags/ or segments/ JSON files"),
        (_zip({"flags/shop/a.json": {"pad": "x" * 4000}}), "The zip holds more than"),
    ],
)
def test_what_is_not_a_rest_export_of_the_project_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _rest_files(raw, "shop", 1024)
    assert refused.value.message.startswith(message)
