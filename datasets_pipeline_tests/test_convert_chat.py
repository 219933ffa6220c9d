"""Chat converters on raw tables with the Hub's column types: Tulu 3 SFT, No Robots, OpenThoughts3."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datasets_pipeline.catalog.chat import SPECS
from datasets_pipeline.convert import messages as msg
from datasets_pipeline.convert.chat import MESSAGES, OPENTHOUGHTS
from datasets_pipeline.convert.context import ConvertContext
from datasets_pipeline.errors import SchemaError
from datasets_pipeline.families import FAMILIES

# Hub feature types: messages are {content, role} (in that field order), conversations {from, value}.
HUB_MESSAGES = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
SHAREGPT = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def _ctx(table: pa.Table, dataset: str, split: str = "train") -> ConvertContext:
    return ConvertContext(dataset=dataset, config="default", split=split, raw_schema=table.schema,
                          file=f"data/{split}-00000-of-00004.parquet")


def _m(role: str, content: str | None) -> dict:
    return {"role": role, "content": content}


def test_tulu3_messages_cast_and_every_row_kept():
    conversations = [
        [{"content": "Write a haiku about autumn.", "role": "user"},
         {"content": "Leaves drift on cold wind\u2026", "role": "assistant"}],
        [{"content": "You are a helpful assistant.", "role": "system"},
         {"content": "What is 2+2?", "role": "user"},
         {"content": "4", "role": "assistant"},
         {"content": "And 3+3?", "role": "user"},
         {"content": "6", "role": "assistant"}],
        [],
        None,
        [{"content": None, "role": "user"}, {"content": "hi", "role": "assistant"}],
        [{"content": "x", "role": "narrator"}],
    ]
    table = pa.table({
        "id": pa.array([f"oasst1_{i}" for i in range(6)], pa.string()),
        "messages": pa.array(conversations, HUB_MESSAGES),
        "source": pa.array(["ai2-adapt-dev/oasst1_converted"] * 6, pa.string()),
    })
    out = MESSAGES(table, _ctx(table, "tulu3_sft"))
    assert out.table.schema == FAMILIES["chat"].schema
    assert out.table.to_pylist() == [
        {"messages": [_m("user", "Write a haiku about autumn."), _m("assistant", "Leaves drift on cold wind\u2026")]},
        {"messages": [_m("system", "You are a helpful assistant."), _m("user", "What is 2+2?"),
                      _m("assistant", "4"), _m("user", "And 3+3?"), _m("assistant", "6")]},
        {"messages": []},
        {"messages": []},  # a null list becomes an empty list
        {"messages": [_m("user", None), _m("assistant", "hi")]},
        {"messages": [_m("narrator", "x")]},
    ]
    assert out.dropped == {} and out.rows is None  # the cookbook's chat builders keep every row
    from datasets_pipeline.steps.validate import quality_violations

    assert quality_violations(out.table, "chat") == {"messages_empty": 2, "messages_invalid_role": 1, "messages_null_content": 1}


def test_no_robots_extra_fields_and_content_parts():
    parts = pa.list_(pa.struct([("type", pa.string()), ("text", pa.string())]))
    typed = pa.list_(pa.struct([("role", pa.string()), ("content", parts), ("name", pa.string())]))
    table = pa.table({
        "prompt": pa.array(["Summarize this.", "Hi"], pa.string()),
        "prompt_id": pa.array(["a1", "b2"], pa.string()),
        "messages": pa.array([
            [{"role": "user", "content": [{"type": "text", "text": "Summarize"}, {"type": "text", "text": "this."}],
              "name": "u"},
             {"role": "assistant", "content": [{"type": "text", "text": "Done."}], "name": None}],
            [{"role": "user", "content": [], "name": None}, {"role": "assistant", "content": None, "name": None}],
        ], typed),
        "category": pa.array(["Summarize", "Chat"], pa.string()),
    })
    out = MESSAGES(table, _ctx(table, "no_robots", "test"))
    # An empty part list joins to "", a null part list stays null (kept; a quality rule counts it).
    assert out.table.to_pylist() == [
        {"messages": [_m("user", "Summarize this."), _m("assistant", "Done.")]},
        {"messages": [_m("user", ""), _m("assistant", None)]},
    ]
    assert out.dropped == {}


def test_sliced_chunked_messages():
    table = pa.table({"messages": pa.array(
        [[{"content": f"q{i}", "role": "user"}, {"content": f"a{i}", "role": "assistant"}] for i in range(5)],
        HUB_MESSAGES)})
    chunked = pa.concat_tables([table.slice(1, 2), table.slice(3, 2)])
    out = MESSAGES(chunked, _ctx(table, "no_robots"))
    assert [row["messages"][1]["content"] for row in out.table.to_pylist()] == ["a1", "a2", "a3", "a4"]


def test_openthoughts_roles_from_sharegpt_from():
    table = pa.table({
        "difficulty": pa.array([7, 3], pa.int64()),
        "source": pa.array(["ai2-adapt-dev/openmath-2-math", "nvidia/OpenCodeReasoning"], pa.string()),
        "domain": pa.array(["math", "code"], pa.string()),
        "conversations": pa.array([
            [{"from": "human", "value": "Find all real x with x^2 = 4."},
             {"from": "gpt", "value": "<think>\nx = 2 or x = -2\n</think>\n\n\\boxed{\\pm 2}"}],
            [{"from": "system", "value": "Reason step by step."},
             {"from": "human", "value": "Write fizzbuzz."},
             {"from": None, "value": "for i in range(1, 16): ..."}],
        ], SHAREGPT),
    })
    out = OPENTHOUGHTS(table, _ctx(table, "openthoughts3"))
    assert out.table.to_pylist() == [
        {"messages": [_m("user", "Find all real x with x^2 = 4."),
                      _m("assistant", "<think>\nx = 2 or x = -2\n</think>\n\n\\boxed{\\pm 2}")]},
        {"messages": [_m("assistant", "Reason step by step."), _m("user", "Write fizzbuzz."),
                      _m("assistant", "for i in range(1, 16): ...")]},
    ]
    assert out.dropped == {}


def test_missing_and_malformed_columns():
    table = pa.table({"conversations": pa.array([[{"from": "human", "value": "x"}]], SHAREGPT)})
    with pytest.raises(SchemaError) as info:
        MESSAGES(table, _ctx(table, "tulu3_sft"))
    assert (info.value.dataset, info.value.split, info.value.column) == ("tulu3_sft", "train", "messages")
    assert str(info.value).startswith("column 'messages' is missing; the source has conversations [")

    with pytest.raises(SchemaError) as info:
        OPENTHOUGHTS(pa.table({"conversations": pa.array(["not a list"])}), _ctx(table, "openthoughts3"))
    assert info.value.column == "conversations"
    assert str(info.value) == (
        "expected a list of message structs, not string [dataset 'openthoughts3', config 'default', "
        "split 'train', file 'data/train-00000-of-00004.parquet', column 'conversations']"
    )

    with pytest.raises(SchemaError) as info:
        MESSAGES(pa.table({"messages": pa.array([[{"content": "x"}]])}), _ctx(table, "no_robots"))
    assert "message structs have no field 'role' (fields: content)" in str(info.value)


def test_message_builders():
    built = msg.build([2, 0, 1], pa.array(["user", "assistant", "user"]), pa.array(["a", "b", None]))
    assert built.type == FAMILIES["chat"].schema.field("messages").type
    assert built.to_pylist() == [[_m("user", "a"), _m("assistant", "b")], [], [_m("user", None)]]
    assert msg.single("user", pa.array(["x", None])).to_pylist() == [[_m("user", "x")], [_m("user", None)]]
    text, parts, non_text = msg.parts_text(pa.array(
        [[{"type": "text", "text": "a"}, {"type": "image", "text": None}, {"type": "text", "text": None}], None],
        pa.list_(pa.struct([("type", pa.string()), ("text", pa.string())]))))
    assert text.to_pylist() == ["a ", None]
    assert parts.tolist() == [3, 0] and non_text.tolist() == [1, 0]
    keep, dropped = msg.apply_drops(4, [("a", pa.array([True, False, True, False]).to_numpy(zero_copy_only=False)),
                                        ("b", pa.array([True, True, False, False]).to_numpy(zero_copy_only=False))])
    assert keep.tolist() == [False, False, False, True] and dropped == {"a": 2, "b": 1}


def test_chat_catalog_entries():
    specs = {s.name: s for s in SPECS}
    assert list(specs) == ["tulu3_sft", "no_robots", "openthoughts3"]
    assert specs["tulu3_sft"].repo_id == "allenai/tulu-3-sft-mixture"
    assert [(d.name, d.seed, d.bounds(939_343)) for d in specs["tulu3_sft"].dataset_dict] == [
        ("train", 0, (1024, 939_343)), ("test", 0, (0, 1024))]
    assert [(d.name, d.source_split, d.seed) for d in specs["no_robots"].dataset_dict] == [
        ("train", "train", 0), ("test", "test", None)]
    assert specs["no_robots"].partition_keys == ["default/train", "default/test"]
    assert specs["openthoughts3"].partition_keys == ["default/train"]
    assert [s.license for s in SPECS] == ["ODC-BY", "CC-BY-NC-4.0", "apache-2.0"]
    assert all(s.family == "chat" and s.converter.version == "2" for s in SPECS)
