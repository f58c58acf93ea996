"""The per-operator tables `benchmark_model --enable_op_profiling=true` prints.

The tool prints one block for the initialisation (`Profiling Info for Benchmark Initialization:`:
delegate application, tensor allocation) and one for the timed runs (`Operator-wise Profiling Info
for Regular Benchmark Runs:`), each made of tab-separated tables (a tab where `|` is below, each row indented):

    ============================== Run Order ==============================
    [node type] | [start] | [first] | [avg ms] | [%] | [cdf%] | [mem KB] | [times called] | [Name]
    CONV_2D | 0.000 | 4.269 | 4.269 | 0.107% | 0.107% | 0.000 | 1 | [stem/conv]
    ...
    ============================== Summary by node type ==============================
    [Node type] | [count] | [avg ms] | [avg %] | [cdf %] | [mem KB] | [times called]
    CONV_2D | 15 | 1.406 | 89.270% | 89.270% | 0.000 | 0
    Timings (microseconds): count=50 first=79449 curr=81350 min=77385 max=88213 avg=79732 std=1929

The `Timings` line there is the sum of the operators' times per run, not the tool's end-to-end
latency. Columns are read by their header, so older tables without `[times called]` read too; a log
without a section header (an excerpt) counts as the timed runs' profile.

A model with several subgraphs (a WHILE or IF body) gets one set of tables per subgraph, each headed
`Primary graph (name: main) profile:` / `Subgraph (index: 1, name: body) profile:` (older tools:
`Primary graph profile:`, `Subgraph (index: 1) profile:`), and each subgraph's total line is prefixed
`Subgraph (index: 1, name: body) Timings (microseconds): ...` (LiteRT profiling/
profile_summary_formatter.cc). The primary graph's rows and total stay where they always were; other
subgraphs' rows carry their `subgraph` index and their totals are kept per subgraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

INIT_HEADER = "Profiling Info for Benchmark Initialization"
RUNS_HEADER = "Operator-wise Profiling Info for Regular Benchmark Runs"
_TABLE = re.compile(r"^=+ (.+?) =+$")
_NODES = re.compile(r"^(?:Number of nodes executed: (\d+)|(\d+) nodes observed)$")
_GRAPH = re.compile(r"^(?:Primary graph(?: \(name: [^)]*\))?|Subgraph \(index: (\d+)(?:, name: [^)]*)?\)) \w+:$")
SUBGRAPH_TOTAL = re.compile(r"^Subgraph \(index: (\d+)(?:, name: [^)]*)?\) (Timings \(microseconds\):.*)$")
_COLUMNS = {"node type": "node_type", "start": "start_ms", "first": "first_ms", "avg ms": "avg_ms", "%": "percent",
            "avg %": "percent", "cdf%": "cdf_percent", "cdf %": "cdf_percent", "mem kb": "mem_kb",
            "times called": "times_called", "name": "name", "count": "count"}
_INTS = {"times_called", "count"}


@dataclass(slots=True)
class OpProfile:
    """One block: operators in run order, totals by operator type, and the per-run total of operator time."""

    ops: list[dict[str, Any]] = field(default_factory=list)
    by_type: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] | None = None  # the block's `Timings (microseconds)` line, in ms (the primary graph's)
    nodes: int | None = None
    subgraph_totals: dict[int, dict[str, Any]] = field(default_factory=dict)  # other subgraphs' totals, in ms

    def to_dict(self) -> dict[str, Any]:
        out = {"ops": self.ops, "by_type": self.by_type, "total_ms": self.total, "nodes": self.nodes}
        if self.subgraph_totals:
            out["subgraph_totals_ms"] = {str(k): v for k, v in sorted(self.subgraph_totals.items())}
        return out


def _value(key: str, text: str) -> Any:
    text = text.strip()
    if key in ("node_type", "name"):
        return text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        number = float(text.rstrip("%"))
    except ValueError:
        return None
    return int(number) if key in _INTS else number


class OpProfileReader:
    """Fed one (prefix-stripped) line at a time; keeps the tables of both blocks."""

    def __init__(self) -> None:
        self.blocks: dict[str, OpProfile] = {}
        self._block = "runs"
        self._table: str | None = None
        self._columns: list[str] = []
        self._subgraph = 0

    @property
    def runs(self) -> OpProfile | None:
        return self.blocks.get("runs")

    @property
    def init(self) -> OpProfile | None:
        return self.blocks.get("init")

    def _current(self) -> OpProfile:
        return self.blocks.setdefault(self._block, OpProfile())

    def read(self, line: str) -> bool:
        """Take the line if it belongs to a profile; return whether it did."""
        if line.startswith(INIT_HEADER):
            self._block, self._table, self._subgraph = "init", None, 0
            return True
        if line.startswith(RUNS_HEADER):
            self._block, self._table, self._subgraph = "runs", None, 0
            return True
        if match := _GRAPH.match(line):
            self._subgraph, self._table = int(match.group(1) or 0), None
            return True
        if match := _TABLE.match(line):
            title = match.group(1).lower()
            self._table = {"run order": "ops", "summary by node type": "by_type"}.get(title, "skip")
            self._columns = []
            self._current()
            return True
        if match := _NODES.match(line):
            self._current().nodes = int(match.group(1) or match.group(2))
            return True
        if self._table is None:
            return False
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if cells and all(c.startswith("[") and c.endswith("]") for c in cells):
            self._columns = [_COLUMNS.get(c[1:-1].strip().lower(), c[1:-1].strip().lower()) for c in cells]
            return True
        if self._columns and len(cells) == len(self._columns):
            if self._table != "skip":
                row = {key: _value(key, cell) for key, cell in zip(self._columns, cells, strict=True)}
                if self._subgraph:
                    row["subgraph"] = self._subgraph
                getattr(self._current(), self._table).append(row)
            return True
        return line == "..."  # an excerpt's elision

    def read_total(self, stats: dict[str, Any], subgraph: int = 0) -> None:
        """A graph's `Timings (microseconds): count=...` line, already in ms; it closes the graph's tables."""
        if subgraph:
            self._current().subgraph_totals[subgraph] = stats
        else:
            self._current().total = stats
        self._table = None
