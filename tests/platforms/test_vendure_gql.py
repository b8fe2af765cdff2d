"""
The Vendure adapter's batched GraphQL writes, without a server: aliased
mutations report errors per alias, list mutations split until the bad
item stands alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ecomsync._http import MaybeApplied, RetryPolicy
from ecomsync.platforms.vendure._client import GraphQLFailure
from ecomsync.platforms.vendure._gql import (
    aliased,
    list_mutation,
    union_error,
)


pytestmark = pytest.mark.anyio

Answer = tuple[dict[str, Any], list[dict[str, Any]]]


class FakeGraphQL:
    """
    Answers each request with *answer(document, variables)*.
    """

    def __init__(
        self, answer: Callable[[str, dict[str, Any]], Answer]
    ) -> None:
        self.answer = answer
        self.documents: list[str] = []
        self.policy = RetryPolicy(wait_initial=0, wait_max=0)

    async def request(
        self,
        document: str,
        variables: dict[str, Any],
        *,
        mutation: bool,
        idempotent: bool = False,
        retry: bool = True,
    ) -> Answer:
        assert mutation
        self.documents.append(document)
        return self.answer(document, variables)


def _bad_items(bad: set[str]) -> Callable[[str, dict[str, Any]], Answer]:
    def answer(document: str, variables: dict[str, Any]) -> Answer:
        items: Sequence[dict[str, Any]] = variables["input"]
        if any(item["sku"] in bad for item in items):
            raise GraphQLFailure(
                [{"message": "duplicate", "extensions": {"code": "BAD"}}]
            )
        return {"createThings": [{"id": i["sku"]} for i in items]}, []

    return answer


class TestUnionError:
    def test_values(self) -> None:
        """Error results become messages with their code; others not."""
        assert "nope (E1)" == union_error(
            {"errorCode": "E1", "message": "nope"}
        )
        assert "E2 (E2)" == union_error({"errorCode": "E2"})
        assert "no result" == union_error(None)
        assert union_error({"id": "1"}) is None


class TestAliased:
    async def test_one_document_errors_per_alias(self) -> None:
        """All calls go in one document; an error names its alias only."""

        def answer(document: str, variables: dict[str, Any]) -> Answer:
            return (
                {"a0": {"id": "1"}, "a1": None, "a2": {"id": "3"}},
                [{"message": "bad input", "path": ["a1"]}],
            )

        gql = FakeGraphQL(answer)

        results = await aliased(
            gql,  # type: ignore[arg-type]
            "updateThing",
            {"input": "ThingInput!"},
            [{"input": {"n": i}} for i in range(3)],
            "id",
        )

        assert [{"id": "1"}, "bad input", {"id": "3"}] == results
        assert 1 == len(gql.documents)
        assert "a2: updateThing(input: $input2)" in gql.documents[0]

    async def test_unattributed_errors(self) -> None:
        """Errors without a path explain every missing result."""
        gql = FakeGraphQL(
            lambda d, v: ({"a0": {"id": "1"}}, [{"message": "boom"}])
        )

        results = await aliased(
            gql,  # type: ignore[arg-type]
            "f",
            {"input": "I!"},
            [{"input": 1}, {"input": 2}],
            "id",
        )

        assert [{"id": "1"}, "boom"] == results

    async def test_missing_without_errors(self) -> None:
        """A missing result without any error is 'no result'."""
        gql = FakeGraphQL(lambda d, v: ({}, []))

        results = await aliased(
            gql,  # type: ignore[arg-type]
            "f",
            {"input": "I!"},
            [{"input": 1}],
            "id",
        )

        assert ["no result"] == results

    async def test_whole_document_failure(self) -> None:
        """A failed document fails one call with its message, several
        calls each with the errors."""

        def fail(document: str, variables: dict[str, Any]) -> Answer:
            raise GraphQLFailure([{"message": "denied"}])

        gql = FakeGraphQL(fail)

        one = await aliased(
            gql,  # type: ignore[arg-type]
            "f",
            {"input": "I!"},
            [{"input": 1}],
            "id",
        )
        two = await aliased(
            gql,  # type: ignore[arg-type]
            "f",
            {"input": "I!"},
            [{"input": 1}, {"input": 2}],
            "id",
        )

        assert ["denied"] == one
        assert ["denied", "denied"] == two

    async def test_nothing(self) -> None:
        """No calls, no request."""
        gql = FakeGraphQL(lambda d, v: ({}, []))

        assert [] == await aliased(gql, "f", {}, [], "id")  # type: ignore[arg-type]
        assert [] == gql.documents


class TestListMutation:
    async def test_bad_item_isolated(self) -> None:
        """A rejected list is halved until the bad item fails alone; the
        rest is written."""
        gql = FakeGraphQL(_bad_items({"s3"}))
        inputs = [{"sku": f"s{i}"} for i in range(6)]

        results = await list_mutation(
            gql,  # type: ignore[arg-type]
            "createThings",
            "ThingInput",
            inputs,
            "id",
        )

        assert "duplicate (BAD)" == results[3]
        assert [{"id": f"s{i}"} for i in (0, 1, 2, 4, 5)] == [
            r for i, r in enumerate(results) if i != 3
        ]

    async def test_unexpected_answer(self) -> None:
        """An answer of the wrong length fails the items it was for."""
        gql = FakeGraphQL(lambda d, v: ({"createThings": []}, []))

        results = await list_mutation(
            gql,  # type: ignore[arg-type]
            "createThings",
            "ThingInput",
            [{"sku": "a"}],
            "id",
        )

        assert ["createThings: unexpected answer"] == results

    async def test_errors_in_answer(self) -> None:
        """GraphQL errors in an answer fail the list like an exception."""
        gql = FakeGraphQL(lambda d, v: ({}, [{"message": "no"}]))

        results = await list_mutation(
            gql,  # type: ignore[arg-type]
            "createThings",
            "ThingInput",
            [{"sku": "a"}, {"sku": "b"}],
            "id",
        )

        assert ["no", "no"] == results


class TestUnsure:
    """
    A write that may have landed (`MaybeApplied`) is sent again only for
    what the writer's look does not find.
    """

    async def test_aliased_resends_only_what_is_not_found(self) -> None:
        """Of two creates whose answer was lost, the one found is taken,
        only the other is sent again."""
        answers = iter(
            [
                MaybeApplied("Vendure: HTTP 503"),
                ({"a0": {"id": "2"}}, []),
            ]
        )

        def answer(document: str, variables: dict[str, Any]) -> Answer:
            got = next(answers)
            if isinstance(got, Exception):
                raise got
            return got

        looked: list[list[Any]] = []

        async def look(
            calls: Sequence[dict[str, Any]],
        ) -> list[dict[str, Any] | None]:
            looked.append([c["input"] for c in calls])
            return [
                {"id": "1"} if c["input"] == "one" else None for c in calls
            ]

        gql = FakeGraphQL(answer)

        results = await aliased(
            gql,  # type: ignore[arg-type]
            "createThing",
            {"input": "String!"},
            [{"input": "one"}, {"input": "two"}],
            "id",
            look=look,
        )

        assert [{"id": "1"}, {"id": "2"}] == results
        assert [["one", "two"]] == looked
        assert 2 == len(gql.documents)
        assert "a1:" in gql.documents[0]
        assert "a1:" not in gql.documents[1]

    async def test_all_found_sends_nothing_again(self) -> None:
        """A list create whose items are all found is not sent again."""

        def answer(document: str, variables: dict[str, Any]) -> Answer:
            raise MaybeApplied("Vendure: HTTP 503")

        async def look(
            items: Sequence[dict[str, Any]],
        ) -> list[dict[str, Any] | None]:
            return [{"id": i["sku"]} for i in items]

        gql = FakeGraphQL(answer)

        results = await list_mutation(
            gql,  # type: ignore[arg-type]
            "createThings",
            "ThingInput",
            [{"sku": "a"}, {"sku": "b"}],
            "id",
            look=look,
        )

        assert [{"id": "a"}, {"id": "b"}] == results
        assert 1 == len(gql.documents)

    async def test_without_a_look_it_propagates(self) -> None:
        """A write without a look is not sent again: MaybeApplied."""

        def answer(document: str, variables: dict[str, Any]) -> Answer:
            raise MaybeApplied("Vendure: HTTP 503")

        gql = FakeGraphQL(answer)

        with pytest.raises(MaybeApplied):
            await aliased(
                gql,  # type: ignore[arg-type]
                "createThing",
                {"input": "String!"},
                [{"input": "one"}],
                "id",
            )
        assert 1 == len(gql.documents)
