"""Generate the cookbook reference outputs that ``test_cookbook_parity.py`` compares against.

Writes small raw splits in each Hub dataset's layout (``raw/<name>/<config>/<split>.parquet``, edge
rows included), then runs the tinker cookbook's own builders on them and writes what they yield
(``<name>.json.gz``): the rows each builder keeps, in its order, for every raw split (``cookbook``)
and for the train/test splits the builder returns (``dataset_dict``).

The builders are the installed ``tinker-cookbook`` package's, unchanged; the dataset loading is
redirected to the local files (``datasets.load_dataset`` and ``get_dataset_config_names`` are
replaced by readers of the parquet files above). ``dataset_dict`` entries are what the builders
return as they are. For the per-split ``cookbook`` entries the builders' own row functions run over
one raw split in raw order: the RL math datasets' ``get_batch`` over that split,
``example_to_labeled_comparison`` on each row, ``load_deepcoder_tasks`` with its split loader
returning that one split; HelpSteer2's pairs are its builder's output with ``Dataset.shuffle``
made the identity. ``fetch_live_code_bench_system_prompt`` is wrapped (its prompt returned
unchanged) only to record the raw question each DeepCoder prompt was built from. Run it with a
Python that has ``tinker-cookbook`` (and its ``math-rl`` extras) installed, e.g. a virtualenv
outside the project::

    python3 -m venv /tmp/cbvenv
    /tmp/cbvenv/bin/pip install torch tinker-cookbook pylatexenc math-verify
    /tmp/cbvenv/bin/python datasets_pipeline_tests/reference/make_reference.py

Row values are recorded in the cookbook layer's columns: math ``problem``/``answer``; chat
``messages``; preference ``prompt``/``completion_a``/``completion_b``/``label``; code ``problem``
(the raw question the cookbook builds its LiveCodeBench prompt from), ``starter_code`` and ``tests``
(``input``, ``output``, ``testtype``, ``metadata`` dict).
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
HENDRYCKS_CONFIGS = (
    "algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory", "prealgebra", "precalculus",
)
REPOS = {
    "openai/gsm8k": "gsm8k",
    "POLARIS-Project/Polaris-Dataset-53K": "polaris",
    "zwhe99/DeepMath-103K": "deepmath",
    "EleutherAI/hendrycks_math": "hendrycks_math",
    "HuggingFaceH4/MATH-500": "math500",
    "allenai/tulu-3-sft-mixture": "tulu3_sft",
    "HuggingFaceH4/no_robots": "no_robots",
    "Anthropic/hh-rlhf": "hh_rlhf",
    "nvidia/HelpSteer3": "helpsteer3",
    "nvidia/HelpSteer2": "helpsteer2",
    "argilla/ultrafeedback-binarized-preferences": "ultrafeedback",
    "lmarena-ai/arena-human-preference-140k": "arena140k",
    "allenai/llama-3.1-tulu-3-8b-preference-mixture": "tulu3_preference",
    "agentica-org/DeepCoder-Preview-Dataset": "deepcoder",
}

# --- raw fixtures -------------------------------------------------------------------------------


def _words(rng: random.Random, n: int = 4) -> str:
    return " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "sum", "x", "ten", "apples", "é", "日本"]) for _ in range(n))


def _insert(rows: list[dict], edges: list[dict], rng: random.Random) -> list[dict]:
    """``rows`` with the edge rows spread over random positions."""
    for edge in edges:
        rows.insert(rng.randrange(len(rows) + 1), edge)
    return rows


def gsm8k_split(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = [{"question": f"q{seed}-{i} {_words(rng)}?", "answer": f"step {i}\n#### {rng.randrange(1, 10**6):,}"} for i in range(n)]
    edges = [
        {"question": "empty marker", "answer": "steps\n####"},
        {"question": "comma only", "answer": "steps\n#### ,"},
        {"question": "colon and commas", "answer": "work\n#### : 1,234"},
        {"question": "   ", "answer": "#### 7"},
        {"question": "", "answer": "#### 8"},
        {"question": None, "answer": "#### 9"},
        {"question": "no marker", "answer": "no final marker at all"},
        {"question": "fallback", "answer": "The answer is #### 12,5 here"},
        {"question": "last line wins", "answer": "a\n####  5 \n  #### 6,000 \nafter"},
        {"question": "crlf", "answer": "line one\r\n#### 42\r\n"},
        {"question": "null answer", "answer": None},
        {"question": "blank answer line", "answer": "x\n####    \n"},
    ]
    return pa.Table.from_pylist(_insert(rows, edges, rng), schema=pa.schema([("question", pa.string()), ("answer", pa.string())]))


def qa_split(n: int, seed: int, problem: str, answer: str, extra: dict[str, pa.DataType]) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = {problem: f"p{i} {_words(rng)}", answer: str(rng.randrange(100))}
        row |= {k: (rng.random() if t == pa.float64() else _words(rng, 1)) for k, t in extra.items()}
        rows.append(row)
    edges = [
        {problem: "", answer: "1"},
        {problem: "   ", answer: "2"},
        {problem: None, answer: "3"},
        {problem: "blank answer", answer: "  "},
        {problem: "empty answer", answer: ""},
        {problem: "null answer", answer: None},
        {problem: "\t", answer: "\n"},
    ]
    for e in edges:
        e |= {k: None for k in extra}
    schema = pa.schema([(problem, pa.string()), (answer, pa.string()), *extra.items()])
    return pa.Table.from_pylist(_insert(rows, edges, rng), schema=schema)


def hendrycks_tables() -> tuple[dict[str, pa.Table], pa.Table]:
    """Seven configs × train/test, and a MATH-500 whose problems partly come from them."""
    rng = random.Random(500)
    tables: dict[str, pa.Table] = {}
    math500: list[dict] = []
    schema = pa.schema([("problem", pa.string()), ("level", pa.string()), ("type", pa.string()), ("solution", pa.string())])
    for ci, config in enumerate(HENDRYCKS_CONFIGS):
        for split in ("train", "test"):
            rows = []
            for i in range(14):
                kind = rng.randrange(12)
                answer = f"{ci}{i}"
                solution = {
                    0: "no box here, just words",
                    1: "empty box $\\boxed{}$",
                    2: f"bare $\\boxed {answer}$",
                    3: f"unmatched }} then $\\boxed{{{answer}}}$",
                    4: f"nested $\\boxed{{\\frac{{{answer}}}{{2}}}}$",
                    5: f"two $\\boxed{{1}}$ and $\\boxed{{{answer}}}$",
                }.get(kind, f"so $\\boxed{{{answer}}}$")
                rows.append({"problem": f"{config} {split} {i}: {_words(rng)}", "level": f"Level {1 + i % 5}",
                             "type": config.title(), "solution": solution})
            rows.append({"problem": "shared problem in every split", "level": "Level ?", "type": config.title(),
                         "solution": "$\\boxed{0}$"})
            tables[f"{config}/{split}"] = pa.Table.from_pylist(rows, schema=schema)
            for row in rng.sample(rows[:-1], 2):
                math500.append({"problem": row["problem"], "solution": row["solution"], "answer": "x",
                                "subject": config.title(), "level": 3, "unique_id": f"test/{config}/{len(math500)}.json"})
    math500.append({"problem": "only in MATH-500", "solution": "$\\boxed{5}$", "answer": "5", "subject": "Algebra",
                    "level": 1, "unique_id": "test/algebra/x.json"})
    math500.append({"problem": "MATH-500 row without a box", "solution": "none", "answer": "", "subject": "Algebra",
                    "level": 2, "unique_id": "test/algebra/y.json"})
    m_schema = pa.schema([("problem", pa.string()), ("solution", pa.string()), ("answer", pa.string()),
                          ("subject", pa.string()), ("level", pa.int64()), ("unique_id", pa.string())])
    return tables, pa.Table.from_pylist(math500, schema=m_schema)


def chat_split(n: int, seed: int, extra: bool) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        turns = rng.randrange(1, 4)
        msgs = []
        if rng.random() < 0.2:
            msgs.append({"role": "system", "content": "be brief"})
        for t in range(turns):
            msgs += [{"role": "user", "content": f"u{i}.{t} {_words(rng)}"}, {"role": "assistant", "content": f"a{i}.{t} {_words(rng)}"}]
        rows.append({"id": f"r{seed}-{i}", "messages": msgs, "source": "synthetic"})
    edges = [
        {"id": "empty", "messages": [], "source": "edge"},
        {"id": "null content", "messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "ok"}], "source": "edge"},
        {"id": "odd role", "messages": [{"role": "narrator", "content": "once"}, {"role": "assistant", "content": "ok"}], "source": "edge"},
        {"id": "blank", "messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": ""}], "source": "edge"},
    ]
    schema = pa.schema([("id", pa.string()), ("messages", MESSAGES), ("source", pa.string())])
    table = pa.Table.from_pylist(_insert(rows, edges, rng), schema=schema)
    if extra:  # no_robots: prompt, prompt_id, messages, category
        table = pa.table({"prompt": table.column("id"), "prompt_id": table.column("id"), "messages": table.column("messages"),
                          "category": table.column("source")})
    return table


def _transcript(turns: list[tuple[str, str]]) -> str:
    return "".join(f"\n\n{'Human' if role == 'user' else 'Assistant'}: {text}" for role, text in turns)


def hh_split(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        turns = [("user", f"h{i} {_words(rng)}")]
        for t in range(rng.randrange(0, 3)):
            turns += [("assistant", f"a{t} {_words(rng)}"), ("user", f"h{t} {_words(rng)}")]
        kind = rng.randrange(20)
        chosen = turns + [("assistant", f"good {i}")]
        rejected = turns + [("assistant", f"bad {i}")]
        if kind == 0:
            rejected = turns + [("assistant", f"good {i}")]  # last equal: dropped
        elif kind == 1:
            rejected = turns[:-1] + [("assistant", f"bad {i}")]  # lengths differ: dropped
        elif kind == 2 and len(turns) > 1:
            rejected = [("user", "changed")] + turns[1:] + [("assistant", f"bad {i}")]  # earlier differs
        rows.append({"chosen": _transcript(chosen), "rejected": _transcript(rejected)})
    edges = [
        {"chosen": "Human: hi", "rejected": "Human: yo"},  # one message each: empty prompt, kept
        {"chosen": "preamble\n\nHuman: x\n\nAssistant: a", "rejected": "preamble\n\nHuman: x\n\nAssistant: b"},
        {"chosen": "\n\nHuman: \n\nAssistant: a", "rejected": "\n\nHuman: \n\nAssistant: "},
        {"chosen": "", "rejected": ""},
    ]
    return pa.Table.from_pylist(_insert(rows, edges, rng), schema=pa.schema([("chosen", pa.string()), ("rejected", pa.string())]))


def helpsteer3_split(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        context = [{"role": "user", "content": f"c{i} {_words(rng)}"}]
        if rng.random() < 0.3:
            context += [{"role": "assistant", "content": "earlier"}, {"role": "user", "content": "more"}]
        rows.append({"domain": "general", "language": "english", "context": context, "response1": f"r1 {i}",
                     "response2": f"r2 {i}", "overall_preference": rng.choice([-3, -2, -1, 0, 1, 2, 3])})
    schema = pa.schema([("domain", pa.string()), ("language", pa.string()), ("context", MESSAGES), ("response1", pa.string()),
                        ("response2", pa.string()), ("overall_preference", pa.int64())])
    return pa.Table.from_pylist(rows, schema=schema)


def helpsteer2_split(n_prompts: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for p in range(n_prompts):
        for r in range(rng.choice([1, 2, 2, 3, 4])):
            rows.append({"prompt": f"prompt {p % (n_prompts - 7)}", "response": f"resp {p}.{r}", "helpfulness": rng.randrange(5),
                         "correctness": 2, "coherence": 3, "complexity": 1, "verbosity": 1})
    rng.shuffle(rows)  # responses of a prompt are not adjacent; some prompts repeat later
    schema = pa.schema([("prompt", pa.string()), ("response", pa.string())]
                       + [(k, pa.int64()) for k in ("helpfulness", "correctness", "coherence", "complexity", "verbosity")])
    return pa.Table.from_pylist(rows, schema=schema)


def ultrafeedback_split(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = [{"source": "evol", "instruction": f"i{i} {_words(rng)}", "chosen_response": f"c{i}", "chosen_avg_rating": 4.5,
             "chosen_model": "m1", "rejected_response": f"r{i}", "rejected_avg_rating": 2.0} for i in range(n)]
    edges = [{"source": "edge", "instruction": "", "chosen_response": "", "chosen_avg_rating": 1.0, "chosen_model": "m",
              "rejected_response": None, "rejected_avg_rating": 1.0}]
    schema = pa.schema([("source", pa.string()), ("instruction", pa.string()), ("chosen_response", pa.string()),
                        ("chosen_avg_rating", pa.float64()), ("chosen_model", pa.string()), ("rejected_response", pa.string()),
                        ("rejected_avg_rating", pa.float64())])
    return pa.Table.from_pylist(_insert(rows, edges, rng), schema=schema)


ARENA_PART = pa.struct([("type", pa.string()), ("text", pa.string()), ("image", pa.string())])
ARENA_TURN = pa.struct([("role", pa.string()), ("content", pa.list_(ARENA_PART))])


def arena_split(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)

    def text(t: str) -> list[dict]:
        return [{"type": "text", "text": t, "image": None}]

    rows = []
    for i in range(n):
        prompt = {"role": "user", "content": text(f"ask {i} {_words(rng)}")}
        conv_a = [prompt, {"role": "assistant", "content": text(f"A{i}")}]
        conv_b = [prompt, {"role": "assistant", "content": text(f"B{i}")}]
        kind = rng.randrange(25)
        if kind == 0:  # an image part voids the row
            conv_a[0] = {"role": "user", "content": text("look") + [{"type": "image", "text": None, "image": "img.png"}]}
        elif kind == 1:  # multi-turn, two text parts joined with a space
            conv_a += [{"role": "user", "content": text("more")}, {"role": "assistant", "content": text("part one") + text("part two")}]
        elif kind == 2:  # last message is the user's
            conv_b = conv_b + [{"role": "user", "content": text("dangling")}]
        elif kind == 3:  # only a prompt
            conv_b = [prompt]
        elif kind == 4:  # an empty content list is left out; an unknown role is left out
            conv_a = [prompt, {"role": "assistant", "content": []}, {"role": "system", "content": text("sys")},
                      {"role": "assistant", "content": text(f"A{i}")}]
        winner = rng.choice(["model_a", "model_b", "model_a", "model_b", "tie", "both_bad"])
        rows.append({"id": f"arena-{i}", "model_a": "m-a", "model_b": "m-b", "winner": winner,
                     "conversation_a": conv_a, "conversation_b": conv_b})
    schema = pa.schema([("id", pa.string()), ("model_a", pa.string()), ("model_b", pa.string()), ("winner", pa.string()),
                        ("conversation_a", pa.list_(ARENA_TURN)), ("conversation_b", pa.list_(ARENA_TURN))])
    return pa.Table.from_pylist(rows, schema=schema)


def tulu3_preference_split(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        prompt = f"p{i} {_words(rng)}" if i % 97 else ""
        rows.append({"id": f"t{i}", "source": "mix", "prompt": prompt,
                     "chosen": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"yes {i}"}],
                     "rejected": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"no {i}" if i % 89 else ""}]})
    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("prompt", pa.string()), ("chosen", MESSAGES),
                        ("rejected", MESSAGES)])
    return pa.Table.from_pylist(rows, schema=schema)


def deepcoder_tables() -> dict[str, pa.Table]:
    rng = random.Random(11)
    out: dict[str, pa.Table] = {}
    base = pa.schema([("problem", pa.string()), ("tests", pa.string()), ("metadata", pa.string()), ("starter_code", pa.string())])

    def primeintellect(i: int) -> dict:
        kind = i % 6
        if kind == 0:
            tests = [{"type": "function_call", "fn_name": f"f{i}", "input": [1, "a", True], "output": [2.0, None]}]
        elif kind == 1:
            tests = [{"type": "stdin_stdout", "input": f"{i}\n", "output": f"{i + 1}\n"}, {"type": "stdin_stdout", "input": 5, "output": 6}]
        elif kind == 2:
            tests = {"input": "hi\n", "output": "hi\n"}  # a single case dict
        elif kind == 3:
            tests = [{"input": {"k": [1, 2]}, "output": False, "metadata": {"note": "ünï"}}]
        elif kind == 4:
            tests = [{"type": "function_call", "fn_name": "g", "input": "x", "output": "y", "testtype": "functional"}]
        else:
            tests = [{"input": None, "output": 1.5}, "not a dict"]
        return {"problem": f"pi {i} {_words(rng)}", "tests": json.dumps(tests), "metadata": json.dumps({"difficulty": i % 3})}

    rows = [primeintellect(i) for i in range(36)]
    rows += [{"problem": "bad json", "tests": "{not json", "metadata": "{}"},
             {"problem": "no cases", "tests": "[]", "metadata": "{}"},
             {"problem": "   ", "tests": json.dumps([{"input": "1", "output": "1"}]), "metadata": "{}"},
             {"problem": "", "tests": json.dumps([{"input": "1", "output": "1"}]), "metadata": "{}"},
             {"problem": "null tests", "tests": None, "metadata": None},
             {"problem": "empty tests string", "tests": "", "metadata": "not json"}]
    rng.shuffle(rows)
    out["primeintellect/train"] = pa.Table.from_pylist(rows, schema=base)

    def taco(i: int) -> dict:
        kind = i % 5
        if kind == 0:
            tests = {"inputs": [f"{i}\n", "2\n"], "outputs": [f"{i}\n", "2\n"]}
        elif kind == 1:
            tests = {"fn_name": f"solve{i}", "inputs": [[1, "a", True], [3, 4]], "outputs": [[3], [[7, 8]]]}
        elif kind == 2:
            tests = {"inputs": ["a\n", "b\n", "c\n"], "outputs": ["a\n"]}  # a missing output repeats element 0
        elif kind == 3:
            tests = {"fn_name": None, "inputs": [[]], "outputs": [[]]}  # fn_name present but null
        else:
            tests = {"inputs": [], "outputs": []}
        return {"problem": f"taco {i} {_words(rng)}", "tests": json.dumps(tests), "metadata": json.dumps({"source": "codechef"})}

    out["taco/train"] = pa.Table.from_pylist([taco(i) for i in range(40)], schema=base)

    def lcb(i: int, split: str) -> dict:
        kind = i % 4
        if kind == 0:
            tests = [{"input": "1 2", "output": "3", "testtype": "functional", "metadata": {"func_name": "add"}}]
            meta = {"func_name": "add"}
        elif kind == 1:
            tests = [{"input": "1 2", "output": "3", "testtype": "functional"}]  # func_name from the row metadata
            meta = {"func_name": f"row_fn{i}"}
        elif kind == 2:
            tests = [{"input": "x\n", "output": "y\n", "testtype": "stdin"}]
            meta = {}
        else:
            tests = [{"input": "1", "output": "2", "testtype": "functional", "metadata": "{\"func_name\": 7}"}]
            meta = {"func_name": None}
        starter = ["", "   ", "class Solution:\n    def add(self, a, b):\n        ", None][i % 4]
        return {"problem": f"lcb {split} {i} {_words(rng)}", "tests": json.dumps(tests), "metadata": json.dumps(meta),
                "starter_code": starter}

    lcb_schema = base
    out["lcbv5/train"] = pa.Table.from_pylist([lcb(i, "train") for i in range(30)], schema=lcb_schema)
    out["lcbv5/test"] = pa.Table.from_pylist([lcb(i, "test") for i in range(20)], schema=lcb_schema)
    cf = [{"problem": f"cf {i} {_words(rng)}", "tests": json.dumps([{"input": f"{i}\n", "output": f"{2 * i}\n", "testtype": "stdin_stdout"}]),
           "metadata": json.dumps({"rating": 800 + i})} for i in range(20)]
    out["codeforces/test"] = pa.Table.from_pylist(cf, schema=base)
    return out


def raw_fixtures() -> dict[str, dict[str, pa.Table]]:
    """``name -> {"<config>/<split>": raw table}``."""
    hendrycks, math500 = hendrycks_tables()
    return {
        "gsm8k": {"main/train": gsm8k_split(300, 1), "main/test": gsm8k_split(40, 2)},
        "polaris": {"default/train": qa_split(300, 3, "problem", "answer", {"difficulty": pa.string()})},
        "deepmath": {"default/train": qa_split(300, 4, "question", "final_answer", {"difficulty": pa.float64(), "topic": pa.string()})},
        "hendrycks_math": hendrycks,
        "math500": {"default/test": math500},
        "tulu3_sft": {"default/train": chat_split(1100, 5, extra=False)},
        "no_robots": {"default/train": chat_split(150, 6, extra=True), "default/test": chat_split(30, 7, extra=True)},
        "hh_rlhf": {"default/train": hh_split(200, 8), "default/test": hh_split(1100, 9)},
        "helpsteer3": {"preference/train": helpsteer3_split(200, 10), "preference/validation": helpsteer3_split(1100, 11)},
        "helpsteer2": {"default/train": helpsteer2_split(160, 12), "default/validation": helpsteer2_split(12, 13)},
        "ultrafeedback": {"default/train": ultrafeedback_split(1100, 14)},
        "arena140k": {"default/train": arena_split(1300, 15)},
        "tulu3_preference": {"default/train": tulu3_preference_split(1100, 16)},
        "deepcoder": deepcoder_tables(),
    }


def write_raw(fixtures: dict[str, dict[str, pa.Table]]) -> None:
    for name, splits in fixtures.items():
        for key, table in splits.items():
            path = RAW / name / f"{key}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)


# --- running the cookbook's builders --------------------------------------------------------------


def _install_loader() -> None:
    """Point ``datasets.load_dataset`` / ``get_dataset_config_names`` (as the cookbook imports them) at RAW."""
    import datasets
    from tinker_cookbook.recipes.code_rl import code_env
    from tinker_cookbook.recipes.math_rl import math_env

    def load(path: str, name: str | None = None, split: str | None = None, **_: Any):
        folder = RAW / REPOS[path]
        config = name or ("preference" if REPOS[path] == "helpsteer3" else "main" if REPOS[path] == "gsm8k" else "default")
        files = sorted((folder / config).glob("*.parquet"))
        splits = {f.stem: datasets.Dataset(pq.read_table(f)) for f in files}
        return splits[split] if split is not None else datasets.DatasetDict(splits)

    def config_names(path: str, **_: Any) -> list[str]:
        assert REPOS[path] == "hendrycks_math"
        return list(HENDRYCKS_CONFIGS)

    datasets.load_dataset = load
    math_env.load_dataset = load
    math_env.get_dataset_config_names = config_names
    code_env.load_dataset = load


def _math_rows(dataset: Any) -> list[dict]:
    """Rows an RL math dataset yields, batch by batch (``get_batch``): the env's problem and answer."""
    rows = []
    for index in range(len(dataset)):
        for builder in dataset.get_batch(index):
            problem, answer = builder.env_thunk.args[:2]
            rows.append({"problem": problem, "answer": answer})
    return rows


def _math_over(cls: Any, table: pa.Table) -> Any:
    """An RL math dataset of class ``cls`` over one raw split in raw order (its row function only)."""
    import datasets

    obj = cls.__new__(cls)
    obj.ds, obj.batch_size, obj.group_size, obj.renderer, obj.convo_prefix = datasets.Dataset(table), 64, 1, None, None
    return obj


def math_reference(fixtures: dict[str, dict[str, pa.Table]]) -> dict[str, dict]:
    from tinker_cookbook.recipes.math_rl import math_env as m

    out: dict[str, dict] = {}
    gsm = fixtures["gsm8k"]
    out["gsm8k"] = {
        "cookbook": {k: _math_rows(_math_over(m.Gsm8kDataset, t)) for k, t in gsm.items()},
        "dataset_dict": {"main": {s: _math_rows(m.Gsm8kDataset(64, 1, None, None, split=s, seed=0)) for s in ("train", "test")}},
    }
    for name, cls in (("polaris", m.PolarisDataset), ("deepmath", m.DeepMathDataset)):
        out[name] = {
            "cookbook": {k: _math_rows(_math_over(cls, t)) for k, t in fixtures[name].items()},
            "dataset_dict": {"default": {"train": _math_rows(cls(64, 1, None, None, seed=0))}},
        }
    out["hendrycks_math"] = {"cookbook": {k: _math_rows(_math_over(m.MathDataset, t)) for k, t in fixtures["hendrycks_math"].items()}}
    out["math500"] = {"cookbook": {k: _math_rows(_math_over(m.MathDataset, t)) for k, t in fixtures["math500"].items()}}
    out["math_rl"] = {"dataset_dict": {"default": {
        s: _math_rows(m.MathDataset(64, 1, None, None, split=s, seed=0)) for s in ("train", "test")}}}
    return out


def chat_reference(fixtures: dict[str, dict[str, pa.Table]]) -> dict[str, dict]:
    from tinker_cookbook.recipes.chat_sl.chat_datasets import NoRobotsBuilder, Tulu3Builder
    from tinker_cookbook.supervised.types import ChatDatasetBuilderCommonConfig

    common = ChatDatasetBuilderCommonConfig(model_name_for_tokenizer="unused", renderer_name="role_colon", max_length=None, batch_size=8)

    def rows(sd: Any) -> list[dict]:  # the rows map_fn gets, in order
        return [{"messages": r["messages"]} for r in sd.hf_dataset]

    out = {}
    for name, cls in (("tulu3_sft", Tulu3Builder), ("no_robots", NoRobotsBuilder)):
        train, test = cls(common_config=common)()
        out[name] = {
            "cookbook": {k: [{"messages": m} for m in t.column("messages").to_pylist()] for k, t in fixtures[name].items()},
            "dataset_dict": {"default": {"train": rows(train), "test": rows(test)}},
        }
    return out


def _comparison(lc: Any) -> dict:
    c = lc.comparison
    return {"prompt": c.prompt_conversation, "completion_a": c.completion_A, "completion_b": c.completion_B, "label": lc.label}


def preference_reference(fixtures: dict[str, dict[str, pa.Table]]) -> dict[str, dict]:
    import datasets
    from tinker_cookbook.recipes.preference import datasets as p

    builders = {
        "hh_rlhf": (p.HHHComparisonBuilder, "default"),
        "helpsteer3": (p.HelpSteer3ComparisonBuilder, "preference"),
        "ultrafeedback": (p.UltraFeedbackComparisonBuilder, "default"),
        "arena140k": (p.ArenaComparisonBuilder, "default"),
        "tulu3_preference": (p.Tulu38BComparisonBuilder, "default"),
        "helpsteer2": (p.HelpSteer2ComparisonBuilder, "default"),
    }
    out = {}
    for name, (cls, config) in builders.items():
        builder = cls()
        train, test = builder.get_labeled_comparisons()
        entry: dict[str, Any] = {"dataset_dict": {config: {"train": [_comparison(c) for c in train], "test": [_comparison(c) for c in test]}}}
        if name == "helpsteer2":
            # Its rows are the pairs it builds before shuffling: the same builder with shuffle as identity.
            shuffle = datasets.Dataset.shuffle
            datasets.Dataset.shuffle = lambda self, *a, **k: self
            try:
                t_train, t_test = builder.get_labeled_comparisons()
            finally:
                datasets.Dataset.shuffle = shuffle
            entry["cookbook"] = {"default/train": [_comparison(c) for c in t_test + t_train]}
        else:
            entry["cookbook"] = {}
            for key, table in fixtures[name].items():
                kept = (builder.example_to_labeled_comparison(r) for r in datasets.Dataset(table))
                entry["cookbook"][key] = [_comparison(c) for c in kept if c is not None]
        out[name] = entry
    return out


def code_reference(fixtures: dict[str, dict[str, pa.Table]]) -> dict[str, dict]:
    import datasets
    from tinker_cookbook.recipes.code_rl import code_env

    questions: dict[str, str] = {}
    build = code_env.fetch_live_code_bench_system_prompt

    def recording(question: str, *args: Any) -> str:  # remember which raw question each prompt was built from
        prompt = build(question, *args)
        questions[prompt] = question
        return prompt

    code_env.fetch_live_code_bench_system_prompt = recording

    def rows(tasks: list) -> list[dict]:
        return [{"problem": questions[t.problem], "starter_code": t.starter_code, "tests": t.tests} for t in tasks]

    cookbook = {}
    load_split = code_env._load_deepcoder_split
    for key, table in fixtures["deepcoder"].items():
        code_env._load_deepcoder_split = lambda split, table=table: datasets.Dataset(table)
        cookbook[key] = rows(code_env.load_deepcoder_tasks("test"))  # the "test" path keeps raw order
    code_env._load_deepcoder_split = load_split
    recipe = {s: rows(code_env.load_deepcoder_tasks(s, seed=0)) for s in ("train", "test")}
    return {"deepcoder": {"cookbook": cookbook}, "code_rl": {"dataset_dict": {"default": recipe}}}


def main() -> None:
    fixtures = raw_fixtures()
    write_raw(fixtures)
    _install_loader()
    reference = {}
    reference |= math_reference(fixtures)
    reference |= chat_reference(fixtures)
    reference |= preference_reference(fixtures)
    reference |= code_reference(fixtures)
    import tinker_cookbook

    version = getattr(tinker_cookbook, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("tinker-cookbook")
    for name, entry in reference.items():
        entry = {"generator": "make_reference.py", "tinker_cookbook": version, **entry}
        text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n"
        with open(HERE / f"{name}.json.gz", "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
            gz.write(text.encode())
        print(name, {k: {kk: len(v) if isinstance(v, list) else {s: len(r) for s, r in v.items()} for kk, v in d.items()}
                     for k, d in entry.items() if isinstance(d, dict)}, file=sys.stderr)


if __name__ == "__main__":
    main()
