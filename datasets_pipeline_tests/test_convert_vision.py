"""Vision converter and catalog entries: real PNG/JPEG bytes, Hub-style ClassLabel metadata."""

from __future__ import annotations

import json
from io import BytesIO

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from datasets_pipeline.catalog import CATALOG
from datasets_pipeline.convert.context import ConvertContext
from datasets_pipeline.convert.vision import VISION_CONVERTER, clean_label_name, convert_vision
from datasets_pipeline.engine.hf_features import class_label_names, features_from_schema, metadata_features, schema_metadata
from datasets_pipeline.errors import SchemaError
from datasets_pipeline.families.schemas import IMAGE

CALTECH_NAMES = ["Faces_easy", "Leopards", "stop_sign", "water_lilly"]
CARS_NAMES = ["AM General Hummer SUV 2000", "Mercedes-Benz C-Class Sedan 2012", "Ram C/V Cargo Van Minivan 2012"]


def _image_bytes(fmt: str, color: tuple[int, int, int], size: tuple[int, int] = (6, 4)) -> bytes:
    buf = BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


PNG_RED = _image_bytes("PNG", (255, 0, 0))
PNG_GREEN = _image_bytes("PNG", (0, 255, 0))
JPEG_BLUE = _image_bytes("JPEG", (0, 0, 255))
JPEG_GRAY = _image_bytes("JPEG", (90, 90, 90), (5, 7))


def _hub_metadata(names: list[str]) -> dict[bytes, bytes]:
    """The ``huggingface`` block a Hub parquet file of an image-classification dataset carries."""
    features = {"image": {"_type": "Image"}, "label": {"names": names, "_type": "ClassLabel"}}
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


def _raw_table(tmp_path, images: list[dict | None], labels: list[int | None], names: list[str] | None) -> pa.Table:
    """A raw split as the Hub serves it: written to parquet and read back, metadata included."""
    schema = pa.schema([pa.field("image", IMAGE), pa.field("label", pa.int64())])
    if names is not None:
        schema = schema.with_metadata(_hub_metadata(names))
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pydict({"image": images, "label": labels}, schema=schema), path)
    return pq.read_table(path)


def _ctx(table: pa.Table, name: str = "caltech101", split: str = "train") -> ConvertContext:
    return ConvertContext(dataset=name, config="default", split=split, raw_schema=table.schema)


def test_label_cleaning_matches_the_cookbook():
    assert clean_label_name("stop_sign") == "stop sign"
    assert clean_label_name("Faces_easy") == "faces easy"
    assert clean_label_name("AM General Hummer SUV 2000") == "am general hummer suv 2000"
    assert clean_label_name("Mercedes-Benz C-Class Sedan 2012") == "mercedes benz c class sedan 2012"
    assert clean_label_name("St._Bernard") == "st  bernard"


def test_converts_rows_keeping_image_bytes_and_path(tmp_path):
    images = [
        {"bytes": PNG_RED, "path": "image_0001.png"},
        {"bytes": JPEG_BLUE, "path": "image_0002.jpg"},
        {"bytes": PNG_GREEN, "path": None},
        {"bytes": JPEG_GRAY, "path": "image_0004.jpg"},
    ]
    raw = _raw_table(tmp_path, images, [2, 0, 1, 3], CALTECH_NAMES)
    out = VISION_CONVERTER(raw, _ctx(raw))

    assert out.dropped == {}
    assert out.table.column_names == ["image", "label", "label_name"]
    assert out.table.schema.field("image").type == IMAGE
    assert out.table.schema.field("label").type == pa.int64()
    assert out.table.to_pylist() == [
        {"image": images[0], "label": 2, "label_name": "stop sign"},
        {"image": images[1], "label": 0, "label_name": "faces easy"},
        {"image": images[2], "label": 1, "label_name": "leopards"},
        {"image": images[3], "label": 3, "label_name": "water lilly"},
    ]
    assert VISION_CONVERTER.required_columns == ("image", "label")
    assert VISION_CONVERTER.version == "3"  # 2: truncated PNG/JPEG/GIF caught in every row; 3: source_row


def test_output_metadata_restores_classlabel_and_image(tmp_path):
    raw = _raw_table(tmp_path, [{"bytes": PNG_RED, "path": "a.png"}], [2], CARS_NAMES)
    out = convert_vision(raw, _ctx(raw, "stanford_cars")).table

    assert metadata_features(out.schema) == {
        "image": {"_type": "Image"},
        "label": {"names": CARS_NAMES, "_type": "ClassLabel"},
        "label_name": {"dtype": "string", "_type": "Value"},
    }
    assert out.column("label_name").to_pylist() == ["ram c/v cargo van minivan 2012"]
    # The same block the ``datasets`` library writes, and reads back as ClassLabel / Image.
    features = datasets.Features.from_arrow_schema(out.schema)
    assert features["label"] == datasets.ClassLabel(names=CARS_NAMES)
    assert features["image"] == datasets.Image()
    expected = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=CARS_NAMES),
            "label_name": datasets.Value("string"),
        }
    )
    assert out.schema.metadata == expected.arrow_schema.metadata
    # A uid column appended later is inferred as a string Value; the ClassLabel stays.
    with_uid = out.append_column("uid", pa.array(["0" * 16]))
    assert features_from_schema(with_uid.schema)["uid"] == {"dtype": "string", "_type": "Value"}
    assert features_from_schema(with_uid.schema)["label"]["names"] == CARS_NAMES
    assert schema_metadata({"a": {"_type": "Image"}}) == {
        b"huggingface": b'{"info": {"features": {"a": {"_type": "Image"}}}}'
    }


def test_drops_bad_labels_and_images_with_reasons(tmp_path):
    good = {"bytes": PNG_RED, "path": "ok.png"}
    truncated_jpeg = JPEG_BLUE[: len(JPEG_BLUE) // 2]
    images = [
        good,  # 0 kept (first row: fully decoded)
        {"bytes": b"<html>not found</html>", "path": "x.jpg"},  # 1 no image signature
        good,  # 2 label null
        good,  # 3 label -1
        good,  # 4 label == number of names
        None,  # 5 no image
        {"bytes": None, "path": "remote/only.jpg"},  # 6 path-only image
        {"bytes": b"", "path": "empty.png"},  # 7 empty bytes
        {"bytes": truncated_jpeg, "path": "cut.jpg"},  # 8 truncated JPEG mid-batch: no end marker, dropped
        {"bytes": JPEG_GRAY, "path": "gray.jpg"},  # 9 kept
        {"bytes": PNG_GREEN[:-30], "path": "last.png"},  # 10 truncated PNG, last row: decoded and dropped
    ]
    labels = [0, 1, None, -1, 4, 1, 1, 1, 2, 3, 0]
    raw = _raw_table(tmp_path, images, labels, CALTECH_NAMES)
    out = convert_vision(raw, _ctx(raw))

    assert out.dropped == {
        "missing_label": 1,
        "label_out_of_range": 2,
        "missing_image": 2,
        "undecodable_image": 4,
    }
    assert out.table.to_pylist() == [
        {"image": good, "label": 0, "label_name": "faces easy"},
        {"image": {"bytes": JPEG_GRAY, "path": "gray.jpg"}, "label": 3, "label_name": "water lilly"},
    ]
    assert len(out.rows) == 2 and out.rows[0] == 0  # input positions of the kept rows (source_row)


def test_truncated_images_mid_batch_are_found_by_their_end_marker(tmp_path):
    gif = _image_bytes("GIF", (4, 5, 6))
    trailing = JPEG_GRAY + b"\x00" * 16  # bytes after the end marker: Pillow still decodes it
    images = [
        {"bytes": PNG_RED, "path": "first.png"},
        {"bytes": PNG_GREEN[:-12], "path": "no-iend.png"},  # the IEND chunk cut off
        {"bytes": JPEG_BLUE[:-2], "path": "no-eoi.jpg"},  # only the end marker missing
        {"bytes": gif[: len(gif) // 2], "path": "half.gif"},
        {"bytes": gif[:-1], "path": "no-trailer.gif"},  # flagged, but Pillow decodes it: kept
        {"bytes": trailing, "path": "trailing.jpg"},
        {"bytes": gif, "path": "ok.gif"},
        {"bytes": PNG_RED, "path": "last.png"},
    ]
    raw = _raw_table(tmp_path, images, [0, 1, 2, 3, 3, 0, 1, 2], CALTECH_NAMES)
    out = convert_vision(raw, _ctx(raw))
    assert out.dropped == {"undecodable_image": 3}
    assert [r["image"]["path"] for r in out.table.to_pylist()] == [
        "first.png", "no-trailer.gif", "trailing.jpg", "ok.gif", "last.png"
    ]


def test_truncated_first_row_is_dropped(tmp_path):
    images = [{"bytes": PNG_RED[:40], "path": "a.png"}, {"bytes": PNG_GREEN, "path": "b.png"}]
    raw = _raw_table(tmp_path, images, [0, 1], CALTECH_NAMES)
    out = convert_vision(raw, _ctx(raw))
    assert out.dropped == {"undecodable_image": 1}
    assert out.table.column("label").to_pylist() == [1]


def test_webp_and_gif_signatures_pass(tmp_path):
    webp, gif = _image_bytes("WEBP", (1, 2, 3)), _image_bytes("GIF", (4, 5, 6))
    images = [{"bytes": data, "path": None} for data in (PNG_RED, webp, gif, PNG_RED)]
    raw = _raw_table(tmp_path, images, [0, 1, 2, 3], CALTECH_NAMES)
    out = convert_vision(raw, _ctx(raw))
    assert out.dropped == {}
    assert out.table.num_rows == 4


def test_empty_batch_keeps_schema_and_metadata(tmp_path):
    raw = _raw_table(tmp_path, [], [], CALTECH_NAMES)
    out = convert_vision(raw, _ctx(raw))
    assert out.table.num_rows == 0 and out.dropped == {}
    assert out.table.column_names == ["image", "label", "label_name"]
    assert class_label_names(out.table.schema, "label") == CALTECH_NAMES


def test_label_without_classlabel_names_is_a_schema_error(tmp_path):
    raw = _raw_table(tmp_path, [{"bytes": PNG_RED, "path": None}], [0], None)
    with pytest.raises(SchemaError) as err:
        convert_vision(raw, _ctx(raw, "oxford_iiit_pet", "test"))
    assert str(err.value) == (
        "column 'label' has no ClassLabel names in the source's huggingface features metadata "
        "[dataset 'oxford_iiit_pet', config 'default', split 'test', column 'label']. "
        "The label column must be a ClassLabel so its class names are known"
    )
    assert err.value.dataset == "oxford_iiit_pet" and err.value.column == "label"

    # A plain int Value for ``label`` has no names either.
    features = {"image": {"_type": "Image"}, "label": {"dtype": "int64", "_type": "Value"}}
    schema = raw.schema.with_metadata({b"huggingface": json.dumps({"info": {"features": features}}).encode()})
    with pytest.raises(SchemaError, match="no ClassLabel names"):
        convert_vision(raw.cast(schema), _ctx(raw.cast(schema)))


def test_missing_column_is_a_schema_error(tmp_path):
    raw = _raw_table(tmp_path, [{"bytes": PNG_RED, "path": None}], [0], CALTECH_NAMES).rename_columns(["img", "label"])
    with pytest.raises(SchemaError) as err:
        convert_vision(raw, _ctx(raw))
    assert str(err.value) == (
        "column 'image' is missing; the source has img, label "
        "[dataset 'caltech101', config 'default', split 'train', column 'image']"
    )


def test_older_classlabel_json_is_read():
    label = {"num_classes": 2, "names": ["cat", "dog"], "names_file": None, "id": None, "_type": "ClassLabel"}
    metadata = {b"huggingface": json.dumps({"info": {"features": {"label": label}}}).encode()}
    schema = pa.schema([("label", pa.int64())], metadata=metadata)
    assert class_label_names(schema, "label") == ["cat", "dog"]
    assert class_label_names(pa.schema([("label", pa.int64())]), "label") is None


def test_vision_catalog_entries():
    expected = {
        "caltech101": ("dpdl-benchmark/caltech101", ["default/train", "default/test"]),
        "oxford_flowers102": (
            "dpdl-benchmark/oxford_flowers102",
            ["default/train", "default/validation", "default/test"],
        ),
        "oxford_iiit_pet": ("dpdl-benchmark/oxford_iiit_pet", ["default/train", "default/test"]),
        "stanford_cars": ("tanganke/stanford_cars", ["default/train", "default/test"]),
    }
    for name, (repo_id, keys) in expected.items():
        spec = CATALOG[name]
        assert (spec.repo_id, spec.partition_keys, spec.family) == (repo_id, keys, "vision")
        assert spec.default_config == "default"
        assert spec.converter is VISION_CONVERTER
        assert spec.license == "see dataset card"
        assert spec.description


def test_malformed_source_metadata_is_an_error_naming_the_split(tmp_path):
    from datasets_pipeline.steps.cookbook import convert_stream

    raw = _raw_table(tmp_path, [{"bytes": PNG_RED, "path": "a.png"}], [0], CALTECH_NAMES)
    broken = raw.replace_schema_metadata({b"huggingface": b'{"info": {"features": "image, label"}}'})
    with pytest.raises(SchemaError) as err:
        convert_stream(CATALOG["caltech101"], broken, "default", "train")
    assert str(err.value).startswith(
        'malformed huggingface schema metadata: no {"info": {"features": {...}}} mapping '
        "[dataset 'caltech101', config 'default', split 'train']"
    )
