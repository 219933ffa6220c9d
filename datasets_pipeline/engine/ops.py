"""Row and column operations on ``pyarrow.Table`` with the meaning of the ``datasets`` methods.

- :func:`select_columns`, :func:`remove_columns`: keep or drop columns (``Dataset.select_columns``).
- :func:`take` / :func:`select`: rows by position (``Dataset.select``); a contiguous increasing
  run of indices is a zero-copy slice.
- :func:`take_head` (``Dataset.take(n)``), :func:`skip` (``Dataset.skip(n)``), :func:`slice_rows`
  (Python slice semantics, negative bounds and steps included).
- :func:`filter_rows` (``Dataset.filter``): rows where a ``pyarrow.compute.Expression`` holds, or where a vectorized
  function of a record batch returns true.
- :func:`map_rows` (``Dataset.map``): a function over record batches (or dicts of lists, or single rows); its output
  columns replace or extend the input columns, as ``Dataset.map`` does.
- :func:`repeat` (``Dataset.repeat``): the table ``n`` times (zero-copy).
- :func:`with_transform`: a lazy view that applies a function on access, like
  ``Dataset.with_transform``.

Differences from datasets:

- ``filter_rows`` and ``map_rows`` give the function a ``pyarrow.RecordBatch`` by default (vectorized);
  ``input_format="dict"`` gives the ``datasets``-style dict of lists.
- ``map_rows`` on a 0-row table returns it (minus ``remove_columns``) without calling the function.
- The results are new tables, never indices mappings over the input.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasets_pipeline.engine.concat import concatenate
from datasets_pipeline.engine.gather import as_indices, take_table
from datasets_pipeline.errors import SchemaError

__all__ = [
    "TransformedTable",
    "filter_rows",
    "map_rows",
    "remove_columns",
    "repeat",
    "select",
    "select_columns",
    "skip",
    "slice_rows",
    "take",
    "take_head",
    "with_transform",
]

InputFormat = Literal["arrow", "dict"]
Indices = Sequence[int] | np.ndarray | pa.Array | pa.ChunkedArray | range


def _column_list(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def _check_columns(table: pa.Table, columns: list[str]) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise SchemaError(
            f"Column(s) {missing} not in the table; its columns are {table.column_names}", column=missing[0]
        )


def select_columns(table: pa.Table, columns: str | Sequence[str]) -> pa.Table:
    """The table with only ``columns``, in the order given."""
    names = _column_list(columns)
    _check_columns(table, names)
    return table.select(names)


def remove_columns(table: pa.Table, columns: str | Sequence[str]) -> pa.Table:
    """The table without ``columns``."""
    names = _column_list(columns)
    _check_columns(table, names)
    return table.drop_columns(names)


def take(table: pa.Table, indices: Indices) -> pa.Table:
    """The rows at ``indices`` (in that order, repeats allowed); IndexError when out of range."""
    idx = as_indices(indices, table.num_rows)
    if len(idx) == 0:
        return table.slice(0, 0)
    if idx[0] + len(idx) - 1 == idx[-1] and (len(idx) == 1 or bool(np.all(np.diff(idx) == 1))):
        return table.slice(int(idx[0]), len(idx))
    return take_table(table, idx)


def select(table: pa.Table, indices: Indices) -> pa.Table:
    """``Dataset.select(indices)``: the rows at ``indices``, in that order."""
    return take(table, indices)


def _count(n: int, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


def take_head(table: pa.Table, n: int) -> pa.Table:
    """``Dataset.take(n)``: the first ``n`` rows (all of them when ``n`` exceeds the length)."""
    return table.slice(0, _count(n, "n"))


def skip(table: pa.Table, n: int) -> pa.Table:
    """``Dataset.skip(n)``: every row after the first ``n``."""
    n = min(_count(n, "n"), table.num_rows)
    return table.slice(n)


def slice_rows(table: pa.Table, start: int | None = None, stop: int | None = None, step: int | None = None) -> pa.Table:
    """``table[start:stop:step]`` with Python slice semantics (zero-copy when ``step`` is 1)."""
    begin, end, stride = slice(start, stop, step).indices(table.num_rows)
    if stride == 1:
        return table.slice(begin, max(0, end - begin))
    return take_table(table, np.arange(begin, end, stride, dtype=np.int64))


def _mask(result: Any, rows: int) -> pa.Array:
    if isinstance(result, pa.ChunkedArray):
        result = result.combine_chunks()
    elif isinstance(result, np.ndarray):
        if result.dtype != np.bool_:
            raise TypeError(f"a filter function must return booleans, got numpy dtype {result.dtype}")
        result = pa.array(result)
    elif not isinstance(result, pa.Array):
        result = pa.array(list(result), pa.bool_())
    if not pa.types.is_boolean(result.type):
        raise TypeError(f"a filter function must return booleans, got {result.type}")
    if len(result) != rows:
        raise ValueError(f"a filter function returned {len(result)} values for a batch of {rows} rows")
    return result


def _batches(table: pa.Table, batch_size: int | None) -> Iterator[pa.RecordBatch]:
    """Record batches of exactly ``batch_size`` rows (the last one shorter); the whole table if None."""
    n = table.num_rows
    size = n if not batch_size or batch_size <= 0 else batch_size
    for start in range(0, n, max(size, 1)):
        part = table.slice(start, size).combine_chunks()
        if part.num_rows:
            yield part.to_batches()[0]


def filter_rows(
    table: pa.Table,
    predicate: pc.Expression | Callable[[Any], Any],
    batch_size: int | None = 65_536,
    input_format: InputFormat = "arrow",
) -> pa.Table:
    """The rows where ``predicate`` is true (null counts as false).

    ``predicate`` is a ``pyarrow.compute`` Expression, or a vectorized function that receives a
    record batch (``input_format="dict"``: a dict of lists) and returns one boolean per row
    (a pyarrow boolean array, numpy array or list).
    """
    if isinstance(predicate, pc.Expression):
        return table.filter(predicate)
    if not callable(predicate):
        raise TypeError(f"predicate must be a pyarrow Expression or a function, got {type(predicate).__name__}")
    kept = []
    for batch in _batches(table, batch_size):
        arg = batch if input_format == "arrow" else batch.to_pydict()
        kept.append(batch.filter(_mask(predicate(arg), batch.num_rows)))
    if not kept:
        return table.slice(0, 0)
    return pa.Table.from_batches(kept, schema=table.schema)


def _as_output_table(result: Any) -> pa.Table:
    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    if isinstance(result, Mapping):
        return pa.table({k: v for k, v in result.items()})
    raise TypeError(f"a map function must return a dict, a pyarrow Table/RecordBatch or None, got {type(result).__name__}")


def _merge(inputs: pa.Table, output: pa.Table, removed: list[str]) -> pa.Table:
    """``inputs`` updated with ``output``'s columns (replaced in place, new ones appended), minus ``removed``."""
    out_names = set(output.column_names)
    kept = [c for c in inputs.column_names if c not in removed or c in out_names]
    if output.num_rows != inputs.num_rows:
        stale = [c for c in kept if c not in out_names]
        if stale:
            raise ValueError(
                f"the map function returned {output.num_rows} rows for a batch of {inputs.num_rows}; "
                f"input columns {stale} would not fit: return them too or list them in remove_columns"
            )
        return output
    columns, names = [], []
    for name in kept:
        names.append(name)
        columns.append(output.column(name) if name in out_names else inputs.column(name))
    for name in output.column_names:
        if name not in kept:
            names.append(name)
            columns.append(output.column(name))
    return pa.Table.from_arrays(columns, names=names)


def _row_outputs(inputs: pa.Table, results: list[Mapping[str, Any] | None]) -> pa.Table:
    """The columns returned by a row function (a row that returned None keeps its input values)."""
    names: dict[str, None] = {}
    for result in results:
        if result is not None:
            names.update(dict.fromkeys(result))
    if not names:
        return inputs.select([])
    columns = {}
    for name in names:
        fallback = inputs.column(name).to_pylist() if name in inputs.column_names else [None] * len(results)
        columns[name] = [
            result[name] if result is not None and name in result else fallback[i] for i, result in enumerate(results)
        ]
    return pa.table(columns)


def map_rows(
    table: pa.Table,
    fn: Callable[[Any], Any],
    batched: bool = True,
    batch_size: int | None = 1000,
    input_format: InputFormat = "arrow",
    remove_columns: str | Sequence[str] | None = None,
) -> pa.Table:
    """Apply ``fn`` to batches of ``batch_size`` rows (or to each row) and collect its outputs.

    ``fn`` receives a record batch (``input_format="dict"``: a dict of lists; ``batched=False``:
    one row as a dict) and returns a dict of columns, a Table/RecordBatch, or None (keep the
    batch). Returned columns replace input columns of the same name, new ones are appended, and
    ``remove_columns`` are dropped; a batch may change its row count only when every input
    column is returned or removed. Column types are aligned across batches as by
    :func:`.concat.concatenate`.
    """
    removed = _column_list(remove_columns) if remove_columns is not None else []
    _check_columns(table, removed)
    if table.num_rows == 0:
        return table.drop_columns(removed)
    pieces = []
    for batch in _batches(table, batch_size if batched else 1000):
        inputs = pa.Table.from_batches([batch])
        if batched:
            arg = batch if input_format == "arrow" else batch.to_pydict()
            result = fn(arg)
            output = inputs if result is None else _as_output_table(result)
        else:
            output = _row_outputs(inputs, [fn(row) for row in batch.to_pylist()])
        pieces.append(_merge(inputs, output, removed))
    return concatenate(pieces)


def repeat(table: pa.Table, n: int) -> pa.Table:
    """``Dataset.repeat(n)``: the rows of ``table`` ``n`` times over (chunks shared, no copy)."""
    n = _count(n, "n")
    if n == 0:
        return table.slice(0, 0)
    return pa.concat_tables([table] * n)


def _first(values: Any) -> Any:
    item = values[0]
    return item.as_py() if isinstance(item, pa.Scalar) else item


class TransformedTable:
    """A table whose rows pass through ``fn`` when read (``Dataset.with_transform``).

    ``fn`` receives a batch (a dict of lists, or a ``pyarrow.Table`` with
    ``input_format="arrow"``) and returns a dict of columns. ``view[i]`` is one row (a dict),
    ``view[a:b]`` / ``view[[i, j]]`` a transformed batch, ``view["col"]`` one transformed column
    over all rows. Nothing is computed until accessed.
    """

    def __init__(
        self,
        table: pa.Table,
        fn: Callable[[Any], Mapping[str, Any]],
        columns: Sequence[str] | None = None,
        input_format: InputFormat = "dict",
    ) -> None:
        if columns is not None:
            _check_columns(table, list(columns))
        self.table = table
        self.fn = fn
        self.columns = list(columns) if columns is not None else None
        self.input_format = input_format

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def __repr__(self) -> str:
        return f"TransformedTable(num_rows={self.num_rows}, columns={self.table.column_names}, fn={self.fn!r})"

    def _apply(self, part: pa.Table) -> Mapping[str, Any]:
        if self.columns is not None:
            part = part.select(self.columns)
        arg = part if self.input_format == "arrow" else part.to_pydict()
        return self.fn(arg)

    def __getitem__(self, key: int | slice | str | Indices) -> Any:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            n = self.num_rows
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(f"row {int(key)} is out of range for a table of {n} rows")
            return {name: _first(values) for name, values in self._apply(self.table.slice(i, 1)).items()}
        if isinstance(key, slice):
            return self._apply(slice_rows(self.table, key.start, key.stop, key.step))
        if isinstance(key, str):
            return self._apply(self.table)[key]
        return self._apply(take(self.table, key))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, self.num_rows, 1000):
            batch = self._apply(self.table.slice(start, 1000))
            names = list(batch)
            columns = [batch[name] for name in names]
            length = len(columns[0]) if columns else 0
            for i in range(length):
                yield {name: (col[i].as_py() if isinstance(col[i], pa.Scalar) else col[i]) for name, col in zip(names, columns)}


def with_transform(
    table: pa.Table,
    fn: Callable[[Any], Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    input_format: InputFormat = "dict",
) -> TransformedTable:
    """A lazy view of ``table`` that applies ``fn`` on every access (see :class:`TransformedTable`)."""
    return TransformedTable(table, fn, columns, input_format)
