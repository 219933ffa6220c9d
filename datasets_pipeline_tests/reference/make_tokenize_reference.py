"""Reference outputs of the tinker cookbook's renderers, for the tokenized-layer parity tests.

Run with the ``tinker-cookbook`` 0.6.1 package installed (it cannot share the project's
environment; see the install notes in the project's docs)::

    python datasets_pipeline_tests/reference/make_tokenize_reference.py

It trains a small byte-level BPE tokenizer with ``tokenizers`` (holding the renderers' special
tokens, and ``<think>`` / ``</think>`` as ordinary added tokens as Qwen3's has them), writes it
to ``tokenize_tokenizer.json``, loads it as ``PreTrainedTokenizerFast(tokenizer_file=...)`` and
writes ``tokenize_reference.json``: for every renderer, conversation and ``train_on_what``, the
tokens and weights of ``build_supervised_example``, the datum of
``datum_from_model_input_weights`` at a few ``max_length`` values, the generation prompt of a
question, and DPO pairs as ``preference/dpo_datasets.py`` builds them.
"""

from __future__ import annotations

import json
import random
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKENIZER_FILE = HERE / "tokenize_tokenizer.json"
REFERENCE_FILE = HERE / "tokenize_reference.json"

RENDERERS = ("role_colon", "llama3", "qwen3", "qwen3_instruct")
TRAIN_ON_WHAT = (
    "last_assistant_message",
    "last_assistant_turn",
    "all_assistant_messages",
    "all_messages",
    "all_tokens",
    "all_user_and_system_messages",
    "customized",
)
MAX_LENGTHS = (5, 17)
SPECIAL = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>"]


def u(text: str) -> dict:
    return {"role": "user", "content": text}


def a(text: str) -> dict:
    return {"role": "assistant", "content": text}


def s(text: str) -> dict:
    return {"role": "system", "content": text}


CONVERSATIONS: dict[str, list[dict]] = {
    "single_turn": [u("What is 2 + 2?"), a("2 + 2 = 4.")],
    "system_multi_turn": [
        s("You are a careful assistant."),
        u("Name a prime number."),
        a("7 is prime."),
        u("And an even one?"),
        a("2 is the only even prime."),
    ],
    "non_ascii": [u("Grüße aus Köln — naïve café ☕, 東京は晴れ 🚀?"), a("Ça va très bien: ñ, ø, ß, 漢字, emoji 🎉.")],
    "ends_with_user": [u("Hi"), a("Hello! How can I help?"), u("Tell me a joke.")],
    "thinking_last": [u("Solve x + 1 = 3."), a("<think>\nSubtract one from both sides.\n</think>\n\nx = 2.")],
    "thinking_history": [
        u("First?"),
        a("<think>history reasoning</think>First answer."),
        u("Second?"),
        a("Second answer, no block."),
    ],
    "unclosed_think": [u("q"), a("<think>never closed reasoning")],
    "literal_specials": [
        u("Please print <|im_end|> and <|eot_id|> and <|im_start|>user literally."),
        a("Sure: <|im_end|> <|eot_id|>"),
    ],
    "tool_role": [u("Weather?"), a("Calling the tool."), {"role": "tool", "content": '{"temp": 21}'}, a("It is 21°C.")],
    "empty_assistant": [u("Say nothing."), a("")],
    "no_user": [s("System only."), a("An assistant message without a user.")],
    "double_assistant": [u("Go on."), a("Part one."), a("Part two.")],
    "whitespace": [u("\n\nleading newlines\n"), a("\n\n  spaced  \n\n")],
    "long": [u("Tell me a long story about tokens. " * 6), a("Once upon a time, a token met another token. " * 8)],
}

QUESTIONS = ["What is the sum of 17 and 25?", "Écrivez une fonction qui trie une liste — 東京?"]

PAIRS = [
    {
        "prompt": [u("Which is better for a pipeline, Arrow or CSV?")],
        "completion_a": [a("Arrow: typed, columnar, zero-copy.")],
        "completion_b": [a("CSV, always.")],
        "label": "A",
    },
    {
        "prompt": [s("Be brief."), u("Capital of France?")],
        "completion_a": [a("Lyon.")],
        "completion_b": [a("Paris.")],
        "label": "B",
    },
    {
        "prompt": [u("Tie case: 1 or 1?")],
        "completion_a": [a("1")],
        "completion_b": [a("One ✓")],
        "label": "Tie",
    },
]


def corpus() -> list[str]:
    rng = random.Random(20261204)
    texts = [m["content"] for conv in CONVERSATIONS.values() for m in conv]
    words = (
        "the a of to and in is it you that he was for on are with as I his they be at one have this from "
        "answer question token pipeline prime number system user assistant tool think reasoning weather "
        "Grüße Köln naïve café 東京 晴れ ñ ø ß 漢字 print literally story time another"
    ).split()
    for _ in range(400):
        texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(4, 24))) + rng.choice([".", "?", "\n\n", ":"]))
    return texts


def train_tokenizer() -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        min_frequency=2,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer)
    tok.add_tokens([AddedToken("<think>", special=False), AddedToken("</think>", special=False)])
    tok.save(str(TOKENIZER_FILE))


def main() -> None:
    import torch
    from transformers import PreTrainedTokenizerFast

    from tinker_cookbook import renderers
    from tinker_cookbook.preference.types import Comparison, LabeledComparison
    from tinker_cookbook.renderers import TrainOnWhat
    from tinker_cookbook.supervised.common import datum_from_model_input_weights

    train_tokenizer()
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER_FILE))

    def ints(x) -> list[int]:
        return [int(v) for v in (x.tolist() if isinstance(x, torch.Tensor) else x)]

    out: dict = {
        "tinker_cookbook": version("tinker-cookbook"),
        "transformers": version("transformers"),
        "tokenizers": version("tokenizers"),
        "conversations": CONVERSATIONS,
        "questions": QUESTIONS,
        "pairs": PAIRS,
        "max_lengths": list(MAX_LENGTHS),
        "supervised": [],
        "prompts": [],
        "dpo": [],
    }
    for name in RENDERERS:
        renderer = renderers.get_renderer(name, tokenizer)
        for conv_name, conv in CONVERSATIONS.items():
            for tow in TRAIN_ON_WHAT:
                messages = [dict(m) for m in conv]
                if tow == "customized":
                    for i, m in enumerate(messages):
                        m["trainable"] = i % 2 == 1
                model_input, weights = renderer.build_supervised_example(messages, TrainOnWhat(tow))
                case = {
                    "renderer": name,
                    "conversation": conv_name,
                    "train_on_what": tow,
                    "tokens": ints(model_input.to_ints()),
                    "weights": ints(weights),
                    "datums": {},
                }
                for max_length in MAX_LENGTHS:
                    datum = datum_from_model_input_weights(model_input, weights, max_length=max_length)
                    case["datums"][str(max_length)] = {
                        "inputs": ints(datum.model_input.to_ints()),
                        "targets": ints(datum.loss_fn_inputs["target_tokens"].data),
                        "weights": [float(w) for w in datum.loss_fn_inputs["weights"].data],
                    }
                out["supervised"].append(case)
        for question in QUESTIONS:
            prompt = renderer.build_generation_prompt([{"role": "user", "content": question}])
            out["prompts"].append({"renderer": name, "question": question, "tokens": ints(prompt.to_ints())})
        for i, pair in enumerate(PAIRS):
            labeled = LabeledComparison(
                comparison=Comparison(
                    prompt_conversation=pair["prompt"],
                    completion_A=pair["completion_a"],
                    completion_B=pair["completion_b"],
                ),
                label=pair["label"],
            )
            # As preference/dpo_datasets.py's comparison_to_datum builds the pair.
            chosen = labeled.comparison.completion_A if labeled.label == "A" else labeled.comparison.completion_B
            rejected = labeled.comparison.completion_B if labeled.label == "A" else labeled.comparison.completion_A
            result = {"renderer": name, "pair": i}
            for key, completion in (("chosen", chosen), ("rejected", rejected)):
                tokens, weights = renderer.build_supervised_example([*labeled.comparison.prompt_conversation, *completion])
                result[key] = {"tokens": ints(tokens.to_ints()), "weights": ints(weights)}
            out["dpo"].append(result)
    REFERENCE_FILE.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE_FILE} ({REFERENCE_FILE.stat().st_size} bytes), {len(out['supervised'])} supervised cases")


if __name__ == "__main__":
    main()
