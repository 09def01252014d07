"""``make mutants`` is not part of ``make test`` (minutes per row); this keeps its table from going stale
unnoticed: every row's snippet is in its file exactly once and its tests exist."""

from __future__ import annotations

import re

from carsbot_dev.local.stack import repo_root
from carsbot_dev.mutants import MUTANTS


def test_mutants_apply_name_real_tests() -> None:
    root = repo_root()
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        source = (root / mutant.path).read_text(encoding="utf-8")
        assert source.count(mutant.original) == 1, mutant.name
        assert mutant.replacement != mutant.original, mutant.name
        for node in mutant.tests:
            path, _, name = node.partition("::")
            test_source = (root / path).read_text(encoding="utf-8")
            defined = rf"^(?:async )?def {re.escape(name)}\("
            assert not name or re.search(defined, test_source, re.M), (mutant.name, node)
