"""Manual procedures: what keda-auth never changes by itself (cluster features, upgrades, networks, waiting),
rendered from templates/manual/ for a person to follow. They never become steps and are never applied."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from jinja2 import TemplateNotFound

from bot.diagnosis.findings import Finding
from bot.snapshot import Snapshot
from bot.templating import render
from remediations.catalogue import CATALOGUE
from remediations.model import ManualProcedure


def manual_procedures(findings: Iterable[Finding], snapshot: Snapshot) -> Iterator[ManualProcedure]:
    seen: set[tuple[str, str]] = set()
    clusters = snapshot.clusters
    aks = clusters[0] if len(clusters) == 1 else None
    for finding in findings:
        remediations = [r for r in finding.fixes if r in CATALOGUE and not CATALOGUE[r].automated] or ["_generic"]
        for remediation in remediations:
            key = (remediation, finding.id + "|" + ",".join(finding.objects))
            if key in seen:
                continue
            seen.add(key)
            title = CATALOGUE[remediation].title if remediation in CATALOGUE else finding.title
            values = {"finding": finding, "title": title, "aks": aks}
            try:
                text = render(f"manual/{remediation}.md.j2", **values)
            except TemplateNotFound:
                text = render("manual/_generic.md.j2", **values)
            yield ManualProcedure(remediation, title, finding.id, text, finding.objects)
