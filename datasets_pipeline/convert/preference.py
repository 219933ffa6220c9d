"""Preference converters → ``prompt, completion_a, completion_b`` (message lists) and ``label``.

Rules follow the cookbook's comparison builders:

- HH-RLHF: each transcript is split like ``re.split(r"(Human:|Assistant:)")`` (text before the
  first marker must be blank, else the transcript has no messages), parts stripped, ``Human:`` →
  user, ``Assistant:`` → assistant. Kept only when chosen and rejected have the same number of
  messages, equal at every position but the last, and differ in the last (``hh_keep_rule``).
  prompt = chosen[:-1], A = chosen[-1], B = rejected[-1], label A.
- HelpSteer3: prompt = ``context`` (a message list, or plain text → one user message), A =
  ``response1``, B = ``response2``; ``overall_preference`` < 0 → A, > 0 → B, 0 →
  ``helpsteer3_tie``, null → ``helpsteer3_no_preference``.
- HelpSteer2 (whole split): rows grouped by ``prompt`` in first-occurrence order; per group the best
  response (highest ``helpfulness``, the first such row on ties) against the worst (lowest, the
  last such row on ties, as a stable descending sort leaves it) when best > worst; label A.
  Dropped: ``helpsteer2_single_response``, ``helpsteer2_equal_helpfulness`` (all rows of a group
  without a gap), ``helpsteer2_middle_response`` (rows neither best nor worst),
  ``helpsteer2_worst_in_pair`` (the worst row, merged into its pair's output row), and
  ``helpsteer2_null_helpfulness``; so rows in = rows out + rows dropped.
- UltraFeedback: [user: instruction], A = chosen_response, B = rejected_response, label A.
- Tulu 3 preference: [user: prompt], A = [assistant: chosen[1].content], B = the same of rejected;
  fewer than two messages on either side → ``tulu3_short_conversation``.
- Arena 140k: ``winner`` must be ``model_a``/``model_b`` (``arena_winner_not_a_or_b``); a message
  with a non-text content part voids the row (``arena_non_text_part``); text parts are joined with
  a space; messages with no parts or a role other than user/assistant are left out; then both
  sides need two messages (``arena_too_few_messages``) ending with an assistant message
  (``arena_last_not_assistant``). prompt = conversation_a[0:1], A = conversation_a[1:], B =
  conversation_b[1:], label A for model_a else B.

Rows are dropped only for the dataset's own reasons above (where the cookbook's builder returns
None, or would fail on the row), each counted once under the first reason it fails. Empty
prompts, null content and unknown roles are kept, as the cookbook keeps them: they are the
preference family's quality rules.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConversionError, SchemaError
from . import messages as msg
from .common import conform, require_columns
from .context import ConvertContext, Converted, FunctionConverter

VERSION = "2"


def _text(table: pa.Table, name: str) -> pa.Array:
    return msg.as_array(table.column(name)).cast(pa.string())


def _labels(n: int, label: str = "A") -> pa.Array:
    return pa.repeat(pa.scalar(label, pa.string()), n)


def _finish(
    ctx: ConvertContext,
    prompt: pa.Array,
    completion_a: pa.Array,
    completion_b: pa.Array,
    label: pa.Array,
    checks: list[tuple[str, np.ndarray]],
    dropped_before: dict[str, int] | None = None,
    rows: np.ndarray | None = None,
) -> Converted:
    """Apply the dataset's checks and keep the surviving rows (``rows``: input positions, if not 0..n-1)."""
    keep, dropped = msg.apply_drops(len(label), checks)
    for reason, count in (dropped_before or {}).items():
        dropped[reason] = dropped.get(reason, 0) + count
    table = pa.table({"prompt": prompt, "completion_a": completion_a, "completion_b": completion_b, "label": label})
    if not keep.all():
        table = table.filter(pa.array(keep))
    positions = msg.kept_rows(keep) if rows is None else np.asarray(rows, dtype=np.int64)[keep]
    return Converted(conform(table, "preference", ctx), dropped, positions)


# --- HH-RLHF ---------------------------------------------------------------------------------

_MARKER = r"(Human:|Assistant:)"
_SEPARATORS = ("\x00", "\x01", "\x02", "\x03", "\x04", "\ufdd0", "\ufdd1")


def _separator(texts: pa.Array) -> str:
    """A character that occurs in none of the texts."""
    for sep in _SEPARATORS:
        if not pc.any(pc.match_substring(texts, sep)).as_py():
            return sep
    raise ConversionError("transcripts contain every separator candidate; cannot split them")


def parse_transcripts(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """HH transcripts as messages: per-row message counts, flat ``is_user`` flags and contents.

    A separator is inserted before every ``Human:``/``Assistant:`` marker and the text split on it:
    part 0 is the text before the first marker, every other part starts with its marker.
    """
    texts = msg.as_array(texts).cast(pa.string())
    n = len(texts)
    sep = _separator(texts)
    marked = pc.replace_substring_regex(texts, _MARKER, sep + r"\1")
    parts, counts = msg.list_layout(pc.split_pattern(marked, sep))
    rows = msg.parent_rows(counts)
    head = msg.position_in_row(counts) == 0
    prefix_blank = np.ones(n, dtype=bool)
    prefix_blank[rows[head]] = msg.to_numpy_bool(
        pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(parts.filter(pa.array(head)))), 0)
    )
    is_message = ~head & prefix_blank[rows]
    pieces = parts.filter(pa.array(is_message))
    user = pc.starts_with(pieces, "Human:")
    is_user = msg.to_numpy_bool(user)
    after_marker = pc.if_else(
        user, pc.utf8_slice_codeunits(pieces, len("Human:")), pc.utf8_slice_codeunits(pieces, len("Assistant:"))
    )
    contents = pc.utf8_trim_whitespace(after_marker)
    lengths = np.bincount(rows[is_message], minlength=n).astype(np.int64)
    return lengths, is_user, contents


def _roles(is_user: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(is_user, pa.bool_()), "user", "assistant")


def convert_hh_rlhf(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Anthropic HH-RLHF ``chosen``/``rejected`` transcripts → shared prompt, last replies, label A."""
    require_columns(table, HH_COLUMNS, ctx)
    n = table.num_rows
    c_len, c_user, c_text = parse_transcripts(table.column("chosen"))
    r_len, r_user, r_text = parse_transcripts(table.column("rejected"))
    c_off, r_off = msg.offsets_of(c_len), msg.offsets_of(r_len)

    same = (c_len == r_len) & (c_len > 0)
    rows = np.flatnonzero(same)
    lens = c_len[rows]
    pos = msg.position_in_row(lens)
    c_idx = np.repeat(c_off[rows], lens) + pos
    r_idx = np.repeat(r_off[rows], lens) + pos
    equal = (c_user[c_idx] == r_user[r_idx]) & msg.to_numpy_bool(
        pc.equal(c_text.take(pa.array(c_idx)), r_text.take(pa.array(r_idx)))
    )
    last = pos == np.repeat(lens - 1, lens)
    owner = np.repeat(rows, lens)
    earlier_differs = np.bincount(owner[~equal & ~last], minlength=n) > 0
    last_equal = np.zeros(n, dtype=bool)
    last_equal[owner[last]] = equal[last]
    ok = same & ~earlier_differs & ~last_equal

    # Built over all rows (empty lists where not ok), filtered once in _finish.
    c_rows = msg.parent_rows(c_len)
    c_last = msg.position_in_row(c_len) == np.repeat(c_len - 1, c_len)
    in_prompt = ok[c_rows] & ~c_last
    prompt = msg.build(np.where(ok, c_len - 1, 0), _roles(c_user[in_prompt]), c_text.filter(pa.array(in_prompt)))
    a_idx = c_off[1:][ok] - 1
    b_idx = r_off[1:][ok] - 1
    ones = ok.astype(np.int64)
    completion_a = msg.build(ones, _roles(c_user[a_idx]), c_text.take(pa.array(a_idx, pa.int64())))
    completion_b = msg.build(ones, _roles(r_user[b_idx]), r_text.take(pa.array(b_idx, pa.int64())))
    return _finish(ctx, prompt, completion_a, completion_b, _labels(n), [("hh_keep_rule", ~ok)])


# --- HelpSteer3, UltraFeedback, Tulu 3 preference --------------------------------------------


def convert_helpsteer3(table: pa.Table, ctx: ConvertContext) -> Converted:
    """HelpSteer3 ``preference``: context vs response1/response2, sign of ``overall_preference``."""
    require_columns(table, HELPSTEER3_COLUMNS, ctx)
    prompt = msg.column_messages(table, "context", ctx, text_role="user")
    preference = msg.as_array(table.column("overall_preference")).cast(pa.float64())
    label = pc.if_else(pc.less(preference, 0), "A", "B")
    checks = [
        ("helpsteer3_no_preference", msg.to_numpy_bool(pc.is_null(preference))),
        ("helpsteer3_tie", msg.to_numpy_bool(pc.equal(preference, 0))),
    ]
    a = msg.single("assistant", _text(table, "response1"))
    b = msg.single("assistant", _text(table, "response2"))
    return _finish(ctx, prompt, a, b, label, checks)


def convert_ultrafeedback(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Argilla UltraFeedback binarized: [user: instruction], chosen vs rejected response, label A."""
    require_columns(table, ULTRAFEEDBACK_COLUMNS, ctx)
    prompt = msg.column_messages(table, "instruction", ctx, text_role="user")
    a = msg.single("assistant", _text(table, "chosen_response"))
    b = msg.single("assistant", _text(table, "rejected_response"))
    return _finish(ctx, prompt, a, b, _labels(table.num_rows), [])


def _second_content(messages: pa.ListArray) -> tuple[pa.Array, np.ndarray]:
    """Content of each row's message at index 1 (null where missing), and rows that have one."""
    flat, lengths = msg.list_layout(messages)
    has = lengths >= 2
    index = np.where(has, msg.offsets_of(lengths)[:-1] + 1, -1)
    contents = pc.struct_field(flat, "content").take(pa.array(index, pa.int64(), mask=~has))
    return contents, has


def convert_tulu3_preference(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Tulu 3 8B preference mixture: [user: prompt], chosen[1] vs rejected[1] as assistant replies."""
    require_columns(table, TULU3_PREFERENCE_COLUMNS, ctx)
    prompt = msg.column_messages(table, "prompt", ctx, text_role="user")
    chosen, c_ok = _second_content(msg.column_messages(table, "chosen", ctx))
    rejected, r_ok = _second_content(msg.column_messages(table, "rejected", ctx))
    a, b = msg.single("assistant", chosen), msg.single("assistant", rejected)
    return _finish(ctx, prompt, a, b, _labels(table.num_rows), [("tulu3_short_conversation", ~(c_ok & r_ok))])


# --- Arena 140k ------------------------------------------------------------------------------


def _arena_conversation(table: pa.Table, name: str, ctx: ConvertContext) -> tuple[pa.ListArray, np.ndarray]:
    """An arena conversation as messages, and rows with a non-text content part."""
    column = msg.as_array(table.column(name))
    try:
        if not msg.is_list(column.type) or not pa.types.is_struct(column.type.value_type):
            raise SchemaError(f"expected a list of {{role, content}} turns, not {column.type}")
        flat, lengths = msg.list_layout(column)
        fields = {flat.type.field(i).name for i in range(flat.type.num_fields)}
        if not {"role", "content"} <= fields:
            raise SchemaError(f"turns need role and content fields, not {', '.join(sorted(fields))}")
        text, parts, non_text = msg.parts_text(pc.struct_field(flat, "content"))
    except SchemaError as exc:
        raise exc.with_context(
            **ctx.where, column=name
        ) from None
    n = len(column)
    rows = msg.parent_rows(lengths)
    roles = pc.struct_field(flat, "role").cast(pa.string())
    known = msg.to_numpy_bool(pc.is_in(roles, pa.array(["user", "assistant"])))
    kept = (parts > 0) & known
    messages = msg.build(
        np.bincount(rows[kept], minlength=n), roles.filter(pa.array(kept)), text.filter(pa.array(kept))
    )
    has_non_text = np.bincount(rows[non_text > 0], minlength=n) > 0
    return messages, has_non_text


def _last_is_assistant(messages: pa.ListArray) -> np.ndarray:
    flat, lengths = msg.list_layout(messages)
    last = np.where(lengths > 0, msg.offsets_of(lengths)[1:] - 1, -1)
    roles = pc.struct_field(flat, "role").take(pa.array(last, pa.int64(), mask=lengths == 0))
    return msg.to_numpy_bool(pc.equal(roles, "assistant"))


def convert_arena(table: pa.Table, ctx: ConvertContext) -> Converted:
    """LMArena human preference 140k: decided text battles → first user turn, both sides' replies."""
    require_columns(table, ARENA_COLUMNS, ctx)
    winner = _text(table, "winner")
    conv_a, non_text_a = _arena_conversation(table, "conversation_a", ctx)
    conv_b, non_text_b = _arena_conversation(table, "conversation_b", ctx)
    len_a = msg.list_layout(conv_a)[1]
    len_b = msg.list_layout(conv_b)[1]
    checks = [
        ("arena_winner_not_a_or_b", ~msg.to_numpy_bool(pc.is_in(winner, pa.array(["model_a", "model_b"])))),
        ("arena_non_text_part", non_text_a | non_text_b),
        ("arena_too_few_messages", (len_a < 2) | (len_b < 2)),
        ("arena_last_not_assistant", ~(_last_is_assistant(conv_a) & _last_is_assistant(conv_b))),
    ]
    label = pc.if_else(pc.fill_null(pc.equal(winner, "model_a"), False), "A", "B")
    prompt = pc.list_slice(conv_a, 0, 1)
    return _finish(ctx, prompt, pc.list_slice(conv_a, 1), pc.list_slice(conv_b, 1), label, checks)


# --- HelpSteer2 (whole split) ----------------------------------------------------------------


def _first_per_group(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Row index of the first row of each group in ``order`` (groups sorted ascending)."""
    g = groups[order]
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    return order[first]


def convert_helpsteer2(table: pa.Table, ctx: ConvertContext) -> Converted:
    """HelpSteer2: best vs worst response by ``helpfulness`` per prompt; needs the whole split."""
    require_columns(table, HELPSTEER2_COLUMNS, ctx)
    n = table.num_rows
    prompt, response = _text(table, "prompt"), _text(table, "response")
    helpfulness = msg.as_array(table.column("helpfulness")).cast(pa.float64())
    null_help = msg.to_numpy_bool(pc.is_null(helpfulness))
    null_prompt = msg.to_numpy_bool(pc.is_null(prompt))
    _, dropped = msg.apply_drops(n, [("empty_prompt", null_prompt), ("helpsteer2_null_helpfulness", null_help)])
    valid = np.flatnonzero(~null_prompt & ~null_help)

    codes = pc.dictionary_encode(prompt.take(pa.array(valid, pa.int64()))).indices.to_numpy(zero_copy_only=False)
    codes = codes.astype(np.int64)
    score = helpfulness.take(pa.array(valid, pa.int64())).to_numpy(zero_copy_only=False)
    sizes = np.bincount(codes)
    local = np.arange(len(valid), dtype=np.int64)
    best = _first_per_group(codes, np.lexsort((local, -score, codes)))
    worst = _first_per_group(codes, np.lexsort((-local, score, codes)))
    paired = (sizes >= 2) & (score[best] > score[worst])

    group_of = codes
    for reason, bad in (
        ("helpsteer2_single_response", sizes[group_of] == 1),
        ("helpsteer2_equal_helpfulness", (sizes[group_of] >= 2) & ~paired[group_of]),
    ):
        if bad.any():
            dropped[reason] = int(bad.sum())
    pairs = int(paired.sum())
    middle = int(sizes[paired].sum()) - 2 * pairs
    if middle:
        dropped["helpsteer2_middle_response"] = middle
    if pairs:
        dropped["helpsteer2_worst_in_pair"] = pairs

    best_rows = pa.array(valid[best[paired]], pa.int64())
    worst_rows = pa.array(valid[worst[paired]], pa.int64())
    return _finish(
        ctx,
        msg.single("user", prompt.take(best_rows)),
        msg.single("assistant", response.take(best_rows)),
        msg.single("assistant", response.take(worst_rows)),
        _labels(pairs),
        [],
        dropped_before=dropped,
        rows=valid[best[paired]],
    )


HH_COLUMNS = ("chosen", "rejected")
HELPSTEER3_COLUMNS = ("context", "response1", "response2", "overall_preference")
HELPSTEER2_COLUMNS = ("prompt", "response", "helpfulness")
ULTRAFEEDBACK_COLUMNS = ("instruction", "chosen_response", "rejected_response")
TULU3_PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")
ARENA_COLUMNS = ("winner", "conversation_a", "conversation_b")

HH_RLHF = FunctionConverter(msg.bounded(convert_hh_rlhf), version=VERSION, required_columns=HH_COLUMNS)
HELPSTEER3 = FunctionConverter(
    msg.bounded(convert_helpsteer3),
    version=VERSION,
    required_columns=HELPSTEER3_COLUMNS,
)
HELPSTEER2 = FunctionConverter(
    convert_helpsteer2,
    version=VERSION,
    required_columns=HELPSTEER2_COLUMNS,
    whole_split=True,
)
ULTRAFEEDBACK = FunctionConverter(
    msg.bounded(convert_ultrafeedback),
    version=VERSION,
    required_columns=ULTRAFEEDBACK_COLUMNS,
)
TULU3_PREFERENCE = FunctionConverter(
    msg.bounded(convert_tulu3_preference),
    version=VERSION,
    required_columns=TULU3_PREFERENCE_COLUMNS,
)
ARENA = FunctionConverter(msg.bounded(convert_arena), version=VERSION, required_columns=ARENA_COLUMNS)
