"""Tables for the terminal: the columns a reader needs whole (ids, counts, flags) are never shortened;
on a narrow terminal the optional columns are left out first, then the others wrap, and when the whole
columns alone are wider than the terminal the lines are longer than it rather than cut. No line ends
in spaces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "build_table", "fit_table", "print_table"]

Cell = str | Text
_UNBOUNDED = 100_000


@dataclass(frozen=True)
class Column:
    """A column: its header, alignment, whether it must stay whole, and when it may be left out
    (``optional`` > 0: the highest goes first)."""

    name: str
    justify: Literal["left", "right"] = "left"
    whole: bool = False
    optional: int = 0


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def build_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None = None) -> Table:
    """A borderless table of ``rows``; whole columns get their widest cell's width, others fold."""
    table = Table(title=title, title_justify="left", title_style="bold", header_style="bold", box=None, pad_edge=False)
    for index, column in enumerate(columns):
        widest = max([_width(column.name), *(_width(row[index]) for row in rows)]) if column.whole else None
        table.add_column(column.name, justify=column.justify, no_wrap=column.whole, min_width=widest, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def fit_table(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None = None
) -> Table:
    """:func:`build_table`, leaving out optional columns while the table is wider than ``console``."""
    keep = list(range(len(columns)))
    while True:
        table = build_table([columns[i] for i in keep], [[row[i] for i in keep] for row in rows], title)
        optional = [i for i in keep if columns[i].optional > 0]
        natural = console.measure(table, options=console.options.update_width(_UNBOUNDED)).maximum
        if not optional or natural <= console.width:
            return table
        keep.remove(max(optional, key=lambda i: columns[i].optional))


def print_table(console: Console, table: RenderableType) -> None:
    """Print ``table`` at the console's width, or wider when its whole columns need it; without the
    spaces that pad each line's last cell."""
    needed = console.measure(table, options=console.options.update_width(_UNBOUNDED)).minimum
    options = console.options.update_width(max(console.width, needed))
    for line in console.render_lines(table, options, pad=False):
        text = Text.assemble(*((segment.text, segment.style or "") for segment in line if not segment.control))
        text.rstrip()
        console.print(text, soft_wrap=True, crop=False)
