"""
What a shop holds, read from its emulator outside the adapter, for the
state machines: whether an article or a stock level is in the shop
exactly as the ERP has it, and the merchant's hand edits between runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

import attrs

from ecomsync import Article, Category, StockLevel
from ecomsync.platforms.shopify import collection_handle
from ecomsync.platforms.woocommerce import category_slug
from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.testing.woocommerce import WooCommerceEmulator


#: What `ShopView.stock_right` says of a number no product holds.
ABSENT = "no product holds the number"


class ShopView(Protocol):
    """One emulated shop, as the state machine inspects and edits it."""

    def numbers(self) -> list[str]:
        """Every product number the shop holds (parents only)."""

    def article_right(self, article: Article) -> str | None:
        """Why *article* is not in the shop as the ERP has it, or None."""

    def stock_right(self, levels: Sequence[StockLevel]) -> str | None:
        """Why the levels of one number are not in the shop, or None."""

    def category_right(self, category: Category) -> str | None:
        """Why *category* is not in the shop as the ERP has it, or None."""

    def delete(self, number: str) -> bool:
        """Delete the product *number* by hand; whether there was one."""

    def set_stock(self, number: str, quantity: int) -> bool:
        """Change the stock of *number* by hand; whether there was one."""

    def renumber(self, number: str, new: str) -> bool:
        """Change the number of product *number* by hand to *new*."""


def _gross(row: dict[str, Any]) -> Decimal:
    return Decimal(str(row["price"][0]["gross"]))


@attrs.frozen
class ShopwareView:
    """The Shopware 6 emulator's products, variants and their links."""

    emu: ShopwareEmulator

    def _rows(self) -> dict[str, dict[str, Any]]:
        return self.emu.entities.get("product", {})

    def numbers(self) -> list[str]:
        return [
            p["productNumber"]
            for p in self._rows().values()
            if not p.get("parentId")
        ]

    def _by_number(self, number: str) -> dict[str, Any] | None:
        for row in self._rows().values():
            if row["productNumber"] == number:
                return row
        return None

    def _linked(self, entity: str, product: str, key: str) -> list[str]:
        return [
            link[key]
            for link in self.emu.entities.get(entity, {}).values()
            if link.get("productId") == product
        ]

    def _name(self, row: dict[str, Any]) -> object:
        if "name" in row:
            return row["name"]
        for values in (row.get("translations") or {}).values():
            return values.get("name")
        return None

    def article_right(self, article: Article) -> str | None:
        row = self._by_number(article.number)
        if row is None or row.get("parentId"):
            return "not in the shop"
        if self._name(row) != article.name:
            return f"name {self._name(row)!r}"
        if _gross(row) != article.price:
            return f"price {_gross(row)}"
        if row.get("active", True) != article.active:
            return "active"
        categories = self.emu.entities.get("category", {})
        held = {
            (categories[c].get("customFields") or {}).get("ecomsync_number")
            for c in self._linked("product_category", row["id"], "categoryId")
        }
        if held != set(article.categories):
            return f"categories {held}"
        media = self._linked("product_media", row["id"], "mediaId")
        if len(media) != len(article.media):
            return f"{len(media)} media"
        kids = [
            r for r in self._rows().values() if r.get("parentId") == row["id"]
        ]
        if kids and not article.variants:
            # Shopware lists no product with variants, inactive ones too
            # (docs/shopware6.md, "Limits and choices").
            return f"{len(kids)} variants, none in the ERP"
        children = {
            r["productNumber"]: r for r in kids if r.get("active") is not False
        }
        if set(children) != {v.number for v in article.variants}:
            return f"variants {sorted(children)}"
        options = self.emu.entities.get("property_group_option", {})
        for variant in article.variants:
            child = children[variant.number]
            price = article.price if variant.price is None else variant.price
            gross = _gross(child if child.get("price") else row)
            if gross != price:
                return f"{variant.number} price {gross}"
            values = {
                options[o]["name"]
                for o in self._linked(
                    "product_option", child["id"], "optionId"
                )
            }
            if values != {value for _, value in variant.options}:
                return f"{variant.number} options {values}"
        return None

    def category_right(self, category: Category) -> str | None:
        rows = self.emu.entities.get("category", {})
        number = {
            cid: (row.get("customFields") or {}).get("ecomsync_number")
            for cid, row in rows.items()
        }
        held = [r for c, r in rows.items() if number[c] == category.number]
        if len(held) != 1:
            return f"{len(held)} categories"
        if held[0].get("name") != category.name:
            return f"name {held[0].get('name')!r}"
        parent = number.get(str(held[0].get("parentId")))
        return None if parent == category.parent else f"parent {parent!r}"

    def stock_right(self, levels: Sequence[StockLevel]) -> str | None:
        row = self._by_number(levels[0].number)
        if row is None:
            return ABSENT
        want = sum(level.quantity for level in levels)
        return None if row.get("stock") == want else f"stock {row['stock']}"

    def delete(self, number: str) -> bool:
        row = self._by_number(number)
        if row is None or row.get("parentId"):
            return False
        rows = self._rows()
        gone = {row["id"]} | {
            r["id"] for r in rows.values() if r.get("parentId") == row["id"]
        }
        for pid in gone:
            del rows[pid]
        for entity in ("product_category", "product_media", "product_option"):
            links = self.emu.entities.get(entity, {})
            for key in [k for k, v in links.items() if v["productId"] in gone]:
                del links[key]
        return True

    def set_stock(self, number: str, quantity: int) -> bool:
        row = self._by_number(number)
        if row is None:
            return False
        row["stock"] = quantity
        return True

    def renumber(self, number: str, new: str) -> bool:
        row = self._by_number(number)
        if row is None or row.get("parentId"):
            return False
        row["productNumber"] = new
        return True


@attrs.frozen
class ShopifyView:
    """The Shopify emulator's products, variants and inventory levels."""

    emu: ShopifyEmulator
    #: ERP warehouse code -> location name (empty: summed, primary).
    locations: dict[str, str] = attrs.field(factory=dict)

    def _product(self, number: str) -> tuple[int, dict[str, Any]] | None:
        for n, row in self.emu.shop.products.items():
            for m in row.get("_metafields", ()):
                if (m["namespace"], m["key"], m["value"]) == (
                    "ecomsync",
                    "number",
                    number,
                ):
                    return n, row
        return None

    def numbers(self) -> list[str]:
        return [
            m["value"]
            for row in self.emu.shop.products.values()
            for m in row.get("_metafields", ())
            if (m["namespace"], m["key"]) == ("ecomsync", "number")
        ]

    def article_right(self, article: Article) -> str | None:
        found = self._product(article.number)
        if found is None:
            return "not in the shop"
        _, row = found
        shop = self.emu.shop
        if row["title"] != article.name:
            return f"title {row['title']!r}"
        if article.active != (row["status"] == "ACTIVE"):
            return "status"
        held = {shop.collections[c]["handle"] for c in row["_collections"]}
        if held != {collection_handle(c) for c in article.categories}:
            return f"collections {held}"
        if len([f for f in row["_media"] if f in shop.files]) != len(
            article.media
        ):
            return "media"
        variants = {
            shop.variants[v]["sku"]: shop.variants[v] for v in row["_variants"]
        }
        wanted: dict[str, tuple[Decimal, list[tuple[str, str]] | None]] = {
            v.number: (
                article.price if v.price is None else v.price,
                list(v.options),
            )
            for v in article.variants
        } or {article.number: (article.price, None)}
        if set(variants) != set(wanted):
            return f"variants {sorted(variants)}"
        for sku, (price, options) in wanted.items():
            held_price = Decimal(variants[sku]["price"])
            if held_price != price:
                return f"{sku} price {held_price}"
            if options is not None and options != [
                (o["name"], o["value"])
                for o in variants[sku]["selectedOptions"]
            ]:
                return f"{sku} options"
        return None

    def category_right(self, category: Category) -> str | None:
        held = [
            row
            for row in self.emu.shop.collections.values()
            if row["handle"] == collection_handle(category.number)
        ]
        if len(held) != 1:
            return f"{len(held)} collections"
        if held[0]["title"] != category.name:
            return f"title {held[0]['title']!r}"
        parent = next(
            (
                m["value"]
                for m in held[0].get("_metafields", ())
                if (m["namespace"], m["key"]) == ("ecomsync", "parent")
            ),
            None,
        )
        return None if parent == category.parent else f"parent {parent!r}"

    def _items(self, sku: str) -> list[int]:
        return [
            v["_item"]
            for v in self.emu.shop.variants.values()
            if v["sku"] == sku
        ]

    def _location(self, warehouse: str | None) -> int:
        shop = self.emu.shop
        if warehouse is None:
            return next(
                n
                for n, r in shop.locations.items()
                if r["id"] == shop.primary_location
            )
        name = self.locations[warehouse]
        return next(n for n, r in shop.locations.items() if r["name"] == name)

    def stock_right(self, levels: Sequence[StockLevel]) -> str | None:
        items = self._items(levels[0].number)
        if not items:
            return ABSENT
        if len(items) != 1:
            return f"{len(items)} variants hold the SKU"
        for level in levels:
            key = (items[0], self._location(level.warehouse))
            held = self.emu.shop.levels.get(key, {}).get("available")
            if held != level.quantity:
                return f"{level.warehouse}: {held}"
        return None

    def delete(self, number: str) -> bool:
        found = self._product(number)
        if found is None:
            return False
        self.emu.shop.delete_product(found[0])
        return True

    def set_stock(self, number: str, quantity: int) -> bool:
        items = self._items(number)
        levels = self.emu.shop.levels
        keys = [k for k in levels if k[0] in items]
        for key in keys:
            levels[key]["available"] = quantity
        return bool(keys)

    def renumber(self, number: str, new: str) -> bool:
        # The SKU is what a merchant sees as the number in Shopify.
        items = self._items(number)
        for variant in self.emu.shop.variants.values():
            if variant["_item"] in items:
                variant["sku"] = new
        return bool(items)


@attrs.frozen
class WooView:
    """The WooCommerce emulator's products, variations and categories."""

    emu: WooCommerceEmulator

    def _rows(self, sku: str) -> list[dict[str, Any]]:
        return [r for r in self.emu.shop.products.values() if r["sku"] == sku]

    def numbers(self) -> list[str]:
        return [
            r["sku"]
            for r in self.emu.shop.products.values()
            if not r["parent_id"] and r["sku"]
        ]

    def _category(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.categories.values():
            if row["slug"] == category_slug(number):
                return row
        return None

    def article_right(self, article: Article) -> str | None:
        rows = [r for r in self._rows(article.number) if not r["parent_id"]]
        if len(rows) != 1:
            return ABSENT if not rows else f"{len(rows)} products"
        row = rows[0]
        products = self.emu.shop.products
        if row["name"] != article.name:
            return f"name {row['name']!r}"
        if article.active != (row["status"] == "publish"):
            return f"status {row['status']}"
        held = {c["id"] for c in row["categories"]}
        want = {
            (self._category(c) or {}).get("id") for c in article.categories
        }
        if held != want:
            return "categories"
        if len(row["images"]) != len(article.media):
            return "images"
        children = {products[v]["sku"]: products[v] for v in row["variations"]}
        if set(children) != {v.number for v in article.variants}:
            return f"variations {sorted(children)}"
        if not article.variants and Decimal(row["regular_price"]) != (
            article.price
        ):
            return f"price {row['regular_price']}"
        for variant in article.variants:
            child = children[variant.number]
            price = article.price if variant.price is None else variant.price
            if Decimal(child["regular_price"]) != price:
                return f"{variant.number} price {child['regular_price']}"
            if list(variant.options) != [
                (a["name"], a["option"]) for a in child["attributes"]
            ]:
                return f"{variant.number} options"
        return None

    def category_right(self, category: Category) -> str | None:
        row = self._category(category.number)
        if row is None:
            return "not in the shop"
        if row["name"] != category.name:
            return f"name {row['name']!r}"
        parent = (
            None
            if category.parent is None
            else (self._category(category.parent) or {}).get("id")
        )
        held = row["parent"] or None
        return None if held == parent else f"parent {row['parent']}"

    def stock_right(self, levels: Sequence[StockLevel]) -> str | None:
        rows = self._rows(levels[0].number)
        if not rows:
            return ABSENT
        want = sum(level.quantity for level in levels)
        held = [r["stock_quantity"] for r in rows]
        return None if held == [want] else f"stock {held}"

    def delete(self, number: str) -> bool:
        rows = [r for r in self._rows(number) if not r["parent_id"]]
        for row in rows:
            for v in row["variations"]:
                self.emu.shop.products.pop(v, None)
            del self.emu.shop.products[row["id"]]
        return bool(rows)

    def set_stock(self, number: str, quantity: int) -> bool:
        rows = self._rows(number)
        for row in rows:
            row["stock_quantity"] = quantity
        return bool(rows)

    def renumber(self, number: str, new: str) -> bool:
        rows = self._rows(number)
        for row in rows:
            row["sku"] = new
        return bool(rows)
