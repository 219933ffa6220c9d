"""Preference converters on raw tables with the Hub's column types, checked row by row."""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pytest

from datasets_pipeline.catalog.preference import SPECS
from datasets_pipeline.convert.context import ConvertContext
from datasets_pipeline.convert.preference import (
    ARENA,
    HELPSTEER2,
    HELPSTEER3,
    HH_RLHF,
    TULU3_PREFERENCE,
    ULTRAFEEDBACK,
)
from datasets_pipeline.errors import SchemaError
from datasets_pipeline.families import FAMILIES

HUB_MESSAGES = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
ROLE_CONTENT = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
ARENA_PART = pa.struct([("type", pa.string()), ("text", pa.string()), ("image", pa.string()), ("mimeType", pa.string())])
ARENA_A = pa.list_(pa.struct([("role", pa.string()), ("content", pa.list_(ARENA_PART))]))
ARENA_B = pa.list_(pa.struct([("role", pa.string()), ("content", pa.list_(ARENA_PART)), ("num_tokens", pa.int32())]))


def _ctx(table: pa.Table, dataset: str, config: str = "default", split: str = "train") -> ConvertContext:
    return ConvertContext(dataset=dataset, config=config, split=split, raw_schema=table.schema,
                          file=f"data/{split}-00000-of-00001.parquet")


def _m(role: str, content: str | None) -> dict:
    return {"role": role, "content": content}


def _row(prompt: list[dict], a: list[dict], b: list[dict], label: str = "A") -> dict:
    return {"prompt": prompt, "completion_a": a, "completion_b": b, "label": label}


# --- HH-RLHF ---------------------------------------------------------------------------------

HH_ROWS = [
    # 0: single turn, kept
    ("\n\nHuman: What is a good way to keep a cat off the kitchen counter?\n\nAssistant: Give it a tall "
     "cat tree nearby and keep the counters free of food.",
     "\n\nHuman: What is a good way to keep a cat off the kitchen counter?\n\nAssistant: Spray it with water."),
    # 1: multi-turn, kept (shared prefix of three messages)
    ("\n\nHuman: Can you help me plan a trip to Lisbon?\n\nAssistant: Sure! How many days will you stay?"
     "\n\nHuman: Four days.\n\nAssistant: Day 1: Alfama and the castle. Day 2: Belém.",
     "\n\nHuman: Can you help me plan a trip to Lisbon?\n\nAssistant: Sure! How many days will you stay?"
     "\n\nHuman: Four days.\n\nAssistant: I don't know Lisbon."),
    # 2: different message counts → keep rule
    ("\n\nHuman: Hi\n\nAssistant: Hello!",
     "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Bye\n\nAssistant: Bye."),
    # 3: an earlier message differs → keep rule
    ("\n\nHuman: Tell me a joke.\n\nAssistant: Why did the chicken cross the road?\n\nHuman: Why?\n\nAssistant: To get to the other side.",
     "\n\nHuman: Tell me a joke!\n\nAssistant: Why did the chicken cross the road?\n\nHuman: Why?\n\nAssistant: No idea."),
    # 4: identical transcripts (last messages equal) → keep rule
    ("\n\nHuman: Say yes.\n\nAssistant: Yes.", "\n\nHuman: Say yes.\n\nAssistant: Yes."),
    # 5: text before the first marker → no messages → keep rule
    ("Preamble\n\nHuman: Hi\n\nAssistant: A", "Preamble\n\nHuman: Hi\n\nAssistant: B"),
    # 6: a marker inside a reply splits it, as re.split does; trailing marker gives an empty message
    ("\n\nHuman: Define it.\n\nAssistant: The label Human: means a person.",
     "\n\nHuman: Define it.\n\nAssistant: The label Human: is unclear.\n\nAssistant:"),
    # 7: kept, markers without the blank-line prefix and extra whitespace
    ("Human:   Is 7 prime?   Assistant: Yes, 7 is prime.  ",
     " \n Human: Is 7 prime?\n\nAssistant:No."),
    # 8: only an assistant message on each side → kept by the rule, but the prompt is empty
    ("\n\nAssistant: first", "\n\nAssistant: second"),
]


def test_hh_rlhf_split_keep_rule_and_rows():
    table = pa.table({"chosen": pa.array([c for c, _ in HH_ROWS], pa.string()),
                      "rejected": pa.array([r for _, r in HH_ROWS], pa.string())})
    out = HH_RLHF(table, _ctx(table, "hh_rlhf"))
    assert out.table.schema == FAMILIES["preference"].schema
    assert out.table.to_pylist() == [
        _row([_m("user", "What is a good way to keep a cat off the kitchen counter?")],
             [_m("assistant", "Give it a tall cat tree nearby and keep the counters free of food.")],
             [_m("assistant", "Spray it with water.")]),
        _row([_m("user", "Can you help me plan a trip to Lisbon?"),
              _m("assistant", "Sure! How many days will you stay?"),
              _m("user", "Four days.")],
             [_m("assistant", "Day 1: Alfama and the castle. Day 2: Belém.")],
             [_m("assistant", "I don't know Lisbon.")]),
        _row([_m("user", "Is 7 prime?")], [_m("assistant", "Yes, 7 is prime.")], [_m("assistant", "No.")]),
        _row([], [_m("assistant", "first")], [_m("assistant", "second")]),  # empty prompt: kept, as the cookbook does
    ]
    # Row 6: chosen has 3 messages (user, assistant "The label", user "means a person."),
    # rejected 4 → keep rule.
    assert out.dropped == {"hh_keep_rule": 5}
    assert out.rows.tolist() == [0, 1, 7, 8]


def _hh_reference(chosen: str, rejected: str) -> dict | None:
    """The cookbook's hhh_example_to_comparison, as plain dicts."""
    def parse(text: str) -> list[dict]:
        parts = re.split(r"(Human:|Assistant:)", text)
        if not parts[0].strip():
            parts = parts[1:]
        messages = []
        for i in range(0, len(parts) - 1, 2):
            delimiter, content = parts[i].strip(), parts[i + 1].strip()
            if delimiter in ("Human:", "Assistant:"):
                messages.append(_m("user" if delimiter == "Human:" else "assistant", content))
        return messages

    c, r = parse(chosen), parse(rejected)
    if len(c) != len(r) or [x == y for x, y in zip(c, r)] != [True] * (len(c) - 1) + [False]:
        return None
    return _row(c[:-1], [c[-1]], [r[-1]])


def test_hh_rlhf_matches_the_cookbook_rule_on_random_transcripts():
    rng = random.Random(7)
    pieces = ["\n\nHuman: ", "\n\nAssistant: ", "Human:", "Assistant:", "hi", "ok", " ", "\n", "x"]
    rows = []
    for _ in range(400):
        shared = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        rows.append((shared + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3))),
                     shared + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))))
    table = pa.table({"chosen": [c for c, _ in rows], "rejected": [r for _, r in rows]})
    out = HH_RLHF(table, _ctx(table, "hh_rlhf"))
    expected = [e for e in (_hh_reference(c, r) for c, r in rows) if e is not None]
    assert len(expected) > 10
    assert out.table.to_pylist() == expected
    assert sum(out.dropped.values()) + out.table.num_rows == len(rows)


def test_hh_rlhf_missing_column():
    table = pa.table({"chosen": pa.array(["\n\nHuman: a\n\nAssistant: b"])})
    with pytest.raises(SchemaError) as info:
        HH_RLHF(table, _ctx(table, "hh_rlhf", split="test"))
    assert (info.value.dataset, info.value.config, info.value.split, info.value.column) == (
        "hh_rlhf", "default", "test", "rejected")
    assert str(info.value) == (
        "column 'rejected' is missing; the source has chosen [dataset 'hh_rlhf', config 'default', "
        "split 'test', file 'data/test-00000-of-00001.parquet', column 'rejected']"
    )


# --- HelpSteer3 ------------------------------------------------------------------------------


def _helpsteer3_table(context: pa.Array) -> pa.Table:
    individual = pa.list_(pa.struct([("score", pa.int64()), ("reasoning", pa.string()),
                                     ("feedback1", pa.string()), ("feedback2", pa.string())]))
    return pa.table({
        "domain": pa.array(["general", "code", "stem", "general"]),
        "language": pa.array(["english", "python", "english", "english"]),
        "context": context,
        "response1": pa.array(["R1 good", "R1 meh", "same", "R1"]),
        "response2": pa.array(["R2 bad", "R2 best", "same", "R2"]),
        "overall_preference": pa.array([-2, 3, 0, None], pa.int64()),
        "individual_preference": pa.array([[{"score": -2, "reasoning": "r", "feedback1": "f1", "feedback2": "f2"}]] * 4,
                                          individual),
    })


def test_helpsteer3_sign_rule_ties_and_context():
    context = pa.array([
        [{"role": "user", "content": "Explain recursion."}],
        [{"role": "user", "content": "Fix my code."}, {"role": "assistant", "content": "Show it."},
         {"role": "user", "content": "def f(): return f()"}],
        [{"role": "user", "content": "Tie?"}],
        [{"role": "user", "content": "Unrated"}],
    ], ROLE_CONTENT)
    table = _helpsteer3_table(context)
    out = HELPSTEER3(table, _ctx(table, "helpsteer3", "preference", "validation"))
    assert out.table.to_pylist() == [
        _row([_m("user", "Explain recursion.")], [_m("assistant", "R1 good")], [_m("assistant", "R2 bad")], "A"),
        _row([_m("user", "Fix my code."), _m("assistant", "Show it."), _m("user", "def f(): return f()")],
             [_m("assistant", "R1 meh")], [_m("assistant", "R2 best")], "B"),
    ]
    assert out.dropped == {"helpsteer3_tie": 1, "helpsteer3_no_preference": 1}


def test_helpsteer3_plain_text_context():
    table = _helpsteer3_table(pa.array(["Explain recursion.", "Fix it.", "Tie?", "x"], pa.string()))
    out = HELPSTEER3(table, _ctx(table, "helpsteer3", "preference", "train"))
    assert [r["prompt"] for r in out.table.to_pylist()] == [[_m("user", "Explain recursion.")], [_m("user", "Fix it.")]]
    assert out.table.column("label").to_pylist() == ["A", "B"]


# --- HelpSteer2 ------------------------------------------------------------------------------


def _helpsteer2_table(rows: list[tuple[str | None, str, int | None]]) -> pa.Table:
    n = len(rows)
    return pa.table({
        "prompt": pa.array([p for p, _, _ in rows], pa.string()),
        "response": pa.array([r for _, r, _ in rows], pa.string()),
        "helpfulness": pa.array([h for _, _, h in rows], pa.int64()),
        "correctness": pa.array([3] * n, pa.int64()),
        "coherence": pa.array([4] * n, pa.int64()),
        "complexity": pa.array([2] * n, pa.int64()),
        "verbosity": pa.array([1] * n, pa.int64()),
    })


def test_helpsteer2_best_vs_worst_per_prompt():
    rows = [
        ("P1", "p1-a", 2),
        ("P2", "p2-a", 3),
        ("P1", "p1-b", 4),
        ("P3", "p3-only", 4),
        ("P4", "p4-a", 4),
        ("P2", "p2-b", 3),
        ("P4", "p4-b", 0),
        ("P1", "p1-c", 1),
        ("P4", "p4-c", 4),
        ("P4", "p4-d", 0),
        ("P5", "p5-a", None),
        (None, "orphan", 3),
    ]
    table = _helpsteer2_table(rows)
    out = HELPSTEER2(table, _ctx(table, "helpsteer2"))
    assert HELPSTEER2.whole_split
    # Groups in first-occurrence order (P1, P2, P3, P4); best = first max, worst = last min.
    assert out.table.to_pylist() == [
        _row([_m("user", "P1")], [_m("assistant", "p1-b")], [_m("assistant", "p1-c")]),
        _row([_m("user", "P4")], [_m("assistant", "p4-a")], [_m("assistant", "p4-d")]),
    ]
    assert out.dropped == {
        "empty_prompt": 1,
        "helpsteer2_null_helpfulness": 1,
        "helpsteer2_single_response": 1,
        "helpsteer2_equal_helpfulness": 2,
        "helpsteer2_middle_response": 3,
        "helpsteer2_worst_in_pair": 2,
    }
    assert sum(out.dropped.values()) + out.table.num_rows == len(rows)


def test_helpsteer2_matches_the_cookbook_grouping_on_random_rows():
    rng = random.Random(11)
    rows = [(f"prompt {rng.randint(0, 40)}", f"response {i}", rng.randint(0, 4)) for i in range(300)]
    groups: dict[str, list[tuple[str, int]]] = {}
    for prompt, response, helpfulness in rows:
        groups.setdefault(prompt, []).append((response, helpfulness))
    expected = []
    for prompt, responses in groups.items():
        if len(responses) >= 2:
            responses.sort(key=lambda x: x[1], reverse=True)
            if responses[0][1] > responses[-1][1]:
                expected.append(_row([_m("user", prompt)], [_m("assistant", responses[0][0])],
                                     [_m("assistant", responses[-1][0])]))
    table = _helpsteer2_table(rows)
    out = HELPSTEER2(table, _ctx(table, "helpsteer2"))
    assert out.table.to_pylist() == expected
    assert sum(out.dropped.values()) + out.table.num_rows == len(rows)


def test_helpsteer2_missing_helpfulness():
    table = _helpsteer2_table([("P", "r", 1)]).drop_columns(["helpfulness"])
    with pytest.raises(SchemaError) as info:
        HELPSTEER2(table, _ctx(table, "helpsteer2", split="validation"))
    assert (info.value.split, info.value.column) == ("validation", "helpfulness")


# --- UltraFeedback, Tulu 3 preference --------------------------------------------------------


def test_ultrafeedback_rows():
    table = pa.table({
        "source": pa.array(["evol_instruct", "flan_v2_cot"]),
        "instruction": pa.array(["Name three primary colors.", "Is the sky green?"]),
        "chosen_response": pa.array(["Red, yellow and blue.", "No."]),
        "chosen_avg_rating": pa.array([5.0, 4.5]),
        "chosen_model": pa.array(["gpt-4", "wizardlm-70b"]),
        "rejected_response": pa.array(["Purple.", None]),
        "rejected_avg_rating": pa.array([1.25, 2.0]),
        "rejected_model": pa.array(["falcon-40b-instruct", "alpaca-7b"]),
    })
    out = ULTRAFEEDBACK(table, _ctx(table, "ultrafeedback"))
    assert out.table.to_pylist() == [
        _row([_m("user", "Name three primary colors.")], [_m("assistant", "Red, yellow and blue.")],
             [_m("assistant", "Purple.")]),
        _row([_m("user", "Is the sky green?")], [_m("assistant", "No.")], [_m("assistant", None)]),
    ]
    assert out.dropped == {}  # the cookbook keeps a null response; a quality rule counts it
    from datasets_pipeline.steps.validate import quality_violations

    assert quality_violations(out.table, "preference")["completion_b_null_content"] == 1


def test_tulu3_preference_second_messages():
    table = pa.table({
        "id": pa.array(["a", "b", "c"]),
        "source": pa.array(["ultrafeedback", "ultrafeedback", "wildchat"]),
        "prompt": pa.array(["What is the capital of France?", "Say hi", "Broken"]),
        "chosen": pa.array([
            [{"content": "What is the capital of France?", "role": "user"},
             {"content": "Paris.", "role": "assistant"}],
            [{"content": "Say hi", "role": "user"}, {"content": "Hi!", "role": "assistant"}],
            [{"content": "Broken", "role": "user"}],
        ], HUB_MESSAGES),
        "rejected": pa.array([
            [{"content": "What is the capital of France?", "role": "user"},
             {"content": "Lyon.", "role": "assistant"}],
            [{"content": "Say hi", "role": "user"}, {"content": "Hello.", "role": "assistant"},
             {"content": "extra", "role": "user"}],
            [{"content": "Broken", "role": "user"}, {"content": "x", "role": "assistant"}],
        ], HUB_MESSAGES),
    })
    out = TULU3_PREFERENCE(table, _ctx(table, "tulu3_preference"))
    assert out.table.to_pylist() == [
        _row([_m("user", "What is the capital of France?")], [_m("assistant", "Paris.")], [_m("assistant", "Lyon.")]),
        _row([_m("user", "Say hi")], [_m("assistant", "Hi!")], [_m("assistant", "Hello.")]),
    ]
    assert out.dropped == {"tulu3_short_conversation": 1}


# --- Arena 140k ------------------------------------------------------------------------------


def _turn(role: str, *texts: str, kind: str = "text") -> dict:
    return {"role": role, "content": [{"type": kind, "text": t, "image": None, "mimeType": None} for t in texts]}


def _b(turns: list[dict]) -> list[dict]:
    return [dict(t, num_tokens=len(t["content"])) for t in turns]


def test_arena_filters_and_rows():
    battles = [
        ("model_a", [_turn("user", "What is 2+2?"), _turn("assistant", "4")],
         [_turn("user", "What is 2+2?"), _turn("assistant", "Four.")]),
        ("model_b", [_turn("user", "Name a color."), _turn("assistant", "Red."), _turn("user", "Another?"),
                     _turn("assistant", "Blue", "and green.")],
         [_turn("user", "Name a color."), _turn("assistant", "Teal."), _turn("user", "Another?"),
          _turn("assistant", "Orange.")]),
        ("tie", [_turn("user", "q"), _turn("assistant", "a")], [_turn("user", "q"), _turn("assistant", "b")]),
        ("both_bad", [_turn("user", "q"), _turn("assistant", "a")], [_turn("user", "q"), _turn("assistant", "b")]),
        ("model_a", [_turn("user", "look"), _turn("user", "img", kind="image"), _turn("assistant", "a")],
         [_turn("user", "look"), _turn("assistant", "b")]),
        ("model_b", [_turn("user", "q"), _turn("assistant", "a")], [_turn("user", "q")]),
        ("model_a", [_turn("user", "q"), _turn("assistant", "a"), _turn("user", "follow-up")],
         [_turn("user", "q"), _turn("assistant", "b"), _turn("user", "follow-up")]),
        # a system turn and a turn without parts are left out before the checks
        ("model_b", [_turn("system", "be brief"), _turn("user", "Hi"), _turn("assistant"), _turn("assistant", "Hey")],
         [_turn("user", "Hi"), _turn("assistant", "Hello")]),
    ]
    n = len(battles)
    table = pa.table({
        "id": pa.array([f"id{i}" for i in range(n)]),
        "model_a": pa.array(["m1"] * n),
        "model_b": pa.array(["m2"] * n),
        "winner": pa.array([w for w, _, _ in battles]),
        "evaluation_order": pa.array([1] * n, pa.int32()),
        "conversation_a": pa.array([a for _, a, _ in battles], ARENA_A),
        "conversation_b": pa.array([_b(b) for _, _, b in battles], ARENA_B),
    })
    out = ARENA(table, _ctx(table, "arena140k"))
    assert out.table.to_pylist() == [
        _row([_m("user", "What is 2+2?")], [_m("assistant", "4")], [_m("assistant", "Four.")], "A"),
        _row([_m("user", "Name a color.")],
             [_m("assistant", "Red."), _m("user", "Another?"), _m("assistant", "Blue and green.")],
             [_m("assistant", "Teal."), _m("user", "Another?"), _m("assistant", "Orange.")], "B"),
        _row([_m("user", "Hi")], [_m("assistant", "Hey")], [_m("assistant", "Hello")], "B"),
    ]
    assert out.dropped == {
        "arena_winner_not_a_or_b": 2,
        "arena_non_text_part": 1,
        "arena_too_few_messages": 1,
        "arena_last_not_assistant": 1,
    }


def test_arena_string_content_and_missing_column():
    plain = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    table = pa.table({
        "winner": pa.array(["model_b"]),
        "conversation_a": pa.array([[_m("user", "Hi"), _m("assistant", "Yo")]], plain),
        "conversation_b": pa.array([[_m("user", "Hi"), _m("assistant", "Hello there")]], plain),
    })
    out = ARENA(table, _ctx(table, "arena140k"))
    assert out.table.to_pylist() == [
        _row([_m("user", "Hi")], [_m("assistant", "Yo")], [_m("assistant", "Hello there")], "B"),
    ]
    with pytest.raises(SchemaError) as info:
        ARENA(table.drop_columns(["winner"]), _ctx(table, "arena140k"))
    assert info.value.column == "winner"
    assert "column 'winner' is missing; the source has conversation_a, conversation_b" in str(info.value)


# --- catalog ---------------------------------------------------------------------------------


def test_preference_catalog_entries():
    specs = {s.name: s for s in SPECS}
    assert list(specs) == ["hh_rlhf", "helpsteer3", "helpsteer2", "ultrafeedback", "arena140k", "tulu3_preference"]
    assert specs["helpsteer3"].partition_keys == ["preference/train", "preference/validation"]
    assert specs["helpsteer3"].default_config == "preference"
    assert specs["helpsteer2"].partition_keys == ["default/train", "default/validation"]
    train, test = specs["helpsteer2"].dataset_dict
    assert (train.name, test.name, train.after_convert, test.after_convert) == ("train", "test", True, True)
    assert test.bounds(5000) == (0, 500) and train.bounds(5000) == (500, 5000)
    assert test.bounds(20000) == (0, 1024)
    assert [d.bounds(63619) for d in specs["ultrafeedback"].dataset_dict] == [(1024, 63619), (0, 1024)]
    assert [(d.name, d.source_split, d.seed, d.bounds(2000)) for d in specs["hh_rlhf"].dataset_dict] == [
        ("train", "train", 0, (0, 2000)), ("test", "test", 0, (0, 1024))]
    assert [(d.name, d.source_split, d.bounds(2000)) for d in specs["helpsteer3"].dataset_dict] == [
        ("train", "train", (0, 2000)), ("test", "validation", (0, 1024))]
    assert specs["arena140k"].repo_id == "lmarena-ai/arena-human-preference-140k"
    assert {s.name: s.license for s in SPECS} == {
        "hh_rlhf": "MIT", "helpsteer3": "CC-BY-4.0", "helpsteer2": "CC-BY-4.0", "ultrafeedback": "MIT",
        "arena140k": "CC-BY-4.0", "tulu3_preference": "ODC-BY",
    }
    assert all(s.family == "preference" and s.converter.version == "2" for s in SPECS)


def test_conversion_in_byte_bounded_slices_gives_the_same_result(monkeypatch):
    from datasets_pipeline.convert import messages

    table = pa.table({"chosen": pa.array([c for c, _ in HH_ROWS] * 3, pa.string()),
                      "rejected": pa.array([r for _, r in HH_ROWS] * 3, pa.string())})
    whole = HH_RLHF(table, _ctx(table, "hh_rlhf"))
    monkeypatch.setattr(messages, "MAX_PIECE_BYTES", 200)
    sliced = HH_RLHF(table, _ctx(table, "hh_rlhf"))
    assert sliced.table.num_rows == 12
    assert sliced.table.column("prompt").num_chunks > 1
    assert sliced.table.to_pylist() == whole.table.to_pylist()
    assert sliced.dropped == whole.dropped == {"hh_keep_rule": 15}
    assert sliced.rows.tolist() == whole.rows.tolist() == [0, 1, 7, 8, 9, 10, 16, 17, 18, 19, 25, 26]
