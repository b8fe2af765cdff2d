"""
Batched GraphQL writes for the Vendure adapter: aliased mutations (one
document, one field per record, errors per alias) and list mutations
split in halves until the bad item stands alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ._client import JSON, GraphQL, GraphQLFailure, error_message


T = TypeVar("T")

#: ``result or error message`` per item.
Result = JSON | str


def union_error(value: Any) -> str | None:
    """
    The message of an ``ErrorResult`` union member, ``None`` otherwise.
    """
    if isinstance(value, dict) and "errorCode" in value:
        code = value["errorCode"]
        return f"{value.get('message') or code} ({code})"
    if value is None:
        return "no result"
    return None


def problem(result: Result) -> str | None:
    """
    What went wrong with one aliased call: the failed alias's message or
    the ``ErrorResult`` it answered; ``None`` when it worked.
    """
    return result if isinstance(result, str) else union_error(result)


async def aliased(
    gql: GraphQL,
    field: str,
    arguments: dict[str, str],
    calls: Sequence[dict[str, Any]],
    selection: str,
) -> list[Result]:
    """
    Call mutation *field* once per entry of *calls* in one document.

    *arguments* maps each argument name to its GraphQL type, e.g.
    ``{"input": "UpdateCollectionInput!"}``; each call gives the values.
    Returns per call the field's result or an error message.
    """
    if not calls:
        return []
    params: list[str] = []
    fields: list[str] = []
    variables: dict[str, Any] = {}
    for i, call in enumerate(calls):
        args = []
        for name, gql_type in arguments.items():
            var = f"{name}{i}"
            params.append(f"${var}: {gql_type}")
            args.append(f"{name}: ${var}")
            variables[var] = call[name]
        fields.append(f"a{i}: {field}({', '.join(args)}) {{ {selection} }}")
    document = (
        f"mutation ({', '.join(params)}) {{\n  " + "\n  ".join(fields) + "\n}"
    )
    try:
        data, errors = await gql.request(document, variables, mutation=True)
    except GraphQLFailure as exc:
        if len(calls) == 1:
            return [str(exc)]
        data, errors = {}, exc.errors
    by_alias: dict[str, str] = {}
    for error in errors:
        path = error.get("path") or []
        if path:
            by_alias.setdefault(str(path[0]), error_message(error))
    results: list[Result] = []
    for i in range(len(calls)):
        key = f"a{i}"
        value = data.get(key)
        if key in by_alias:
            results.append(by_alias[key])
        elif value is None and errors:
            results.append("; ".join(error_message(e) for e in errors))
        elif value is None:
            results.append("no result")
        else:
            results.append(value)
    return results


async def split_on_error(
    items: Sequence[T],
    send: Callable[[Sequence[T]], Awaitable[list[JSON]]],
) -> list[Result]:
    """
    Send *items* in one list mutation; if it fails, split it in halves
    until each failure is down to the item that causes it.
    """
    if not items:
        return []
    try:
        answer = await send(items)
    except GraphQLFailure as exc:
        if len(items) == 1:
            return [str(exc)]
        middle = len(items) // 2
        return [
            *await split_on_error(items[:middle], send),
            *await split_on_error(items[middle:], send),
        ]
    return list(answer)


async def list_mutation(
    gql: GraphQL,
    field: str,
    input_type: str,
    inputs: Sequence[dict[str, Any]],
    selection: str,
) -> list[Result]:
    """
    ``field(input: [...])`` with *inputs*, one result per input.
    """
    document = (
        f"mutation ($input: [{input_type}!]!) "
        f"{{ {field}(input: $input) {{ {selection} }} }}"
    )

    async def send(chunk: Sequence[dict[str, Any]]) -> list[JSON]:
        data, errors = await gql.request(
            document, {"input": list(chunk)}, mutation=True
        )
        if errors:
            raise GraphQLFailure(errors)
        answer = data.get(field)
        if not isinstance(answer, list) or len(answer) != len(chunk):
            raise GraphQLFailure([{"message": f"{field}: unexpected answer"}])
        return answer

    return await split_on_error(inputs, send)
