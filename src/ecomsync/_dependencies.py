"""
The category closure: an article never references a category the
platform lacks, nor a category a parent it lacks.  Before articles are
written, the categories they use that are not linked yet (with their
missing ancestors) are read from the ERP and written first, parents
before children; so are the missing parents of categories read without
them (`Only`, `NumberRange`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import anyio
import attrs

from ._ambiguity import NumberClaims
from ._anyio_util import closing
from ._changes import Change
from ._contracts import Refusal
from ._fingerprint import checksum
from ._model import Article, Category, Record, parents_first
from ._record_checks import problems
from ._run import Run
from ._spec import DataType, Only
from ._twins import identity_of
from .events import DependencySynced
from .typing import ErpSession, StateStore


if TYPE_CHECKING:
    from ._writer import Writer


def _needs(record: Record, given: Collection[str]) -> Sequence[str]:
    """
    The categories *record* needs on the platform: an article's, or the
    parent of a category read without it (*given*: the numbers read
    together), as "sync this category" or a number range reads it.
    """
    if isinstance(record, Article):
        return record.categories
    if (
        isinstance(record, Category)
        and record.parent is not None
        and record.parent not in given
    ):
        return (record.parent,)
    return ()


@attrs.define
class CategoryClosure:
    """
    Which categories one run knows to be on its platform, and how to
    bring the missing ones there.
    """

    run: Run
    store: StateStore
    batch_size: int
    _linked: set[str] = attrs.field(init=False, factory=set)
    #: Categories looked for in the ERP and not found there.
    _absent: set[str] = attrs.field(init=False, factory=set)
    #: Categories found in the ERP that cannot be sent, and why.
    _refused: dict[str, str] = attrs.field(init=False, factory=dict)
    _lock: anyio.Lock = attrs.field(init=False, factory=anyio.Lock)

    @staticmethod
    def serial(data_type: DataType) -> bool:
        """
        Whether batches of *data_type* must be written one at a time, in
        the order read (categories: parents before children).
        """
        return data_type is DataType.CATEGORIES

    def note(self, data_type: DataType, numbers: Iterable[str]) -> None:
        """
        Records of *data_type* are (or, in a plan, would be) on the
        platform now.
        """
        if data_type is DataType.CATEGORIES:
            self._linked.update(numbers)

    async def missing(
        self, session: ErpSession, articles: Sequence[Record]
    ) -> tuple[list[Category], dict[str, str], list[Refusal]]:
        """
        The categories *articles* use that the platform lacks (for a
        category among them: its parent, unless they include it), with
        their missing ancestors, parents first; which record needs each;
        and those that cannot be sent (on or under a parent cycle).
        """
        given = {record.number for record in articles}
        wanted: dict[str, str] = {}
        for article in articles:
            for number in _needs(article, given):
                if (
                    number not in self._linked
                    and number not in self._absent
                    and number not in self._refused
                ):
                    wanted.setdefault(number, article.number)
        found: dict[str, Category] = {}
        read: list[Category] = []
        required_by: dict[str, str] = {}
        while wanted:
            known = await self.store.get_links(
                self.run.platform_name, DataType.CATEGORIES, list(wanted)
            )
            self._linked.update(known)
            missing = {n: a for n, a in wanted.items() if n not in known}
            required_by.update(missing)
            wanted = {}
            # A category that failed in this run is not tried again for
            # every batch of articles needing it: `unknown` fails them.
            missing = {
                n: a
                for n, a in missing.items()
                if self.run.failure_of(DataType.CATEGORIES, n) is None
            }
            if not missing:
                break
            reader = session.read(
                DataType.CATEGORIES, Only(missing), batch_size=self.batch_size
            )
            async for batch in closing(reader):
                for category in batch:
                    if not isinstance(category, Category):
                        continue
                    read.append(category)
                    found[category.number] = category
                    parent = category.parent
                    if (
                        parent is not None
                        and parent not in found
                        and parent not in self._linked
                        and parent not in given
                    ):
                        wanted[parent] = required_by[category.number]
        self._absent.update(
            n
            for n in required_by
            if n not in found
            and n not in self._linked
            and self.run.failure_of(DataType.CATEGORIES, n) is None
        )
        # A number two categories of the ERP claim: every party fails, as
        # in a read of the categories themselves, and none is sent.
        claimed = (
            NumberClaims(identity_of(self.run.platform, DataType.CATEGORIES))
            .claim(read)
            .invalid
        )
        refused = [
            Refusal(
                number=read[i].number,
                field=problem.field,
                reason=f"{problem.field} {problem.reason}",
            )
            for i, problem in sorted(claimed.items())
        ]
        for refusal in refused:
            self._refused.setdefault(refusal.number, refusal.reason)
        # The chosen categories count for cycles (an ancestor whose parent
        # is the chosen category is on a cycle) but are sent by their run.
        chosen = [
            r
            for r in articles
            if isinstance(r, Category) and r.number not in found
        ]
        categories = [
            c for c in found.values() if c.number not in self._refused
        ]
        order, invalid = parents_first([*categories, *chosen])
        order = [i for i in order if i < len(categories)]
        invalid = {i: p for i, p in invalid.items() if i < len(categories)}
        refused += [
            Refusal(
                number=categories[i].number,
                field=problem.field,
                reason=f"{problem.field} {problem.reason}",
            )
            for i, problem in sorted(invalid.items())
        ]
        # Judged like any category before it is sent (`problems`); one
        # below a refused parent cannot be sent either.
        ordered: list[Category] = []
        for i in order:
            category = categories[i]
            bad = problems(category)
            if bad:
                refused.append(
                    Refusal(
                        number=category.number,
                        field=bad[0].field,
                        reason=f"{bad[0].field} {bad[0].reason}",
                    )
                )
            elif category.parent in self._refused:
                refused.append(
                    Refusal(
                        number=category.number,
                        field="parent",
                        reason=(
                            f"parent: category {category.parent!r} cannot be "
                            "sent: "
                            f"{self._refused[category.parent]}"
                        ),
                    )
                )
            else:
                ordered.append(category)
                continue
            self._refused[category.number] = refused[-1].reason
        for refusal in refused:
            self._refused.setdefault(refusal.number, refusal.reason)
        return ordered, required_by, refused

    def unknown(self, record: Record) -> Refusal | None:
        """
        Why *record* (an article, or a category: `_orphan`) cannot be
        sent: a category of its that is neither on the platform nor in
        the ERP (found by `missing`), or that failed in this run and is
        not on the platform: the article would reference a category the
        platform lacks.
        """
        if isinstance(record, Category):
            return self._orphan(record)
        if not isinstance(record, Article):
            return None
        for number in record.categories:
            failed = (
                None
                if number in self._linked
                else self._refused.get(number)
                or self.run.failure_of(DataType.CATEGORIES, number)
            )
            if failed is not None:
                return Refusal(
                    number=record.number,
                    field="categories",
                    reason=(
                        f"categories: category {number!r} did not reach the "
                        f"platform in this run ({failed}); the article is "
                        "sent once it does"
                    ),
                )
            if number in self._absent:
                return Refusal(
                    number=record.number,
                    field="categories",
                    reason=(
                        f"categories: category {number!r} is not in the ERP "
                        f"(nor on the platform): create it in the ERP or "
                        f"remove it from the article"
                    ),
                )
        return None

    def _orphan(self, category: Category) -> Refusal | None:
        """
        Why *category* cannot be sent: its parent, looked for by
        `missing`, is neither on the platform nor in the ERP, or failed in
        this run.
        """
        parent = category.parent
        if parent is None or parent in self._linked:
            return None
        failed = self._refused.get(parent) or self.run.failure_of(
            DataType.CATEGORIES, parent
        )
        if failed is not None:
            return Refusal(
                number=category.number,
                field="parent",
                reason=(
                    f"parent: category {parent!r} did not reach the "
                    f"platform in this run ({failed}); the category is "
                    "sent once it does"
                ),
            )
        if parent in self._absent:
            return Refusal(
                number=category.number,
                field="parent",
                reason=(
                    f"parent: category {parent!r} is not in the ERP (nor on "
                    "the platform): create it in the ERP or change the "
                    "category's parent"
                ),
            )
        return None

    async def ensure(
        self,
        session: ErpSession,
        data_type: DataType,
        records: Sequence[Record],
        writer: Writer,
    ) -> None:
        """
        Sync, before *records* of *data_type* (articles, or categories
        read without their parents), the categories they need that the
        platform does not have yet; one batch at a time.
        """
        if (
            data_type not in (DataType.ARTICLES, DataType.CATEGORIES)
            or not records
        ):
            return
        async with self._lock:
            ordered, required_by, refused = await self.missing(
                session, records
            )
            size = self.run.platform.batch_size
            tally = self.run.dependencies(DataType.CATEGORIES)
            for refusal in refused:
                await writer.fail(
                    DataType.CATEGORIES,
                    refusal.number,
                    refusal.reason,
                    refusal.field,
                    tally,
                )
            for start in range(0, len(ordered), size):
                chunk = [
                    Change(c, checksum(c))
                    for c in ordered[start : start + size]
                ]
                written = await writer.push(
                    session, DataType.CATEGORIES, chunk, tally
                )
                self.note(DataType.CATEGORIES, written)
            await self._report(ordered, required_by)

    async def _report(
        self, ordered: Collection[Category], required_by: Mapping[str, str]
    ) -> None:
        for category in ordered:
            if category.number in self._linked:
                await self.run.emit(
                    DependencySynced(
                        run_id=self.run.id,
                        data_type=DataType.CATEGORIES,
                        number=category.number,
                        required_by=required_by[category.number],
                    )
                )
