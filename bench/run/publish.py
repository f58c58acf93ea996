"""Turn the result store into the static HTML site."""

from __future__ import annotations

from pathlib import Path

from bench.reports.site import RunData, SiteSummary, write_site
from bench.results.store import Store


def publish(store: Store, out: Path, run_ids: list[str] | None = None) -> SiteSummary:
    """Write the site for the given runs (every stored run when None) into `out`, replacing it whole."""
    records = [store.run(run_id) for run_id in run_ids] if run_ids is not None else store.runs(limit=None)
    return write_site([RunData(record=r, results=store.job_results(r.run_id)) for r in records], out)
