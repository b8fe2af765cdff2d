"""
Calculated query cost and the leaky bucket (platform-apis.md §3.2).

Shopify's documented rules: scalars and enums cost 0, objects 1, a
connection costs 2 plus ``first`` times what one of its nodes costs, a
mutation field costs 10.  The bucket holds ``maximum`` points, refills at
``restore_rate`` points per second, must hold the requested cost up front
and gets the difference to the actual cost back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_interface_type,
    is_object_type,
)


#: The single-query maximum (``MAX_COST_EXCEEDED`` above it).
MAX_QUERY_COST = 1000
#: Shopify's default ``first`` when a connection is asked without one.
MUTATION_COST = 10


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    """
    The requested cost of *operation* (already validated).
    """
    root = (
        schema.mutation_type
        if operation.operation is OperationType.MUTATION
        else schema.query_type
    )
    assert root is not None
    mutation = operation.operation is OperationType.MUTATION

    def selection(parent: Any, sel: SelectionSetNode | None, top: bool) -> int:
        if sel is None:
            return 0
        total = 0
        for node in sel.selections:
            if isinstance(node, FieldNode):
                total += field(parent, node, top)
            elif isinstance(node, InlineFragmentNode):
                cond = node.type_condition
                inner = schema.get_type(cond.name.value) if cond else parent
                total += selection(inner, node.selection_set, top)
            elif isinstance(node, FragmentSpreadNode):
                frag = fragments[node.name.value]
                inner = schema.get_type(frag.type_condition.name.value)
                total += selection(inner, frag.selection_set, top)
        return total

    def field(parent: Any, node: FieldNode, top: bool) -> int:
        if not (is_object_type(parent) or is_interface_type(parent)):
            return 0
        fdef = parent.fields.get(node.name.value)
        if fdef is None:  # __typename and the like
            return 0
        named = get_named_type(fdef.type)
        if not (is_object_type(named) or is_interface_type(named)):
            return 0
        inner = selection(named, node.selection_set, False)
        if top and mutation:
            return MUTATION_COST + inner
        if named.name.endswith("Connection"):
            first = _first(node, variables)
            per_node = _node_cost(named, node, selection)
            return 2 + int(first) * per_node
        return 1 + inner

    return selection(root, operation.selection_set, True)


def _first(node: FieldNode, variables: Mapping[str, Any]) -> int:
    """
    The ``first`` argument of a connection field (0 if absent or bad;
    execution reports those).
    """
    for arg in node.arguments or ():
        if arg.name.value != "first":
            continue
        value = arg.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return given if isinstance(given, int) else 0
    return 0


def _node_cost(
    connection: GraphQLObjectType | GraphQLInterfaceType,
    node: FieldNode,
    selection: Callable[[Any, SelectionSetNode | None, bool], int],
) -> int:
    """
    What one node of a connection costs: its ``nodes`` or ``edges.node``
    selection (the most expensive of the two), at least 1.
    """
    best = 0
    sel = node.selection_set
    for child in sel.selections if sel else ():
        if not isinstance(child, FieldNode):
            continue
        name = child.name.value
        if name == "nodes":
            item = get_named_type(connection.fields["nodes"].type)
            best = max(best, 1 + selection(item, child.selection_set, False))
        elif name == "edges":
            edge = get_named_type(connection.fields["edges"].type)
            best = max(best, selection(edge, child.selection_set, False))
    return max(best, 1)


@attrs.define
class Bucket:
    """
    One app's leaky bucket on one shop.

    *clock* gives seconds (monotonic); tests pass their own to step time.
    """

    maximum: float
    restore_rate: float
    clock: Callable[[], float]
    available: float = attrs.field(default=-1.0)
    at: float = attrs.field(default=-1.0)

    def __attrs_post_init__(self) -> None:
        if self.available < 0:
            self.available = self.maximum
        self.at = self.clock()

    def refill(self) -> float:
        """
        Bring the level up to now; returns the points available.
        """
        now = self.clock()
        self.available = min(
            self.maximum, self.available + (now - self.at) * self.restore_rate
        )
        self.at = now
        return self.available

    def take(self, points: float) -> bool:
        """
        Take *points* if the bucket holds them (else nothing is taken).
        """
        if self.refill() + 1e-9 < points:  # float dust from the refill
            return False
        self.available -= points
        return True

    def refund(self, points: float) -> None:
        self.available = min(self.maximum, self.available + points)

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.restore_rate,
        }
