"""Module scans remembered by file identity, so `djbuild check` on every save stays fast.

A scan depends only on the file's text and its module name; (path, size, mtime, name) is the
key. Vendored files never change once installed, and project files are rescanned when saved.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from .scan import Hazard, ImportRef, ModuleScan, scan_source

VERSION = 2  # 2: forbidden calls are hazards


class ScanCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: dict[str, dict] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text())
                if data.get("version") == VERSION:
                    self._entries = data["entries"]
            except (OSError, ValueError, KeyError):
                self._entries = {}

    @staticmethod
    def _key(file: Path, module: str) -> str:
        st = file.stat()
        return f"{file}|{st.st_size}|{st.st_mtime_ns}|{module}"

    def scan(self, file: Path, module: str, is_package: bool) -> ModuleScan:
        key = self._key(file, module)
        hit = self._entries.get(key)
        if hit is not None:
            return ModuleScan(
                [
                    ImportRef(i["module"], i["line"], i["col"], tuple(i["names"]), i["dynamic"])
                    for i in hit["imports"]
                ],
                [Hazard(**h) for h in hit["hazards"]],
            )
        result = scan_source(file.read_text(encoding="utf-8"), module, is_package, str(file))
        self._entries[key] = {
            "imports": [asdict(i) for i in result.imports],
            "hazards": [asdict(h) for h in result.hazards],
        }
        self._dirty = True
        return result

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        live = {k: v for k, v in self._entries.items() if os.path.exists(k.split("|", 1)[0])}
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"version": VERSION, "entries": live}))
            tmp.replace(self.path)
        except OSError:
            pass  # a cache that cannot be written only costs time
        self._dirty = False


class SplitScanCache:
    """Scans of files under `folder` kept in their own cache (e.g. beside a vendor set, whose
    files never change), the rest in `default`."""

    def __init__(self, default: ScanCache, folder: Path, own: ScanCache) -> None:
        self.default = default
        self.folder = folder
        self.own = own

    def scan(self, file: Path, module: str, is_package: bool) -> ModuleScan:
        cache = self.own if file.is_relative_to(self.folder) else self.default
        return cache.scan(file, module, is_package)

    def save(self) -> None:
        self.default.save()
        self.own.save()
