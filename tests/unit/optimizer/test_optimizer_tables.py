"""The optimizer's tables accept exactly the statuses its code and its API use."""

from __future__ import annotations

from typing import get_args

from sqlalchemy import CheckConstraint, FromClause, Table

from roost.optimizer.models import (
    FINAL_STATUSES,
    MODEL_STATUSES,
    RESULT_STATUSES,
    UNFINISHED_STATUSES,
    OptimizationResultRow,
    ResponseModelRow,
)
from roost.optimizer.schemas import ResultStatus, StatusIn


def check_text(table: FromClause, name: str) -> str:
    assert isinstance(table, Table)  # a declarative class's __table__, typed as its base
    (constraint,) = [
        c for c in table.constraints if isinstance(c, CheckConstraint) and c.name == name
    ]
    return str(constraint.sqltext)


def test_result_status_check_lists_every_status_the_code_uses() -> None:
    text = check_text(OptimizationResultRow.__table__, "ck_optimizer_results_status")
    assert text == "status IN ('queued', 'running', 'done', 'failed')"  # as migration 0601 wrote it
    assert set(UNFINISHED_STATUSES) | set(FINAL_STATUSES) == set(RESULT_STATUSES)
    assert not set(UNFINISHED_STATUSES) & set(FINAL_STATUSES)
    assert get_args(ResultStatus) == RESULT_STATUSES  # what GET /api/v1/results filters on


def test_model_status_check_matches_the_statuses_the_api_accepts() -> None:
    text = check_text(ResponseModelRow.__table__, "ck_optimizer_models_status")
    assert text == "status IN ('active', 'archived')"  # as migration 0601 wrote it
    assert get_args(StatusIn.model_fields["status"].annotation) == MODEL_STATUSES
