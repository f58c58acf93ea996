"""Named evaluation subsets: lists of ImageNet val image ids in `datasets/`, so that two labs comparing
accuracy score the same images whatever their folder holds or how it is laid out.

A manifest is a text file, `datasets/NAME.txt`:

    # bench subset imagenet-val-5k
    # rule: ...how the images were chosen...
    # labels: ...where the labels came from...
    # images: 5000
    # ids_sha256: 3f1c...   (sha256 of the ids joined by newlines, in file order)
    ILSVRC2012_val_00000293 n01440764
    ...

one image per line: its id (the file name without folder or extension) and its synset. The ids_sha256
line and `datasets/SHA256SUMS` (`sha256sum -c` checks it) catch a damaged or edited list.

The rule of the shipped subsets (`make_manifest`): leave out the images bench calibrates with when the
folder holds the whole set (the first min(300, n // 4) ids by sha256 of the id), then for each class in
the standard order, its images ordered by sha256 of the id, the first K. The 1-per-class subset is thus
part of the 5-per-class one.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datasets.classes import imagenet_classes
from bench.datasets.layouts import LabeledImage, load_imagenet
from bench.datasets.subsets import calibration_size, id_hash, image_id
from bench.errors import DatasetError
from bench.fileio import sha256_file

SUFFIX = ".txt"
CHECKSUMS = "SHA256SUMS"
_VAL_ID = "ILSVRC2012_val_{:08d}"
_LINE = re.compile(r"^(\S+)\s+(n\d{8})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class SubsetManifest:
    name: str
    path: Path
    ids: tuple[str, ...]
    synsets: tuple[str, ...]  # the synset of each id, as the manifest's labels give it
    header: dict[str, str]
    ids_sha256: str

    def record(self) -> dict[str, Any]:
        """What a result keeps of the subset: enough to name it and to check it is the same list."""
        return {"name": self.name, "images": len(self.ids), "ids_sha256": self.ids_sha256,
                "rule": self.header.get("rule", "")}


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def manifest_folders() -> list[Path]:
    """Where named subsets are looked for: BENCH_DATASETS, ./datasets, then the checkout's datasets/."""
    folders = [Path(os.environ["BENCH_DATASETS"]).expanduser()] if os.environ.get("BENCH_DATASETS") else []
    folders.append(Path.cwd() / "datasets")
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():  # an editable install: the checkout's own datasets/
        folders.append(checkout / "datasets")
    unique: list[Path] = []
    for folder in folders:
        if folder.is_dir() and folder.resolve() not in [u.resolve() for u in unique]:
            unique.append(folder)
    return unique


def available() -> list[str]:
    """The names of the subsets found in the manifest folders."""
    return sorted({p.stem for folder in manifest_folders() for p in folder.glob(f"*{SUFFIX}")
                   if p.read_text(encoding="utf-8", errors="replace").startswith("# bench subset")})


def find_manifest(name: str) -> Path:
    """The manifest file of `name`: a path to one, or a name in the manifest folders."""
    given = Path(name).expanduser()
    if given.suffix == SUFFIX and given.is_file():
        return given
    for folder in manifest_folders():
        candidate = folder / f"{name}{SUFFIX}"
        if candidate.is_file():
            return candidate
    known = ", ".join(available()) or "none found"
    raise DatasetError(f"no subset {name!r} (known: {known}); give a manifest file, or make one with: "
                       "python -m bench datasets make-subset DIR --per-class K --out my-subset.txt")


def load_manifest(name: str) -> SubsetManifest:
    """Read and check a manifest: its lines, its ids_sha256, and its entry in SHA256SUMS when it has one."""
    path = find_manifest(name)
    header: dict[str, str] = {}
    ids: list[str] = []
    synsets: list[str] = []
    known = set(imagenet_classes().synsets)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            header[key.strip()] = value.strip()
            continue
        if not line.strip():
            continue
        match = _LINE.match(line.strip())
        if match is None or match.group(2) not in known:
            raise DatasetError(f"{path}:{number}: expected 'IMAGE_ID SYNSET', got {line.strip()[:60]!r}")
        ids.append(match.group(1))
        synsets.append(match.group(2))
    digest = ids_digest(ids)
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: an image is listed twice; the manifest is damaged, restore it from git")
    if header.get("ids_sha256") != digest:
        raise DatasetError(f"{path}: its ids do not match its ids_sha256 line; the manifest was edited or damaged, "
                           "restore it (git checkout datasets/) or make it again")
    _check_listed_checksum(path)
    return SubsetManifest(name=path.stem, path=path, ids=tuple(ids), synsets=tuple(synsets), header=header,
                          ids_sha256=digest)


def _check_listed_checksum(path: Path) -> None:
    sums = path.parent / CHECKSUMS
    if not sums.is_file():
        return
    for line in sums.read_text(encoding="utf-8").splitlines():
        expected, _, file_name = line.partition("  ")
        if file_name.strip() == path.name and expected.strip() != sha256_file(path):
            raise DatasetError(f"{path}: sha256 differs from {sums}; restore it (git checkout datasets/)")


def select_images(images: Sequence[LabeledImage], manifest: SubsetManifest, root: Path) -> list[LabeledImage]:
    """The folder's images the manifest lists; a DatasetError when some are missing or labelled otherwise."""
    by_id = {image_id(image.name): image for image in images}
    missing = [i for i in manifest.ids if i not in by_id]
    if missing:
        raise DatasetError(f"{len(missing)} of the {len(manifest.ids)} images of subset {manifest.name} are not in "
                           f"{root} (first: {', '.join(missing[:3])}); point --imagenet at the full ImageNet val "
                           "folder, or use --images N without --subset")
    index = imagenet_classes().index_of()
    wrong = [i for i, synset in zip(manifest.ids, manifest.synsets, strict=True) if by_id[i].label != index[synset]]
    if wrong:
        raise DatasetError(f"{len(wrong)} images of subset {manifest.name} have another label in {root} than in the "
                           f"manifest (first: {wrong[0]}); check the folder with: python -m bench datasets check "
                           f"{root}")
    return [by_id[i] for i in manifest.ids]


def read_labels(source: Path) -> dict[str, str]:
    """Image id -> synset: from an ImageNet val folder (any layout bench reads), or from a file of one synset
    per line in image-number order (tensorflow-datasets' imagenet2012/validation_labels.txt)."""
    synsets = imagenet_classes().synsets
    if source.is_dir():
        return {image_id(image.name): synsets[image.label] for image in load_imagenet(source).images}
    try:
        lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise DatasetError(f"{source}: unreadable ({exc}); give an ImageNet val folder or a labels file") from exc
    known = set(synsets)
    if not lines or any(line not in known for line in lines):
        raise DatasetError(f"{source}: expected one synset (n01440764) per line, in image-number order")
    return {_VAL_ID.format(number): synset for number, synset in enumerate(lines, start=1)}


def make_manifest(labels: Mapping[str, str], per_class: int, name: str, labels_source: str) -> str:
    """The manifest text of `per_class` images of each class, chosen by the module's rule."""
    if per_class < 1:
        raise DatasetError("--per-class must be at least 1")
    ordered = sorted(labels, key=lambda i: (id_hash(i), i))
    calibration = set(ordered[:calibration_size(len(ordered))])
    by_class: dict[str, list[str]] = defaultdict(list)
    for identifier in ordered:
        if identifier not in calibration:
            by_class[labels[identifier]].append(identifier)
    chosen = sorted(i for synset in imagenet_classes().synsets for i in by_class.get(synset, [])[:per_class])
    short = sum(1 for synset in imagenet_classes().synsets if len(by_class.get(synset, [])) < per_class)
    header = [
        f"# bench subset {name}",
        f"# rule: leave out the first min(300, n // 4) of the n={len(ordered)} labelled images by sha256(image id) "
        f"(the calibration split of a folder holding them all); then per class, in the standard synset order, "
        f"its images by sha256(image id), the first {per_class}",
        f"# labels: {labels_source}",
        f"# per_class: {per_class}" + (f" ({short} classes have fewer)" if short else ""),
        f"# images: {len(chosen)}",
        f"# ids_sha256: {ids_digest(chosen)}",
    ]
    return "\n".join(header + [f"{i} {labels[i]}" for i in chosen]) + "\n"
