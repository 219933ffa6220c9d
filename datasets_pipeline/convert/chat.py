"""Chat converters: Tulu 3 SFT, No Robots, OpenThoughts3 → ``messages``.

- Tulu 3 / No Robots: the ``messages`` column cast to ``list<struct<role, content>>`` by field name
  (extra struct fields dropped; content given as a list of text parts is joined with a space).
- OpenThoughts3: ``conversations`` of ``{from, value}``; ``from == "human"`` → ``user``, anything
  else (``gpt``, null, …) → ``assistant``; content = ``value``.

Every row is kept, as the cookbook's chat builders keep every row (``conversation_to_datum`` on
each); a null message list becomes an empty list. Empty lists, null content and unknown roles
are the chat family's quality rules (counted, and dropped only by ``quality_filter``).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import messages as msg
from .common import conform, require_columns
from .context import ConvertContext, Converted, FunctionConverter

VERSION = "2"
MESSAGES_COLUMNS = ("messages",)
OPENTHOUGHTS_COLUMNS = ("conversations",)


def _finish(messages: pa.ListArray, ctx: ConvertContext) -> Converted:
    return Converted(conform(pa.table({"messages": messages}), "chat", ctx))


def convert_messages(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Rows with a ``messages`` list of ``{role, content, …}`` (Tulu 3 SFT, No Robots)."""
    require_columns(table, MESSAGES_COLUMNS, ctx)
    return _finish(msg.column_messages(table, "messages", ctx), ctx)


def _from_to_role(senders: pa.Array) -> pa.Array:
    """ShareGPT ``from``: ``human`` → ``user``, anything else → ``assistant``."""
    human = pc.fill_null(pc.equal(senders, "human"), False)
    return pc.if_else(human, "user", "assistant")


def convert_openthoughts(table: pa.Table, ctx: ConvertContext) -> Converted:
    """OpenThoughts3 ``conversations`` of ``{from, value}`` → messages."""
    require_columns(table, OPENTHOUGHTS_COLUMNS, ctx)
    messages = msg.column_messages(
        table, "conversations", ctx, role_field="from", content_field="value", role_map=_from_to_role
    )
    return _finish(messages, ctx)


MESSAGES = FunctionConverter(msg.bounded(convert_messages), version=VERSION, required_columns=MESSAGES_COLUMNS)
OPENTHOUGHTS = FunctionConverter(
    msg.bounded(convert_openthoughts), version=VERSION, required_columns=OPENTHOUGHTS_COLUMNS
)
