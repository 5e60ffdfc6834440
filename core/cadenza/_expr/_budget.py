"""The evaluation limit: how much work one ``when:`` or one ``with:`` may do.

celpy interprets the parse tree in Python, on the scheduler's trio thread,
at some microseconds per node. Three nested ``map``s over a hundred items
each are a million evaluations of the inner body: minutes during which the
run ignores its deadline, Ctrl-C and ``cadenza cancel``. So every evaluation
carries a :class:`Cost` and stops with :class:`LimitExceeded` once it has
spent :data:`EVALUATION_LIMIT` steps, as Kubernetes bounds its CEL rules, but
counted exactly as the evaluation goes (so the same expression on the same
data always stops at the same point):

- each node of the parse tree evaluated is a step, each time it is
  evaluated: a comprehension's body counts again for every item, plus
  :data:`ITEM_STEPS` for taking the item;
- work that is not a node is charged by size: comparing (``==``, ``<``,
  ``in``), joining (``+``), passing to a function or method (``string()``,
  ``contains()``, ``matches()``; not ``size()``) and ``min()`` cost one step
  per :data:`VALUES_PER_STEP` values (list items, map keys and values,
  counted all the way down) and per :data:`CHARS_PER_STEP` characters;
- turning the result into plain JSON counts its values the same way.

A budget is per evaluation of a step's ``when:`` and per rendering of its
whole ``with:``; the limit allows at most about half a second of CPU, so a
run stays responsive to cancellation. :func:`minimum_steps` is the static side:
a lower bound of the steps an expression takes, from the comprehensions over
list literals it contains, so that an expression that can never fit is
reported when the workflow loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import celpy
import lark
from celpy.evaluation import Activation, CELEvalError, Context, Evaluator, NameContainer, Result

from ._refs import Tree

__all__ = [
    "CHARS_PER_STEP",
    "EVALUATION_LIMIT",
    "ITEM_STEPS",
    "VALUES_PER_STEP",
    "BudgetedRunner",
    "Cost",
    "LimitExceeded",
    "minimum_steps",
]

EVALUATION_LIMIT: Final = 50_000
"""Steps one evaluation may take: at most about half a second of CPU (a step is ~10 us)."""
ITEM_STEPS: Final = 2
"""Extra steps for each item a comprehension (map, filter, all, exists, ...) takes."""
VALUES_PER_STEP: Final = 10
"""Values (list items, map keys and values) compared, joined or converted per step."""
CHARS_PER_STEP: Final = 100
"""Characters compared, joined or searched per step."""

# Costs are kept in hundredths of a step, so that values and characters add up exactly.
_STEP: Final = 100
_VALUE: Final = _STEP // VALUES_PER_STEP
_CHAR: Final = _STEP // CHARS_PER_STEP
_COMPREHENSIONS: Final = frozenset({"map", "filter", "all", "exists", "exists_one", "reduce"})
# Functions and methods whose cost does not grow with their arguments.
_CONSTANT_TIME: Final = frozenset({"size", "type"})


class LimitExceeded(Exception):
    """An evaluation spent its whole budget; ``limit`` is the budget in steps."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"evaluation stopped after {limit:,} steps")


class Cost:
    """The budget of one evaluation: charges steps and sizes, raises when it runs out."""

    __slots__ = ("_left", "limit")

    def __init__(self, limit: int = EVALUATION_LIMIT) -> None:
        self.limit = limit
        self._left = limit * _STEP

    @property
    def spent(self) -> float:
        """Steps spent so far (fractions come from sizes)."""
        return self.limit - self._left / _STEP

    def steps(self, n: int) -> None:
        """Charge ``n`` steps."""
        self._left -= n * _STEP
        if self._left < 0:
            raise LimitExceeded(self.limit)

    def size(self, value: Any, *, deep: bool = True) -> None:
        """Charge for going over ``value``: its characters, and its values when it is a container.

        ``deep`` counts nested containers too (comparing, converting); otherwise
        only the top level (joining lists copies references). Stops as soon as
        the budget runs out, so a value that shares its parts many times over
        costs no more to measure than the budget allows.
        """
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, str | bytes):
                self._left -= len(item) * _CHAR
            elif isinstance(item, Mapping):
                self._left -= 2 * len(item) * _VALUE
                if deep:
                    stack.extend(item.keys())
                    stack.extend(item.values())
            elif isinstance(item, list | tuple):
                self._left -= len(item) * _VALUE
                if deep:
                    stack.extend(item)
            if self._left < 0:
                raise LimitExceeded(self.limit)

    def values(self, n: int) -> None:
        """Charge for producing ``n`` values (converting a result to JSON)."""
        self._left -= n * _VALUE
        if self._left < 0:
            raise LimitExceeded(self.limit)


class BudgetedEvaluator(Evaluator):
    """celpy's tree-walking evaluator, charging every node and sized operation to a Cost."""

    def __init__(self, ast: Tree, activation: Activation, cost: Cost) -> None:
        super().__init__(ast, activation)
        self.cost = cost
        self._sized: set[int] = set()  # ids of trees whose value is charged by size (min())

    def sub_evaluator(self, ast: Tree) -> Evaluator:
        """The evaluator of a comprehension's body: it shares this evaluation's budget."""
        return BudgetedEvaluator(ast, self.activation, self.cost)

    def evaluate(self, context: Context | None = None) -> celpy.celtypes.Value:
        # A comprehension evaluates its body once per item, binding the item in a
        # fresh activation: that binding is what ITEM_STEPS pays for.
        self.cost.steps(ITEM_STEPS)
        return super().evaluate(context)

    def visit(self, tree: Tree) -> Result:
        self.cost.steps(1)
        value: Result = super().visit(tree)
        if self._sized and id(tree) in self._sized:
            self.cost.size(value, deep=False)
        return value

    def visit_children(self, tree: Tree) -> list[Result]:
        cost = self.cost
        nodes = 0
        for child in tree.children:
            if isinstance(child, lark.Tree):
                nodes += 1
        cost.steps(nodes)
        values = super().visit_children(tree)
        if len(values) == 2 and tree.data in ("relation", "addition"):
            # Both operators see [[left], right]; the first child names the operation.
            left = values[0][0] if isinstance(values[0], list) and values[0] else None
            right = values[1]
            operation = tree.children[0]
            op = operation.data if isinstance(operation, lark.Tree) else ""
            if op == "relation_in" and isinstance(right, Mapping):
                cost.size(left)  # a key lookup: only the key is compared
            elif tree.data == "addition":
                cost.size(left, deep=False)  # joining copies the top level
                cost.size(right, deep=False)
            else:
                cost.size(left)
                cost.size(right)
        return values

    def function_eval(self, name_token: lark.Token, exprlist: Any = None) -> Any:
        if isinstance(exprlist, list) and str(name_token) not in _CONSTANT_TIME:
            self.cost.size(exprlist)
        return super().function_eval(name_token, exprlist)

    def method_eval(self, object: Any, method_ident: lark.Token, exprlist: Any = None) -> Any:
        if str(method_ident) not in _CONSTANT_TIME:
            self.cost.size(object)
            if isinstance(exprlist, list):
                self.cost.size(exprlist)
        return super().method_eval(object, method_ident, exprlist)

    def member_dot(self, tree: Tree) -> Any:
        # celpy's own member_dot puts the repr() of a value that has no fields into its
        # error message: as slow as the value is large, and not charged to the budget.
        # The same field selection, with the value named by its type only.
        member_tree, name_token = tree.children
        assert isinstance(member_tree, lark.Tree)
        member: Any = self.visit(member_tree)  # a NameContainer too, for dotted names
        name = str(name_token)
        if isinstance(member, CELEvalError):
            return member
        if isinstance(member, NameContainer):
            if name in member:
                return member[name].value
            return CELEvalError(
                f"No {name!r} in bindings {sorted(member)}", KeyError, None, tree=tree
            )
        if isinstance(member, celpy.celtypes.MessageType):
            return member.get(name)
        if isinstance(member, celpy.celtypes.MapType):
            try:
                return member[name]
            except KeyError:
                return CELEvalError(
                    f"no such member in mapping: {name!r}", KeyError, None, tree=tree
                )
        return CELEvalError(
            f"a {type(member).__name__} does not support field selection",
            TypeError,
            None,
            tree=tree,
        )

    def member_dot_arg(self, tree: Tree) -> Any:
        # ``xs.min()`` goes over the whole list without evaluating a node per item:
        # charge the list by size when it has been evaluated (see visit).
        if len(tree.children) >= 2 and tree.children[1] == "min":
            receiver = id(tree.children[0])
            self._sized.add(receiver)
            try:
                return super().member_dot_arg(tree)
            finally:
                self._sized.discard(receiver)
        return super().member_dot_arg(tree)


class BudgetedRunner(celpy.InterpretedRunner):
    """A compiled expression that evaluates within a :class:`Cost` (a fresh one by default)."""

    def evaluate(self, context: Context, cost: Cost | None = None) -> celpy.celtypes.Value:
        evaluator = BudgetedEvaluator(self.ast, self.new_activation(), cost or Cost())
        return evaluator.evaluate(context)

    def evaluate_part(self, tree: Tree, context: Context, cost: Cost) -> Result:
        """Evaluate one subtree of this expression (to explain a failure), within ``cost``."""
        return BudgetedEvaluator(tree, self.new_activation(), cost).evaluate(context)


def minimum_steps(tree: Tree) -> int:
    """A lower bound of the steps evaluating ``tree`` takes, whatever its inputs.

    Only comprehensions over list literals are known to iterate (``[1, 2,
    3].map(x, ...)``); every other comprehension counts as iterating over
    nothing, and the shorter branch of ``? :`` counts. Each iteration costs at
    least :data:`ITEM_STEPS` plus one step for its body.
    """
    data = tree.data
    children = [child for child in tree.children if isinstance(child, lark.Tree)]
    if data == "member_dot_arg" and len(tree.children) == 3:
        receiver, name, args = tree.children
        if str(name) in _COMPREHENSIONS and isinstance(receiver, lark.Tree):
            assert isinstance(args, lark.Tree)
            body = args.children[-1]
            per_item = ITEM_STEPS + 1 + (minimum_steps(body) if isinstance(body, lark.Tree) else 0)
            items = _literal_length(receiver)
            reduce = str(name) == "reduce" and len(args.children) == 4
            initial = args.children[2] if reduce else None
            start = minimum_steps(initial) if isinstance(initial, lark.Tree) else 0
            return minimum_steps(receiver) + start + items * per_item
    if data == "expr" and len(children) == 3:
        condition, yes, no = children
        return minimum_steps(condition) + min(minimum_steps(yes), minimum_steps(no))
    return sum(minimum_steps(child) for child in children)


def _literal_length(node: Tree) -> int:
    """How many items ``node`` has when it is a list literal, else 0 (unknown)."""
    while len(node.children) == 1 and isinstance(node.children[0], lark.Tree):
        if node.data == "list_lit":
            break
        node = node.children[0]
    if node.data != "list_lit":
        return 0
    if not node.children or not isinstance(node.children[0], lark.Tree):
        return 0
    return len(node.children[0].children)
