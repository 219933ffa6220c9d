"""Vision classification converter (caltech101, oxford_flowers102, oxford_iiit_pet, stanford_cars).

Raw rows: ``image`` in the Hub's Image storage ``struct<bytes: binary, path: string>`` and
``label`` a ClassLabel (int64) whose names live in the raw schema's ``huggingface``
features metadata. Output: ``image`` (bytes and path unchanged), ``label`` (int64) and
``label_name``, the cookbook's cleaned class name: ``int2str(label)`` with ``_`` ``.`` ``-``
replaced by spaces, lower-cased (``"stop_sign"`` → ``"stop sign"``).

Dropped rows, by reason:

- ``missing_label``: ``label`` is null.
- ``label_out_of_range``: ``label`` is negative or not below the number of class names.
- ``missing_image``: the image, or its ``bytes``, is null (a path-only image cannot be read).
- ``undecodable_image``: the bytes are not an image Pillow can open. Every row's leading
  bytes are checked against the image signatures (PNG, JPEG, GIF, BMP, WebP, TIFF) and, for
  PNG, JPEG and GIF, its last bytes against the format's end marker (PNG's ``IEND`` chunk,
  JPEG's ``FF D9``, GIF's ``;``), in vectorized passes. Rows with no known signature or a
  missing end marker, and the first and last row of every batch (among rows with a valid label
  and bytes), are then opened with Pillow (``verify()`` and a full decode), which decides: a
  JPEG with bytes after its end marker still decodes and is kept. So garbage and truncated
  PNG/JPEG/GIF files are caught in every row; a truncated BMP, TIFF or WebP only in the sampled
  rows (decoding every image would be a per-row Pillow loop).

The output schema carries ``huggingface`` features metadata (``image: Image``, ``label:
ClassLabel(names=<raw names>)``, ``label_name: Value("string")``) so the DatasetDict writer
restores the ClassLabel and Image features.
"""

from __future__ import annotations

import re
from io import BytesIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from ..engine.hf_features import class_label, class_label_names, image, value, with_features
from ..errors import SchemaError
from .common import conform, require_columns
from .context import ConvertContext, Converted, FunctionConverter

FAMILY = "vision"
REQUIRED = ("image", "label")

# Leading bytes of the image formats Pillow reads and the Hub's vision datasets use.
IMAGE_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)
_WEBP = (b"RIFF", b"WEBP")  # "RIFF" <4-byte size> "WEBP"

_SEPARATORS = re.compile(r"[_.\-]")


def clean_label_name(name: str) -> str:
    """The cookbook's label cleaning: ``_`` ``.`` ``-`` → space, lower-cased."""
    return _SEPARATORS.sub(" ", name).lower()


def label_names(ctx: ConvertContext, table: pa.Table, column: str = "label") -> list[str]:
    """ClassLabel names of ``column`` from the raw schema's features; SchemaError when there are none."""
    names = class_label_names(ctx.raw_schema, column) or class_label_names(table.schema, column)
    if not names:
        raise SchemaError(
            f"column {column!r} has no ClassLabel names in the source's huggingface features metadata",
            **ctx.where,
            column=column,
            hint="The label column must be a ClassLabel so its class names are known",
        )
    return names


def _has_image_signature(data: pa.Array) -> pa.Array:
    """Boolean per row: the bytes start with a known image signature (vectorized)."""
    ok = pc.starts_with(data, pattern=IMAGE_SIGNATURES[0])
    for signature in IMAGE_SIGNATURES[1:]:
        ok = pc.or_(ok, pc.starts_with(data, pattern=signature))
    webp = pc.and_(
        pc.starts_with(data, pattern=_WEBP[0]),
        pc.equal(pc.binary_slice(data, 8, 12), pa.scalar(_WEBP[1], pa.binary())),
    )
    return pc.fill_null(pc.or_(ok, webp), False)


# Format signature → the bytes a complete file of that format ends with.
END_MARKERS: tuple[tuple[bytes, bytes], ...] = (
    (b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"),
    (b"\xff\xd8\xff", b"\xff\xd9"),
    (b"GIF87a", b";"),
    (b"GIF89a", b";"),
)


def _missing_end_marker(data: pa.Array) -> pa.Array:
    """Boolean per row: a PNG, JPEG or GIF whose bytes do not end as a complete file does (vectorized)."""
    missing = None
    for signature, end in END_MARKERS:
        cut = pc.and_(pc.starts_with(data, pattern=signature), pc.invert(pc.ends_with(data, pattern=end)))
        missing = cut if missing is None else pc.or_(missing, cut)
    return pc.fill_null(missing, False)


def decodes(data: bytes) -> bool:
    """Pillow can identify, verify and fully decode ``data``."""
    try:
        with Image.open(BytesIO(data)) as img:
            img.verify()
        with Image.open(BytesIO(data)) as img:
            img.load()
    except Exception:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...)
        return False
    return True


def _bytes_child(images: pa.ChunkedArray) -> pa.ChunkedArray:
    """The ``bytes`` field of the image struct, chunk by chunk (null where the struct is null).

    Chunks are never combined: a batch of images can exceed the 2 GiB of one binary array.
    """
    return pa.chunked_array(
        [pc.struct_field(chunk, "bytes") for chunk in images.chunks], images.type.field("bytes").type
    )


def convert_vision(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Raw image/label rows → ``image``, ``label``, ``label_name`` with features metadata."""
    require_columns(table, REQUIRED, ctx)
    names = label_names(ctx, table)
    dropped: dict[str, int] = {}

    images = table.column("image")
    if not pa.types.is_struct(images.type) or images.type.get_field_index("bytes") < 0:
        raise SchemaError(
            f"column 'image' is {images.type}, not the Image storage struct<bytes: binary, path: string>",
            **ctx.where, column="image",
        )
    labels = table.column("label").combine_chunks()
    try:
        labels = labels.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(
            f"column 'label' is {labels.type}, not an integer ClassLabel",
            **ctx.where, column="label",
        ) from exc
    data = _bytes_child(images)

    n = table.num_rows
    label_np = labels.fill_null(-1).to_numpy(zero_copy_only=False)
    missing_label = labels.is_null().to_numpy(zero_copy_only=False)
    out_of_range = ~missing_label & ((label_np < 0) | (label_np >= len(names)))
    missing_image = data.is_null().to_numpy(zero_copy_only=False) & ~missing_label & ~out_of_range

    candidates = ~(missing_label | out_of_range | missing_image)
    suspicious = candidates & (
        ~_has_image_signature(data).to_numpy(zero_copy_only=False)
        | _missing_end_marker(data).to_numpy(zero_copy_only=False)
    )
    check = np.flatnonzero(suspicious)
    rows = np.flatnonzero(candidates)
    if rows.size:
        check = np.union1d(check, [rows[0], rows[-1]])
    undecodable = np.zeros(n, dtype=bool)
    # Pillow is per image: only the suspicious rows and the two sampled rows are opened.
    for i in check.tolist():
        undecodable[i] = not decodes(data[i].as_py())

    for reason, mask in (
        ("missing_label", missing_label),
        ("label_out_of_range", out_of_range),
        ("missing_image", missing_image),
        ("undecodable_image", undecodable),
    ):
        count = int(mask.sum())
        if count:
            dropped[reason] = count

    keep = candidates & ~undecodable
    kept = table if keep.all() else table.filter(pa.array(keep))
    kept_labels = labels if keep.all() else labels.filter(pa.array(keep))
    cleaned = pa.array([clean_label_name(name) for name in names], pa.string())
    out = pa.table(
        {
            "image": kept.column("image"),
            "label": kept_labels,
            "label_name": cleaned.take(kept_labels),
        }
    )
    out = conform(out, FAMILY, ctx)
    out = with_features(
        out, {"image": image(), "label": class_label(names), "label_name": value("string")}
    )
    return Converted(out, dropped, None if keep.all() else np.flatnonzero(keep))


VISION_CONVERTER = FunctionConverter(convert_vision, version="3", required_columns=REQUIRED)
