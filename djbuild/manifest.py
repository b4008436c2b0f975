"""dist/manifest.json: every file with its size, hash, origin and who imported it.

The analogue of esbuild's metafile: a build that explains itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


def origin_of(module: str) -> str:
    top = module.split(".")[0]
    return "runtime" if top == "runtime" else "app"


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@dataclass
class FileEntry:
    path: str
    bytes: int
    sha256: str
    origin: str  # "app", "runtime", "generated", "config", "vendor:<dist>==<version>"
    module: str | None
    imported_by: list[str]

    @classmethod
    def of(
        cls, path: str, data: bytes, origin: str, module: str | None, imported_by: list[str]
    ) -> FileEntry:
        return cls(path, len(data), hashlib.sha256(data).hexdigest(), origin, module, imported_by)


@dataclass
class Manifest:
    files: list[FileEntry] = field(default_factory=list)
    bundle_hash: str = ""
    requirements: list[str] = field(default_factory=list)
    app: str = ""
    partial: bool = False  # a module meant to ship as bytecode shipped as source (dev)
    _data: dict[str, bytes] = field(default_factory=dict, repr=False)

    def add(self, entry: FileEntry) -> None:
        self.files.append(entry)

    def finish(self, requirements: tuple[str, ...], app: str) -> None:
        self.files.sort(key=lambda f: f.path)
        self.requirements = sorted(requirements)
        self.app = app
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f"{f.path}\0{f.sha256}\n".encode())
        self.bundle_hash = digest.hexdigest()

    @property
    def uploaded(self) -> list[FileEntry]:
        """What wrangler uploads: the modules, not the build's own reports."""
        return [f for f in self.files if f.path.startswith(("src/", "python_modules/"))]

    def groups(self) -> dict[str, list[FileEntry]]:
        out: dict[str, list[FileEntry]] = {}
        for f in self.uploaded:
            out.setdefault(f.origin, []).append(f)
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "version": 1,
            "app": self.app,
            "bundleHash": self.bundle_hash,
            "requirements": self.requirements,
            "totals": {
                "files": len(self.uploaded),
                "bytes": sum(f.bytes for f in self.uploaded),
            },
            "files": [
                {
                    "path": f.path,
                    "bytes": f.bytes,
                    "sha256": f.sha256,
                    "origin": f.origin,
                    **({"module": f.module} if f.module else {}),
                    "importedBy": f.imported_by,
                }
                for f in self.files
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """A manifest read back from manifest.json."""
        files = [
            FileEntry(
                f["path"], f["bytes"], f["sha256"], f["origin"], f.get("module"), f["importedBy"]
            )
            for f in data["files"]
        ]
        return cls(files, data["bundleHash"], list(data["requirements"]), data["app"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


__all__ = ["FileEntry", "Manifest", "asdict", "gzip_size", "origin_of"]
