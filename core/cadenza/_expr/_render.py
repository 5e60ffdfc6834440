"""Running compiled expressions: evaluation for ``when:`` and for render trees of ``with:``.

:func:`~cadenza._expr._expressions.compile_value` turns a ``with:`` value into a
tree of nodes (:mod:`~cadenza._expr._nodes`), built only where there is
something to evaluate; rendering walks it with one :class:`Scope` per render,
which converts just the inputs and step outputs the expressions reference
into CEL (outputs can be large), once.
Every failure becomes an :class:`~cadenza.ExpressionError` naming the
expression and the path of the string it came from. A scope holds one
:class:`~cadenza._expr._budget.Cost`: everything one ``when:`` evaluation or one
``with:`` rendering does counts against the same evaluation limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import celpy.celtypes as celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError, CELUnsupportedError

from .._errors import ExpressionError, ExpressionLimitError
from ._budget import Cost, LimitExceeded
from ._explain import explain_failure, tidy_message
from ._plain import to_plain
from ._values import NotJSONError, compact_json

if TYPE_CHECKING:
    from ._expressions import ExpressionContext
    from ._nodes import Program

__all__ = ["Scope"]


class Scope:
    """One render or evaluation: the context, and its CEL activation built on first use."""

    __slots__ = ("_activation", "cost", "ctx", "input_refs", "step_refs")

    def __init__(
        self, ctx: ExpressionContext, input_refs: frozenset[str], step_refs: frozenset[str]
    ) -> None:
        self.ctx = ctx
        self.input_refs = input_refs
        self.step_refs = step_refs
        self.cost = Cost()
        self._activation: dict[str, Any] | None = None

    def activation(self, program: Program, where: str) -> dict[str, Any]:
        """The CEL values of the referenced inputs and steps, converted once per scope."""
        # Only what the expressions reference is converted: outputs can be large.
        if self._activation is None:
            inputs: dict[Any, Any] = {}
            for name in sorted(self.input_refs):
                if name in self.ctx.inputs:
                    label = f"inputs.{name}"
                    inputs[celtypes.StringType(name)] = _to_cel(
                        self.ctx.inputs[name], label, program, where
                    )
            steps: dict[Any, Any] = {}
            for step_id in sorted(self.step_refs):
                view = self.ctx.steps.get(step_id)
                if view is not None:
                    label = f"steps.{step_id}.output"
                    steps[celtypes.StringType(step_id)] = celtypes.MapType(
                        {
                            celtypes.StringType("status"): celtypes.StringType(view.status),
                            celtypes.StringType("output"): _to_cel(
                                view.output, label, program, where
                            ),
                        }
                    )
            self._activation = {
                "inputs": celtypes.MapType(inputs),
                "steps": celtypes.MapType(steps),
            }
            if self.ctx.index is not None:  # one item of a for_each step
                self._activation["item"] = _to_cel(self.ctx.item, "item", program, where)
                self._activation["index"] = celtypes.IntType(self.ctx.index)
        return self._activation

    def evaluate(self, program: Program, where: str) -> Any:
        """Run ``program`` and return its result as a plain JSON value."""
        runner = program.runner
        if runner is None:
            message, _hint = program.problems[0] if program.problems else ("not compiled", "")
            raise ExpressionError(message, expression=program.text, where=where)
        activation = self.activation(program, where)
        try:
            result = runner.evaluate(activation, self.cost)
        except LimitExceeded as exc:
            raise _limit_error(exc, program, where) from None
        except CELEvalError as exc:
            raise self._explained(exc, program, activation, where) from exc
        except CELUnsupportedError as exc:
            raise ExpressionError(
                f"not supported by this CEL implementation: {exc}",
                expression=program.text,
                where=where,
            ) from exc
        except Exception as exc:  # celpy bugs surface as arbitrary exceptions
            raise ExpressionError(
                f"evaluation failed: {type(exc).__name__}: {tidy_message(str(exc))}",
                expression=program.text,
                where=where,
            ) from exc
        try:
            return to_plain(result, self.cost)
        except LimitExceeded as exc:
            raise _limit_error(exc, program, where) from None
        except CELEvalError as exc:
            raise self._explained(exc, program, activation, where) from exc
        except NotJSONError as exc:
            raise ExpressionError(str(exc), expression=program.text, where=where) from None

    def evaluate_text(self, program: Program, where: str) -> str:
        """Run ``program`` for text around it: a string as it is, anything else as compact JSON."""
        value = self.evaluate(program, where)
        return value if isinstance(value, str) else compact_json(value)

    def _explained(
        self, exc: CELEvalError, program: Program, activation: dict[str, Any], where: str
    ) -> ExpressionError:
        """celpy's evaluation error as an ExpressionError saying what failed and why."""
        return ExpressionError(
            explain_failure(exc, program, activation, self.ctx),
            expression=program.text,
            where=where,
        )


def _limit_error(exc: LimitExceeded, program: Program, where: str) -> ExpressionLimitError:
    """The evaluation ran out of steps: say which limit, and how to stay within it."""
    return ExpressionLimitError(
        f"evaluation stopped at the limit of {exc.limit:,} steps (make it do less: iterate "
        "over fewer items, do not nest map/filter/all/exists over long lists, or compute "
        "the value in a step; see 'Evaluation limit' in docs/expressions.md)",
        expression=program.text,
        where=where,
        limit=exc.limit,
    )


def _to_cel(value: Any, label: str, program: Program, where: str) -> Any:
    """``value`` (``label`` says whose) as CEL; an ExpressionError when CEL cannot hold it."""
    try:
        return json_to_cel(value)
    except (ValueError, TypeError) as exc:
        reason = (
            "an integer is outside CEL's 64-bit range"
            if str(exc) == "overflow"
            else tidy_message(str(exc))
        )
        raise ExpressionError(
            f"{label} holds a value expressions cannot use: {reason}",
            expression=program.text,
            where=where,
        ) from exc
