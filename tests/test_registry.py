"""The check registry honours the failure-mode contract: one check per Part B id, each tested both ways."""

from __future__ import annotations

from bot.diagnosis.registry import FAILURE_MODES, all_checks
from remediations import CATALOGUE
from tests.kit.cases import collect_cases

# Ids added beyond Part B (stable from now on, never renamed).
ADDED_IDS = {"keda-k8s-version-unsupported"}


def test_one_check_per_failure_mode_and_nothing_renamed() -> None:
    registered = {spec.id for spec in all_checks()}
    assert len(FAILURE_MODES) == 36
    assert registered == set(FAILURE_MODES) | ADDED_IDS


def test_every_mode_has_a_triggering_and_a_near_identical_clean_case() -> None:
    covered = {case.id for case in collect_cases()}
    missing = sorted((set(FAILURE_MODES) | ADDED_IDS) - covered)
    assert not missing, f"no Case for: {missing}"


def test_every_fix_a_check_names_exists_in_the_catalogue() -> None:
    for spec in all_checks():
        unknown = [fix for fix in spec.fixes if fix not in CATALOGUE]
        assert not unknown, f"{spec.id} names unknown remediations {unknown}"


def test_every_check_has_a_title_docs_and_a_description() -> None:
    for spec in all_checks():
        assert spec.title and spec.summary, spec.id
        assert all(doc.startswith("https://") for doc in spec.docs), spec.id


def test_every_kind_a_check_needs_has_a_collection_hint() -> None:
    from bot.diagnosis.engine import INPUT_HINTS

    needed = {kind for spec in all_checks() for kind in spec.needs}
    assert needed == set(INPUT_HINTS)
