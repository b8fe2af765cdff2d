"""
Batched GraphQL writes for the Vendure adapter: aliased mutations (one
document, one field per record, errors per alias) and list mutations
split in halves until the bad item stands alone.

A write that may have landed (`MaybeApplied`: a bare 503 from a proxy,
a connection lost after sending) is sent again only where that is safe:
an *idempotent* one (it sets absolute values), or one whose writer can
*look* for its effect per item: the items found count as written, only
the others are sent again.  Without either the failure propagates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ._client import JSON, GraphQL, GraphQLFailure, error_message


T = TypeVar("T")

#: ``result or error message`` per item.
Result = JSON | str

#: Looks for the effect of each of the given inputs (a create's object
#: by its key, a state reached): per input, the result its mutation
#: would have answered (its selection), or ``None`` (not landed).
Look = Callable[[Sequence[dict[str, Any]]], Awaitable[list[JSON | None]]]


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
    *,
    idempotent: bool = False,
    look: Look | None = None,
) -> list[Result]:
    """
    Call mutation *field* once per entry of *calls* in one document.

    *arguments* maps each argument name to its GraphQL type, e.g.
    ``{"input": "UpdateCollectionInput!"}``; each call gives the values.
    Returns per call the field's result or an error message.
    *idempotent* and *look*: see the module.
    """
    if not calls:
        return []

    async def once(chunk: Sequence[dict[str, Any]]) -> list[Result]:
        return await _aliased(
            gql, field, arguments, chunk, selection, idempotent, look is None
        )

    if look is None:
        return await once(calls)
    return await _looking(gql, calls, once, look)


async def _looking(
    gql: GraphQL,
    items: Sequence[dict[str, Any]],
    once: Callable[[Sequence[dict[str, Any]]], Awaitable[list[Result]]],
    look: Look,
) -> list[Result]:
    """
    ``once(items)`` under the retry policy; after a `MaybeApplied` the
    items *look* finds are taken as written and only the others sent
    again.
    """
    done: dict[int, Result] = {}

    def pending() -> list[int]:
        return [i for i in range(len(items)) if i not in done]

    async def send() -> list[Result]:
        left = pending()
        results = await once([items[i] for i in left])
        done.update(zip(left, results, strict=True))
        return [done[i] for i in range(len(items))]

    async def confirm() -> list[Result] | None:
        left = pending()
        found = await look([items[i] for i in left])
        done.update(
            (i, f) for i, f in zip(left, found, strict=True) if f is not None
        )
        if pending():
            return None
        return [done[i] for i in range(len(items))]

    return await gql.policy.call(send, confirm=confirm)


async def _aliased(
    gql: GraphQL,
    field: str,
    arguments: dict[str, str],
    calls: Sequence[dict[str, Any]],
    selection: str,
    idempotent: bool,
    retry: bool,
) -> list[Result]:
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
        data, errors = await gql.request(
            document,
            variables,
            mutation=True,
            idempotent=idempotent,
            retry=retry,
        )
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
    send: Callable[[Sequence[T]], Awaitable[list[Result]]],
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
    *,
    idempotent: bool = False,
    look: Look | None = None,
) -> list[Result]:
    """
    ``field(input: [...])`` with *inputs*, one result per input.
    *idempotent* and *look*: see the module.
    """
    document = (
        f"mutation ($input: [{input_type}!]!) "
        f"{{ {field}(input: $input) {{ {selection} }} }}"
    )

    async def once(chunk: Sequence[dict[str, Any]]) -> list[Result]:
        data, errors = await gql.request(
            document,
            {"input": list(chunk)},
            mutation=True,
            idempotent=idempotent,
            retry=look is None,
        )
        if errors:
            raise GraphQLFailure(errors)
        answer = data.get(field)
        if not isinstance(answer, list) or len(answer) != len(chunk):
            raise GraphQLFailure([{"message": f"{field}: unexpected answer"}])
        return list(answer)

    async def send(chunk: Sequence[dict[str, Any]]) -> list[Result]:
        if look is None:
            return await once(chunk)
        return await _looking(gql, chunk, once, look)

    return await split_on_error(inputs, send)
