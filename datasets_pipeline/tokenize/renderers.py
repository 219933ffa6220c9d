"""The cookbook's chat renderers as piece layouts over a whole batch.

A renderer here says, for every message of a batch at once, which text pieces the cookbook's
``render_message`` encodes and with what loss weight: a piece is either a constant (a header
such as ``"<|im_start|>user\\n"``, encoded once per batch) or a per-message string built with
``pyarrow.compute`` (the message output, encoded in one batch call). The pieces, their order and
their weights are those of ``Renderer.build_supervised_example`` and ``build_generation_prompt``
in ``tinker_cookbook/renderers/{base,role_colon,llama3,qwen3}.py`` (tinker-cookbook 0.6.1),
for text content.

``_train_after_the_generation_prompt`` (which zeroes weights over the generation prompt for
``last_assistant_message`` / ``last_assistant_turn``) changes nothing for these renderers: their
generation prompt ends at the trained message's header, whose weight is already 0, and no
message before it is trained in those modes. It is therefore not applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .messages import Messages, TokenizeError


@dataclass
class Slot:
    """One piece per message (where ``present``): a constant or a per-message string."""

    weight: np.ndarray  # uint8 per message
    text: pa.Array | None = None  # per-message strings to encode
    const: list[str] | None = None  # the constant strings, indexed by ``keys``
    keys: np.ndarray | None = None  # per message, index into ``const``
    present: np.ndarray | None = None  # bool per message; None = every message


@dataclass
class Layout:
    """A batch's pieces: per-message slots in order, then per-row prefix and suffix constants."""

    slots: list[Slot]
    literal: bool = False  # encode per-message strings with special-token text kept literal
    prefix: str | None = None  # before each row's first message (BOS), weight 0
    suffix: list[str] = field(default_factory=list)  # constants appended per row
    suffix_keys: np.ndarray | None = None  # per row, index into ``suffix`` (-1 = none)


def trained_mask(msgs: Messages, train_on_what: str) -> np.ndarray:
    """``Renderer._output_is_trained`` for every message (``in_last_assistant_turn`` as
    ``build_supervised_example`` computes it: from the messages before the last one)."""
    assistant = msgs.role_is("assistant")
    if train_on_what == "last_assistant_message":
        return msgs.is_last & assistant
    if train_on_what == "last_assistant_turn":
        not_last_user = msgs.role_is("user") & ~msgs.is_last
        turn_start = msgs.last_index_per_row(not_last_user) + 1
        return assistant & (msgs.index >= turn_start[msgs.row])
    if train_on_what == "all_assistant_messages":
        return assistant
    if train_on_what in ("all_messages", "all_tokens"):
        return np.ones(msgs.n_messages, dtype=bool)
    if train_on_what == "all_user_and_system_messages":
        return msgs.role_is("user", "system")
    if train_on_what == "customized":
        if msgs.trainable is None:
            raise TokenizeError("train_on_what 'customized' needs a 'trainable' field on every message")
        trainable = np.asarray(msgs.trainable)
        if trainable.dtype == object:
            missing = np.flatnonzero(np.equal(trainable, None))
            if len(missing):
                raise TokenizeError(
                    "train_on_what 'customized': a message has no 'trainable' value", row=int(msgs.row[missing[0]])
                )
        return trainable.astype(bool)
    raise TokenizeError(f"unknown train_on_what {train_on_what!r}")


def _const_by_role(msgs: Messages, make: Callable[[str], str]) -> tuple[list[str], np.ndarray]:
    """Constants keyed by the message role: ``(strings, key per message)``."""
    encoded = pc.dictionary_encode(msgs.role)
    roles = encoded.dictionary.to_pylist()
    keys = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return [make(r) for r in roles], keys


def _join(*parts: object) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


class Renderer:
    """Base: subclasses give the per-message slots; this class adds weights and prompts."""

    name: str = ""
    literal_content = False  # encode message content with special-token text kept literal

    def __init__(self, bos_token: str | None = None) -> None:
        self.bos_token = bos_token

    # --- what subclasses define -----------------------------------------------------------
    @property
    def prefix(self) -> str | None:
        return None

    def slots(self, msgs: Messages, out_w: np.ndarray, header_w: np.ndarray, *, prompt: bool) -> list[Slot]:
        raise NotImplementedError

    def generation_suffix(self, msgs: Messages) -> tuple[list[str], np.ndarray]:
        """Per row the header of an empty assistant message after the conversation."""
        raise NotImplementedError

    # --- layouts ------------------------------------------------------------------------------
    def supervised(self, msgs: Messages, train_on_what: str) -> Layout:
        """Pieces and weights of ``build_supervised_example(messages, train_on_what)``."""
        out_w = trained_mask(msgs, train_on_what).astype(np.uint8)
        header_w = np.full(msgs.n_messages, int(train_on_what == "all_tokens"), dtype=np.uint8)
        return Layout(self.slots(msgs, out_w, header_w, prompt=False), self.literal_content, self.prefix)

    def generation_prompt(self, msgs: Messages) -> Layout:
        """Pieces of ``build_generation_prompt(messages)`` (all weights 0)."""
        zeros = np.zeros(msgs.n_messages, dtype=np.uint8)
        suffix, keys = self.generation_suffix(msgs)
        return Layout(self.slots(msgs, zeros, zeros, prompt=True), self.literal_content, self.prefix, suffix, keys)


class RoleColon(Renderer):
    """``role_colon``: ``"User:"`` header, ``" " + content + "\\n\\n"`` output, and for the last
    message a stop-overlap piece (``"User:"`` after an assistant message, else ``"<UNUSED>"``)."""

    name = "role_colon"

    @property
    def prefix(self) -> str | None:
        return self.bos_token

    def slots(self, msgs: Messages, out_w: np.ndarray, header_w: np.ndarray, *, prompt: bool) -> list[Slot]:
        headers, keys = _const_by_role(msgs, lambda r: r.capitalize() + ":")
        slots = [
            Slot(header_w, const=headers, keys=keys),
            Slot(out_w, text=_join(" ", msgs.content, "\n\n")),
        ]
        if not prompt:
            overlap = np.where(msgs.role_is("assistant"), 0, 1)
            slots.append(Slot(out_w, const=["User:", "<UNUSED>"], keys=overlap, present=msgs.is_last))
        return slots

    def generation_suffix(self, msgs: Messages) -> tuple[list[str], np.ndarray]:
        return ["Assistant:"], np.zeros(msgs.n_rows, dtype=np.int64)


class Llama3(Renderer):
    """``llama3``: BOS ``<|begin_of_text|>``, header ``<|start_header_id|>{role}<|end_header_id|>\\n\\n``,
    output ``content + "<|eot_id|>"``."""

    name = "llama3"

    @property
    def prefix(self) -> str | None:
        return "<|begin_of_text|>"

    @staticmethod
    def header(role: str) -> str:
        return f"<|start_header_id|>{role}<|end_header_id|>\n\n"

    def slots(self, msgs: Messages, out_w: np.ndarray, header_w: np.ndarray, *, prompt: bool) -> list[Slot]:
        headers, keys = _const_by_role(msgs, self.header)
        return [Slot(header_w, const=headers, keys=keys), Slot(out_w, text=_join(msgs.content, "<|eot_id|>"))]

    def generation_suffix(self, msgs: Messages) -> tuple[list[str], np.ndarray]:
        return [self.header("assistant")], np.zeros(msgs.n_rows, dtype=np.int64)


_EMPTY_THINK = "<think>\n\n</think>\n\n"


def frame_thinking(content: pa.Array) -> pa.Array:
    """``Qwen3Renderer.render_message``'s string-content framing of the produced turn:
    ``<think>\\n{reasoning}\\n</think>\\n\\n`` around a closed block, an empty block when the
    content opens none."""
    has_close = pc.match_substring(content, "</think>")
    has_open = pc.match_substring(content, "<think>")
    parts = pc.split_pattern(pc.if_else(has_close, content, "</think>"), "</think>", max_splits=1)
    before = pc.list_element(parts, 0)
    rest = pc.list_element(parts, 1)
    reasoning = pc.replace_substring_regex(before, pattern=r"(?s)^.*<think>", replacement="", max_replacements=1)
    framed = _join("<think>\n", pc.utf8_trim(reasoning, "\n"), "\n</think>\n\n", pc.utf8_ltrim(rest, "\n"))
    step1 = pc.if_else(has_close, framed, content)
    return pc.if_else(has_open, step1, _join(_EMPTY_THINK, pc.utf8_ltrim(step1, "\n")))


class Qwen3(Renderer):
    """``qwen3`` (thinking, history stripped — the default): header
    ``"\\n"`` (after the first message) ``+ "<|im_start|>{role}\\n"`` (``tool`` written as ``user``),
    output content (special-token text kept literal) then ``<|im_end|>``; the last assistant
    message after a user message is framed with a ``<think>`` block."""

    name = "qwen3"
    literal_content = True
    frames_thinking = True

    @staticmethod
    def header(role: str, first: bool) -> str:
        return f"{'' if first else chr(10)}<|im_start|>{'user' if role == 'tool' else role}\n"

    def slots(self, msgs: Messages, out_w: np.ndarray, header_w: np.ndarray, *, prompt: bool) -> list[Slot]:
        encoded = pc.dictionary_encode(msgs.role)
        roles = encoded.dictionary.to_pylist()
        role_keys = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        headers = [self.header(r, True) for r in roles] + [self.header(r, False) for r in roles]
        keys = role_keys + np.where(msgs.index > 0, len(roles), 0)
        content = msgs.content
        if self.frames_thinking:
            last_user = msgs.last_index_per_row(msgs.role_is("user"))
            frames = msgs.role_is("assistant") & msgs.is_last & (last_user[msgs.row] >= 0)
            if frames.any():
                where = np.flatnonzero(frames)
                framed = frame_thinking(content.take(pa.array(where)))
                content = pc.replace_with_mask(content, pa.array(frames), framed)
        tool = msgs.role_is("tool")
        if tool.any():
            content = pc.if_else(pa.array(tool), _join("<tool_response>\n", content, "\n</tool_response>"), content)
        return [
            Slot(header_w, const=headers, keys=keys),
            Slot(out_w, text=content),
            Slot(out_w, const=["<|im_end|>"], keys=np.zeros(msgs.n_messages, dtype=np.int64)),
        ]

    def generation_suffix(self, msgs: Messages) -> tuple[list[str], np.ndarray]:
        return [self.header("assistant", True), self.header("assistant", False)], (msgs.count > 0).astype(np.int64)


class Qwen3Instruct(Qwen3):
    """``qwen3_instruct`` (2507 models): as ``qwen3`` without the ``<think>`` framing."""

    name = "qwen3_instruct"
    frames_thinking = False


RENDERER_CLASSES: dict[str, type[Renderer]] = {
    cls.name: cls for cls in (RoleColon, Llama3, Qwen3, Qwen3Instruct)
}


def get_renderer(name: str, bos_token: str | None = None) -> Renderer:
    try:
        return RENDERER_CLASSES[name](bos_token)
    except KeyError:
        raise TokenizeError(f"unknown renderer {name!r}; known: {sorted(RENDERER_CLASSES)}") from None
