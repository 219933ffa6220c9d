"""Vision classification datasets of the cookbook catalog (the ``vlm_classifier`` recipe)."""

from __future__ import annotations

from ..convert.vision import VISION_CONVERTER
from .spec import DatasetSpec

_RULES = (
    "Each row keeps the Hub's Image storage (bytes and path unchanged) and the int64 ClassLabel "
    "`label`, and adds `label_name`: the ClassLabel name with `_` `.` `-` turned into spaces, "
    "lower-cased, as the cookbook prompts with it. Rows with a null or out-of-range label, a "
    "missing image, or bytes that do not decode as an image are dropped (missing_label, "
    "label_out_of_range, missing_image, undecodable_image)."
)


def _vision(name: str, repo_id: str, splits: tuple[str, ...], what: str, counts: str, origin: str) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        repo_id=repo_id,
        family="vision",
        splits={"default": splits},
        converter=VISION_CONVERTER,
        license="see dataset card",
        description=f"{what} {_RULES} {counts} {origin}",
    )


SPECS: list[DatasetSpec] = [
    _vision(
        "caltech101",
        "dpdl-benchmark/caltech101",
        ("train", "test"),
        "Caltech 101: photos of objects in 101 categories plus a background class (names such as "
        "`Faces_easy`, `stop_sign`); the cookbook's `caltech101` classifier task.",
        "The card gives no split sizes.",
        "Original release: Caltech 101 (Fei-Fei, Fergus, Perona, 2004), CC BY 4.0 on CaltechDATA.",
    ),
    _vision(
        "oxford_flowers102",
        "dpdl-benchmark/oxford_flowers102",
        ("train", "validation", "test"),
        "Oxford 102 Flowers: photos of 102 flower species; the cookbook's `flowers102` task (it uses "
        "train and test; validation is mirrored too).",
        "Card: about 1.02k train, 1.02k validation, 6.15k test rows.",
        "Original release: Nilsback and Zisserman, Visual Geometry Group, University of Oxford.",
    ),
    _vision(
        "oxford_iiit_pet",
        "dpdl-benchmark/oxford_iiit_pet",
        ("train", "test"),
        "Oxford-IIIT Pet: photos of 37 cat and dog breeds; the cookbook's `pets` task.",
        "Card: about 3.68k train and 3.67k test rows.",
        "Original release: Parkhi et al., 2012, Visual Geometry Group, CC BY-SA 4.0.",
    ),
    _vision(
        "stanford_cars",
        "tanganke/stanford_cars",
        ("train", "test"),
        "Stanford Cars: photos of 196 car models named like `AM General Hummer SUV 2000`; the "
        "cookbook's `cars` task.",
        "Expected sizes: 8,144 train and 8,041 test rows (the original release's split).",
        "Original release: Krause et al., 2013; for non-commercial research use.",
    ),
]
