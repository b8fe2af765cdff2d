"""
The Shopware 6 emulator's write path: the Sync API and single-entity CRUD
(platform-apis.md §1.3-§1.5, §1.13).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync.testing.shopware6 import (
    SYSTEM_LANGUAGE,
    ShopwareEmulator,
    seed_id,
)

from ._sw6 import (
    pid,
    pointers,
    product,
    sync,
    upsert,
)


pytestmark = pytest.mark.anyio


class TestSync:
    async def test_object_body(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """An object keyed by operation writes and reports {data, ...}."""
        cat = seed_id("category.tools")
        r = await sync(
            client,
            {
                "cats": upsert("category", {"id": cat, "name": "Tools"}),
                "prods": upsert(
                    "product", product("SW-1", emu, categories=[{"id": cat}])
                ),
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) >= {"data", "notFound", "deleted"}
        assert body["data"]["product"] == [pid("SW-1")]
        assert body["data"]["category"] == [cat]
        assert body["data"]["product_category"] == [
            {"productId": pid("SW-1"), "categoryId": cat}
        ]
        assert list(body["data"]) == sorted(body["data"])
        assert emu.entities["product"][pid("SW-1")]["productNumber"] == "SW-1"

    async def test_array_body(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A JSON array of operations works too; keys are the indexes."""
        r = await sync(client, [upsert("product", product("SW-2", emu))])
        assert r.status_code == 200
        r = await sync(client, [upsert("product", {"id": pid("X")})])
        assert "/0/0/productNumber" in pointers(r)

    async def test_explicit_key_wins(self, client: httpx.AsyncClient) -> None:
        """A "key" field inside the operation names it in pointers."""
        op = {**upsert("category", {"id": seed_id("c")}), "key": "mine"}
        r = await sync(client, [op])
        assert pointers(r) == {f"/mine/0/translations/{SYSTEM_LANGUAGE}/name"}

    @pytest.mark.parametrize(
        ("op", "fragment"),
        [
            ({"action": "upsert", "payload": [{}]}, 'Missing "entity"'),
            (
                {"entity": "product", "action": "merge", "payload": [{}]},
                'invalid "action"',
            ),
            ({"entity": "product", "action": "upsert"}, 'Missing "payload"'),
        ],
    )
    async def test_envelope_validation(
        self, client: httpx.AsyncClient, op: dict[str, Any], fragment: str
    ) -> None:
        """A bad envelope is 400 FRAMEWORK__INVALID_SYNC_OPERATION."""
        r = await sync(client, {"k": op})
        err = r.json()["errors"][0]
        assert r.status_code == 400
        assert err["code"] == "FRAMEWORK__INVALID_SYNC_OPERATION"
        assert fragment in err["detail"]
        assert '"k"' in err["detail"]

    async def test_non_object_operation(
        self, client: httpx.AsyncClient
    ) -> None:
        """An operation that is not an object is rejected."""
        r = await sync(client, ["nope"])
        assert r.status_code == 400
        assert (
            "Expected an array of operations"
            in (r.json()["errors"][0]["detail"])
        )

    async def test_malformed_json(self, client: httpx.AsyncClient) -> None:
        """Malformed JSON is 400 "The JSON payload is malformed."."""
        r = await client.post(
            "/api/_action/sync",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["detail"] == (
            "The JSON payload is malformed."
        )

    async def test_all_or_nothing(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """One bad item fails the request and nothing at all is written."""
        cat = seed_id("category.a")
        r = await sync(
            client,
            {
                "c": upsert("category", {"id": cat, "name": "A"}),
                "p": upsert(
                    "product",
                    product("OK-1", emu),
                    {**product("BAD", emu), "taxId": None},
                ),
            },
        )
        assert r.status_code == 400
        assert pointers(r) == {"/p/1/taxId"}
        assert cat not in emu.entities["category"]
        assert pid("OK-1") not in emu.entities["product"]

    async def test_required_product_fields(
        self, client: httpx.AsyncClient
    ) -> None:
        """A product needs taxId, price, productNumber, stock and name;
        the name on its system-language translation."""
        r = await sync(client, {"p": upsert("product", {"id": pid("E")})})
        assert r.status_code == 400
        assert pointers(r) == {
            *(
                f"/p/0/{f}"
                for f in ("taxId", "price", "productNumber", "stock")
            ),
            f"/p/0/translations/{SYSTEM_LANGUAGE}/name",
        }
        codes = {e["code"] for e in r.json()["errors"]}
        assert codes == {"c1051bb4-d103-4f74-8988-acbcafc7fdc3"}

    async def test_variant_inherits(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A variant only needs productNumber and stock besides parentId."""
        r = await sync(
            client,
            {
                "p": upsert("product", product("P", emu)),
                "v": upsert(
                    "product",
                    {
                        "id": pid("P.1"),
                        "parentId": pid("P"),
                        "productNumber": "P.1",
                        "stock": 1,
                    },
                ),
            },
        )
        assert r.status_code == 200, r.text

    async def test_price_needs_default_currency(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A price without the default currency is a write error."""
        p = product("SW-C", emu)
        p["price"] = [
            {"currencyId": seed_id("usd"), "gross": 1, "net": 1, "linked": 1}
        ]
        r = await sync(client, {"p": upsert("product", p)})
        assert r.status_code == 400
        details = {e["detail"] for e in r.json()["errors"]}
        assert "No price for default currency defined" in details
        assert "/p/0/price/0/linked" in pointers(r)

    async def test_product_number_unique(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The same productNumber under another id fails (also in-request)
        as the database refuses it: CONTENT__DUPLICATE_PRODUCT_NUMBER
        without a pointer, nothing written."""
        assert (
            await sync(client, {"p": upsert("product", product("U", emu))})
        ).status_code == 200
        other = {**product("U", emu), "id": pid("other")}
        r = await sync(client, {"p": upsert("product", other)})
        assert 400 == r.status_code
        assert [
            {
                "status": "400",
                "code": "CONTENT__DUPLICATE_PRODUCT_NUMBER",
                "title": "Bad Request",
                "detail": 'Product with number "U" already exists.',
                "meta": {"parameters": {"number": "U"}},
            }
        ] == r.json()["errors"]
        twins = [product("T", emu), {**product("T", emu), "id": pid("t2")}]
        r = await sync(client, {"p": upsert("product", *twins)})
        assert (
            "CONTENT__DUPLICATE_PRODUCT_NUMBER"
            == r.json()["errors"][0]["code"]
        )
        assert set() == pointers(r)
        assert pid("T") not in emu.entities["product"]

    async def test_product_number_set_by_hand_then_written(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A product renumbered by hand in ``entities`` (a merchant's edit)
        and then written through the API with that number holds it: a
        second product with the number is refused, and the old number is
        free."""
        r = await sync(client, {"p": upsert("product", product("H", emu))})
        assert 200 == r.status_code
        emu.entities["product"][pid("H")]["productNumber"] = "XH"
        renamed = {**product("H", emu), "productNumber": "XH"}
        r = await sync(client, {"p": upsert("product", renamed)})
        assert 200 == r.status_code

        taken = {**product("XH", emu), "id": pid("other")}
        refused = await sync(client, {"p": upsert("product", taken)})
        again = {**product("H", emu), "id": pid("again")}
        free = await sync(client, {"p": upsert("product", again)})

        assert (
            "CONTENT__DUPLICATE_PRODUCT_NUMBER"
            == (refused.json()["errors"][0]["code"])
        )
        assert 200 == free.status_code

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ("A-1", "a-1"),
            ("Müller", "Muller"),
            ("A-1", "A-1 "),
            ("STRASSE", "straße"),
            ("A-1", "A-1\u00a0"),
            ("A 1", "a\u00a01"),
            ("A-1", "\ufeffA-1\u200b"),
            ("ŒUF", "oeuf"),
        ],
    )
    async def test_product_number_collation(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        first: str,
        second: str,
    ) -> None:
        """Numbers equal under utf8mb4_unicode_ci (case, accents, trailing
        spaces, a no-break space for a space, a byte order mark or a
        zero-width space for nothing, Œ for OE) collide as a duplicate
        number."""
        r = await sync(client, {"p": upsert("product", product(first, emu))})
        assert 200 == r.status_code
        r = await sync(client, {"p": upsert("product", product(second, emu))})
        assert 400 == r.status_code
        assert [("CONTENT__DUPLICATE_PRODUCT_NUMBER", {"number": second})] == [
            (e["code"], e["meta"]["parameters"]) for e in r.json()["errors"]
        ]

    async def test_tax_rate_kept_to_two_decimals(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """tax.tax_rate is DECIMAL(10, 2): 7.125 is kept as 7.13, and an
        equals filter on 7.125 no longer finds it."""
        tid = seed_id("tax.odd")
        body = {"id": tid, "taxRate": 7.125, "name": "odd"}
        r = await sync(client, {"t": upsert("tax", body)})
        assert 200 == r.status_code, r.text
        assert 7.13 == emu.entities["tax"][tid]["taxRate"]
        flt = {"type": "equals", "field": "taxRate", "value": 7.125}
        r = await client.post("/api/search/tax", json={"filter": [flt]})
        assert [] == r.json()["data"]

    async def test_later_twin_in_one_request_is_the_duplicate(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Of two rows of one request whose numbers collide, the database
        refuses the later one, and names its number."""
        twins = [product("W-1", emu), product("w-1", emu)]
        r = await sync(client, {"p": upsert("product", *twins)})
        assert [{"number": "w-1"}] == [
            e["meta"]["parameters"] for e in r.json()["errors"]
        ]

    async def test_renumber_own_product_in_other_case(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A product may change the case of its own number."""
        assert (
            await sync(client, {"p": upsert("product", product("K-1", emu))})
        ).status_code == 200
        p = {**product("K-1", emu), "productNumber": "k-1"}
        r = await sync(client, {"p": upsert("product", p)})
        assert 200 == r.status_code
        assert "k-1" == emu.entities["product"][pid("K-1")]["productNumber"]

    async def test_resolver_finds_number_by_collation(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The product.number resolver looks the number up in the same
        collation."""
        assert (
            await sync(client, {"p": upsert("product", product("R-1", emu))})
        ).status_code == 200
        child = {
            "id": pid("R-1.v"),
            "parentId": {"resolver": "product.number", "value": "r-1"},
            "productNumber": "R-1.v",
            "stock": 1,
        }
        r = await sync(client, {"v": upsert("product", child)})
        assert 200 == r.status_code, r.text
        assert pid("R-1") == emu.entities["product"][pid("R-1.v")]["parentId"]

    async def test_violations_of_all_operations_together(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Violations of several operations come back in one answer."""
        r = await sync(
            client,
            {
                "a": upsert("product", {**product("V-1", emu), "stock": None}),
                "b": upsert("category", {"id": seed_id("cat.v")}),
                "c": upsert("product", {**product("V-2", emu), "taxId": None}),
            },
        )
        assert 400 == r.status_code
        assert {
            "/a/0/stock",
            f"/b/0/translations/{SYSTEM_LANGUAGE}/name",
            "/c/0/taxId",
        } == pointers(r)

    async def test_violations_before_database_errors(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A request with violations reports them, not the duplicate number
        the database would have refused later."""
        await sync(client, {"p": upsert("product", product("D-1", emu))})
        r = await sync(
            client,
            {
                "a": upsert(
                    "product", {**product("D-1", emu), "id": pid("x")}
                ),
                "b": upsert("product", {**product("D-2", emu), "stock": None}),
            },
        )
        assert ["/b/0/stock"] == [
            e["source"]["pointer"] for e in r.json()["errors"]
        ]

    async def test_translated_name_pointer(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A blank name, given on the row or as the system translation,
        points through the system-language translation; so does a name
        longer than VARCHAR(255)."""
        tr = f"/p/0/translations/{SYSTEM_LANGUAGE}/name"
        for p in (
            product("N-1", emu, name=""),
            product("N-1", emu, name="   "),
            {
                **{
                    k: v for k, v in product("N-1", emu).items() if k != "name"
                },
                "translations": {SYSTEM_LANGUAGE: {"name": None}},
            },
        ):
            r = await sync(client, {"p": upsert("product", p)})
            assert {tr} == pointers(r), p
        r = await sync(
            client,
            {"p": upsert("product", product("N-1", emu, name="x" * 256))},
        )
        [err] = r.json()["errors"]
        assert tr == err["source"]["pointer"]
        assert "d94b19cc-114f-4f44-9cc4-4138e80a87b9" == err["code"]
        assert (
            "This value is too long. It should have 255 characters or less."
            == err["detail"]
        )
        assert 255 == err["meta"]["parameters"]["{{ limit }}"]
        assert "title" not in err

    async def test_translations_forms(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """translations keyed by language id, by locale or as a list with
        languageId all set the system-language name; translations without
        the system language fail MISSING-SYSTEM-TRANSLATION."""
        base = {k: v for k, v in product("F-X", emu).items() if k != "name"}
        for n, tr in enumerate(
            (
                {SYSTEM_LANGUAGE: {"name": "by id"}},
                {"en-GB": {"name": "by locale"}},
                [{"languageId": SYSTEM_LANGUAGE, "name": "as list"}],
            )
        ):
            p = {
                **base,
                "id": pid(f"F-{n}"),
                "productNumber": f"F-{n}",
                "translations": tr,
            }
            r = await sync(client, {"p": upsert("product", p)})
            assert 200 == r.status_code, r.text
        names = [
            emu.entities["product"][pid(f"F-{n}")]["name"] for n in range(3)
        ]
        assert ["by id", "by locale", "as list"] == names
        other = seed_id("language.de")
        p = {**base, "translations": {other: {"name": "Hammer"}}}
        r = await sync(client, {"p": upsert("product", p)})
        assert [
            (
                "MISSING-SYSTEM-TRANSLATION",
                f"/p/0/translations/{SYSTEM_LANGUAGE}",
            )
        ] == [(e["code"], e["source"]["pointer"]) for e in r.json()["errors"]]
        p = {**base, "translations": [{"name": "no language"}]}
        r = await sync(client, {"p": upsert("product", p)})
        assert "MISSING-TRANSLATION-LANGUAGE" == r.json()["errors"][0]["code"]

    @pytest.mark.parametrize(
        ("translations", "pointer", "code"),
        [
            ("nope", "/p/0/translations", "FRAMEWORK__WRITE_MALFORMED_INPUT"),
            (
                {SYSTEM_LANGUAGE: "nope"},
                f"/p/0/translations/{SYSTEM_LANGUAGE}",
                "FRAMEWORK__WRITE_MALFORMED_INPUT",
            ),
            (
                {SYSTEM_LANGUAGE: {"name": 42}},
                f"/p/0/translations/{SYSTEM_LANGUAGE}/name",
                "ba785a8c-82cb-4283-967c-3cf342181b40",
            ),
            (
                [{"language": {"id": SYSTEM_LANGUAGE}, "name": "y" * 256}],
                f"/p/0/translations/{SYSTEM_LANGUAGE}/name",
                "d94b19cc-114f-4f44-9cc4-4138e80a87b9",
            ),
            (
                {
                    SYSTEM_LANGUAGE: {"name": "ok"},
                    seed_id("language.de"): {"metaTitle": "z" * 256},
                },
                f"/p/0/translations/{seed_id('language.de')}/metaTitle",
                "d94b19cc-114f-4f44-9cc4-4138e80a87b9",
            ),
        ],
    )
    async def test_malformed_translations(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        translations: Any,
        pointer: str,
        code: str,
    ) -> None:
        """Translations that are not objects, values of the wrong type and
        values too long fail at their translation's pointer, in any
        language."""
        p = {
            **{k: v for k, v in product("M-1", emu).items() if k != "name"},
            "translations": translations,
        }
        r = await sync(client, {"p": upsert("product", p)})
        assert 400 == r.status_code
        assert (pointer, code) in {
            (e["source"]["pointer"], e["code"]) for e in r.json()["errors"]
        }

    async def test_blank_name_on_update(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Blanking an existing product's name fails on its translation
        (the value seen as null); leaving it out keeps it."""
        assert (
            await sync(client, {"p": upsert("product", product("B-1", emu))})
        ).status_code == 200
        r = await sync(
            client, {"p": upsert("product", {"id": pid("B-1"), "stock": 9})}
        )
        assert 200 == r.status_code
        assert "Article B-1" == emu.entities["product"][pid("B-1")]["name"]
        r = await sync(
            client, {"p": upsert("product", {"id": pid("B-1"), "name": ""})}
        )
        assert [
            (
                f"/p/0/translations/{SYSTEM_LANGUAGE}/name",
                # StringFieldSerializer turns "" into null before NotBlank.
                {"{{ value }}": "null"},
            )
        ] == [
            (e["source"]["pointer"], e["meta"]["parameters"])
            for e in r.json()["errors"]
        ]

    async def test_column_lengths(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """productNumber is VARCHAR(64), ean VARCHAR(255); longer values
        are refused at their own pointer; a name of exactly 255 passes."""
        p = product("x" * 65, emu, ean="1" * 256)
        r = await sync(client, {"p": upsert("product", p)})
        assert {"/p/0/productNumber", "/p/0/ean"} == pointers(r)
        r = await sync(
            client, {"p": upsert("product", product("L", emu, name="é" * 255))}
        )
        assert 200 == r.status_code

    async def test_stock_must_be_int(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """stock of the wrong type is a type violation."""
        r = await sync(
            client, {"p": upsert("product", product("S", emu, stock="5"))}
        )
        assert pointers(r) == {"/p/0/stock"}

    async def test_category_needs_name(
        self, client: httpx.AsyncClient
    ) -> None:
        """A category needs a name."""
        r = await sync(client, {"c": upsert("category", {"id": seed_id("x")})})
        assert pointers(r) == {f"/c/0/translations/{SYSTEM_LANGUAGE}/name"}

    async def test_id_format(self, client: httpx.AsyncClient) -> None:
        """Ids must match ^[0-9a-f]{32}$ (no dashes, no upper case)."""
        for bad in ("A" * 32, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "x"):
            r = await sync(
                client, {"c": upsert("category", {"id": bad, "name": "N"})}
            )
            assert r.status_code == 400
            assert r.json()["errors"][0]["code"] == "FRAMEWORK__INVALID_UUID"
            assert pointers(r) == {"/c/0/id"}

    async def test_upsert_merges(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """An upsert by id updates only the fields given."""
        await sync(client, {"p": upsert("product", product("M", emu))})
        r = await sync(
            client, {"p": upsert("product", {"id": pid("M"), "stock": 42})}
        )
        assert r.status_code == 200
        row = emu.entities["product"][pid("M")]
        assert row["stock"] == 42
        assert row["name"] == "Article M"

    async def test_to_many_only_adds(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Upserting categories adds mappings; earlier ones stay."""
        a, b = seed_id("cat.a"), seed_id("cat.b")
        await sync(
            client,
            {
                "c": upsert(
                    "category", {"id": a, "name": "A"}, {"id": b, "name": "B"}
                ),
                "p": upsert(
                    "product", product("TM", emu, categories=[{"id": a}])
                ),
            },
        )
        await sync(
            client,
            {
                "p": upsert(
                    "product", {"id": pid("TM"), "categories": [{"id": b}]}
                )
            },
        )
        assert {
            m["categoryId"]
            for m in emu.entities["product_category"].values()
            if m["productId"] == pid("TM")
        } == {a, b}

    async def test_delete_by_id_and_not_found(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Deleting by id reports deleted and notFound."""
        await sync(client, {"p": upsert("product", product("D", emu))})
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product",
                    "action": "delete",
                    "payload": [{"id": pid("D")}, {"id": pid("nope")}],
                }
            },
        )
        body = r.json()
        assert body["deleted"]["product"] == [pid("D")]
        assert body["notFound"]["product"] == [pid("nope")]
        assert pid("D") not in emu.entities["product"]

    async def test_deleting_a_tax_keeps_its_products(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Deleting a tax deletes none of its products (Shopware restricts
        the delete; ``tax.products`` is no cascade)."""
        await sync(client, {"p": upsert("product", product("T", emu))})
        r = await sync(
            client,
            {
                "d": {
                    "entity": "tax",
                    "action": "delete",
                    "payload": [{"id": emu.ids.tax_standard}],
                }
            },
        )
        assert r.status_code == 200, r.text
        assert pid("T") in emu.entities["product"]

    async def test_delete_mapping_by_fk_pair_and_criteria(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Mappings are deleted by FK pair or by criteria."""
        a, b = seed_id("cat.a"), seed_id("cat.b")
        await sync(
            client,
            {
                "c": upsert(
                    "category", {"id": a, "name": "A"}, {"id": b, "name": "B"}
                ),
                "p": upsert(
                    "product",
                    product("F", emu, categories=[{"id": a}, {"id": b}]),
                    product("G", emu, categories=[{"id": a}]),
                ),
            },
        )
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product_category",
                    "action": "delete",
                    "payload": [{"productId": pid("F"), "categoryId": a}],
                }
            },
        )
        assert r.json()["deleted"]["product_category"] == [
            {"productId": pid("F"), "categoryId": a}
        ]
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product_category",
                    "action": "delete",
                    "criteria": [
                        {"type": "equals", "field": "categoryId", "value": a}
                    ],
                }
            },
        )
        assert r.status_code == 200
        left = list(emu.entities["product_category"].values())
        assert left == [
            {
                "productId": pid("F"),
                "categoryId": b,
                "createdAt": left[0]["createdAt"],
                "updatedAt": None,
            }
        ]

    @pytest.mark.parametrize(
        "entity",
        ["product", "product_media", "product_visibility"],
    )
    async def test_criteria_delete_rules(
        self, client: httpx.AsyncClient, entity: str
    ) -> None:
        """Criteria deletes on non-mapping entities are rejected, link
        entities with an id of their own too (SyncService::
        handleCriteriaDelete: MappingEntityDefinition only, 6.5.2 to
        6.6.7)."""
        r = await sync(
            client,
            {
                "d": {
                    "entity": entity,
                    "action": "delete",
                    "criteria": [
                        {"type": "equals", "field": "productId", "value": "x"}
                    ],
                }
            },
        )
        assert r.status_code == 400
        (found,) = r.json()["errors"]
        assert "API_INVALID_SYNC_CRITERIA_EXCEPTION" == found["code"]
        assert (
            'Sync operation d, with action "delete", requires a criteria '
            "with at least one filter and can only be applied for mapping "
            "entities"
        ) == found["detail"]

    async def _assigned(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, *names: str
    ) -> list[str]:
        """Categories *names* made, and product F assigned to them."""
        ids = [seed_id(f"cat.{n}") for n in names]
        r = await sync(
            client,
            {
                "c": upsert("category", *({"id": c, "name": c} for c in ids)),
                "p": upsert(
                    "product",
                    product("F", emu, categories=[{"id": c} for c in ids]),
                ),
            },
        )
        assert r.status_code == 200, r.text
        return ids

    def _held(self, emu: ShopwareEmulator) -> set[str]:
        return {
            m["categoryId"]
            for m in emu.entities["product_category"].values()
            if m["productId"] == pid("F")
        }

    async def test_criteria_match_the_rows_before_the_request(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A criteria delete deletes what it matched before the request's
        operations ran (SyncService::loopOperations resolves it first): a
        mapping an earlier operation of the same request adds stays."""
        a, b = await self._assigned(client, emu, "a", "b")
        c = seed_id("cat.c")
        r = await sync(
            client,
            [
                upsert("category", {"id": c, "name": "C"}),
                upsert("product", {"id": pid("F"), "categories": [{"id": c}]}),
                {
                    "entity": "product_category",
                    "action": "delete",
                    "criteria": [
                        {
                            "type": "equals",
                            "field": "productId",
                            "value": pid("F"),
                        }
                    ],
                },
            ],
        )
        assert r.status_code == 200, r.text
        assert {c} == self._held(emu)
        deleted = r.json()["deleted"]["product_category"]
        assert sorted([a, b]) == sorted(m["categoryId"] for m in deleted)

    async def test_criteria_delete_removes_at_most_100(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """One criteria delete removes the first 100 rows it matches and
        says nothing of the others (the criteria builder's default limit,
        ``shopware.api.store.max_limit``, up to 6.6.7)."""
        ids = await self._assigned(client, emu, *map(str, range(101)))
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product_category",
                    "action": "delete",
                    "criteria": [
                        {
                            "type": "equals",
                            "field": "productId",
                            "value": pid("F"),
                        }
                    ],
                }
            },
        )
        assert r.status_code == 200, r.text
        assert 100 == len(r.json()["deleted"]["product_category"])
        assert {max(ids)} == self._held(emu)

    async def test_criteria_outside_a_delete_or_beside_a_payload(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """An upsert ignores criteria; a delete's criteria replace its
        payload (SyncService::loopOperations)."""
        a, b = await self._assigned(client, emu, "a", "b")
        by_a = [{"type": "equals", "field": "categoryId", "value": a}]
        r = await sync(
            client,
            {
                "u": {
                    "entity": "product",
                    "action": "upsert",
                    "payload": [{"id": pid("F"), "stock": 3}],
                    "criteria": by_a,
                },
                "d": {
                    "entity": "product_category",
                    "action": "delete",
                    "payload": [{"productId": pid("F"), "categoryId": b}],
                    "criteria": by_a,
                },
            },
        )
        assert r.status_code == 200, r.text
        assert 3 == emu.entities["product"][pid("F")]["stock"]
        assert {b} == self._held(emu)

    async def test_resolver(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """{"resolver": "product.number"} resolves to the product id."""
        await sync(client, {"p": upsert("product", product("R-1", emu))})
        ref = {"resolver": "product.number", "value": "R-1"}
        r = await sync(
            client, {"s": upsert("product", {"id": ref, "stock": 9})}
        )
        assert r.status_code == 200, r.text
        assert emu.entities["product"][pid("R-1")]["stock"] == 9
        missing = {"resolver": "product.number", "value": "NOPE"}
        r = await sync(
            client, {"s": upsert("product", {"id": missing, "stock": 1})}
        )
        assert r.json()["errors"][0]["code"] == (
            "FRAMEWORK__API_INVALID_SYNC_RESOLVERS"
        )
        bad = {"resolver": "category.name", "value": "x"}
        r = await sync(client, {"s": upsert("product", {"id": bad})})
        assert r.json()["errors"][0]["code"] == (
            "API_RESOLVER_NOT_FOUND_EXCEPTION"
        )

    async def test_unknown_entity_in_sync(
        self, client: httpx.AsyncClient
    ) -> None:
        """An operation on an entity Shopware does not know is a 500
        FRAMEWORK__DEFINITION_NOT_FOUND (no status of its own)."""
        r = await sync(client, {"x": upsert("no_such_entity", {"id": "a"})})
        assert 500 == r.status_code
        [err] = r.json()["errors"]
        assert "FRAMEWORK__DEFINITION_NOT_FOUND" == err["code"]
        assert {"entityName": "no_such_entity"} == err["meta"]["parameters"]

    async def test_unknown_entity_route(
        self, client: httpx.AsyncClient
    ) -> None:
        """Routes exist for known entities only: another name is Symfony's
        404 "No route found"."""
        r = await client.post("/api/search/no-such-entity", json={})
        assert 404 == r.status_code
        [err] = r.json()["errors"]
        assert ("0", "Not Found") == (err["code"], err["title"])
        assert (
            'No route found for "POST http://shop.test/api/search/'
            'no-such-entity"'
        ) == err["detail"]

    async def test_unknown_reference_fails(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A reference to a missing row fails the transaction with the
        database's error: 500, MySQL's error number, no pointer."""
        r = await sync(
            client,
            {"p": upsert("product", product("FK", emu, taxId=seed_id("no")))},
        )
        assert 500 == r.status_code
        [err] = r.json()["errors"]
        assert "1452" == err["code"]
        assert "source" not in err
        assert "foreign key constraint fails" in err["detail"]
        assert "`fk.product.tax_id`" in err["detail"]
        assert pid("FK") not in emu.entities["product"]

    async def test_visibility_unique_per_sales_channel(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A second visibility for the same channel under a new id fails."""
        sc = emu.ids.sales_channel

        def vis(vid: str) -> dict[str, Any]:
            return product(
                "VIS",
                emu,
                visibilities=[
                    {"id": vid, "salesChannelId": sc, "visibility": 30}
                ],
            )

        body = {"p": upsert("product", vis(seed_id("v1")))}
        assert (await sync(client, body)).status_code == 200
        assert (await sync(client, body)).status_code == 200
        r = await sync(client, {"p": upsert("product", vis(seed_id("v2")))})
        assert r.status_code == 500
        assert len(emu.entities["product_visibility"]) == 1

    async def test_headers_accepted(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """indexing-behavior and sw-skip-trigger-flow are accepted."""
        r = await client.post(
            "/api/_action/sync",
            json={"p": upsert("product", product("H", emu))},
            headers={
                "indexing-behavior": "use-queue-indexing",
                "sw-skip-trigger-flow": "1",
            },
        )
        assert r.status_code == 200


class TestCrud:
    async def test_create_read_update_delete(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """POST 204+Location, GET {data}, PATCH 204, DELETE 204, then 404."""
        cid = seed_id("cat.crud")
        r = await client.post("/api/category", json={"id": cid, "name": "C"})
        assert r.status_code == 204
        assert r.headers["location"].endswith(f"/api/category/{cid}")
        r = await client.get(f"/api/category/{cid}")
        assert r.json()["data"]["name"] == "C"
        r = await client.patch(f"/api/category/{cid}", json={"name": "D"})
        assert r.status_code == 204
        assert emu.entities["category"][cid]["name"] == "D"
        assert (await client.delete(f"/api/category/{cid}")).status_code == 204
        assert (await client.get(f"/api/category/{cid}")).status_code == 404
        assert (await client.delete(f"/api/category/{cid}")).status_code == 404

    async def test_single_write_pointer(
        self, client: httpx.AsyncClient
    ) -> None:
        """A single-entity write reports pointers as /0/field."""
        r = await client.post("/api/product", json={"id": pid("one")})
        assert r.status_code == 400
        assert "/0/taxId" in pointers(r)

    async def test_collection_on_single_route(
        self, client: httpx.AsyncClient
    ) -> None:
        """A JSON array sent to a single-write route is 400."""
        r = await client.post("/api/category", json=[{"name": "x"}])
        assert r.status_code == 400
        assert "/sync" in r.json()["errors"][0]["detail"]

    async def test_hyphenated_entity_and_tracking_codes(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """PATCH /api/order-delivery/{id} writes trackingCodes."""
        oid = emu.place_order()
        did = seed_id(f"order_delivery.{oid}")
        r = await client.patch(
            f"/api/order-delivery/{did}", json={"trackingCodes": ["0034"]}
        )
        assert r.status_code == 204
        assert emu.entities["order_delivery"][did]["trackingCodes"] == ["0034"]
        assert emu.entities["order_delivery"][did]["updatedAt"] is not None

    async def test_invalid_id_in_path(self, client: httpx.AsyncClient) -> None:
        """A malformed id in the path is 400 FRAMEWORK__INVALID_UUID."""
        r = await client.get("/api/product/not-an-id")
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "FRAMEWORK__INVALID_UUID"

    async def test_list(self, client: httpx.AsyncClient) -> None:
        """GET /api/{entity} lists with limit."""
        r = await client.get("/api/tax", params={"limit": 1})
        assert r.json()["total"] == 1
