"""
The catalogue's routes: products, their variations and product
categories, each with a batch endpoint.
"""

from __future__ import annotations

from ._errors import WpError
from ._request import (
    CATEGORY_SCHEMA,
    EDIT,
    PRODUCT_SCHEMA,
    VARIATION_SCHEMA,
    WC,
    Request,
    Response,
    as_bool,
    route,
    validate,
)
from ._routes import Routes
from ._wp import Row, collate


class CatalogueRoutes(Routes):
    """
    ``/products``, ``/products/<id>/variations`` and
    ``/products/categories``.
    """

    # -- products ---------------------------------------------------------

    def _product_json(self, row: Row) -> Row:
        out = dict(row)
        # WC_Product::managing_stock(): the product's own flag, and false
        # whatever it says while woocommerce_manage_stock is off
        out["manage_stock"] = bool(row["manage_stock"]) and bool(
            self.emu.shop.manage_stock
        )
        return out

    @route("GET", f"{WC}/products")
    async def products_list(self, req: Request) -> Response:
        self._require(req, "read")
        shop = self.emu.shop
        sku = req.query.get("sku")
        if sku:
            # prepare_objects_query: comma-separated SKUs (and the whole
            # string), variations included; ``wc_product_meta_lookup.sku
            # IN (...)`` compares in the table's collation, so ``a-1``
            # finds ``A-1``.
            wanted = {collate(s) for s in [*sku.split(","), sku] if s}
            rows = [
                r
                for r in shop.products.values()
                if r["sku"] and collate(r["sku"]) in wanted
            ]
        else:
            rows = [
                r for r in shop.products.values() if r["type"] != "variation"
            ]
        search_sku = req.query.get("search_sku")
        if search_sku:
            rows = [
                r
                for r in shop.products.values()
                if search_sku.lower() in r["sku"].lower()
            ]
        if req.query.get("type"):
            rows = [r for r in rows if r["type"] == req.query["type"]]
        if req.query.get("category"):
            cat = (
                int(req.query["category"])
                if req.query["category"].isdigit()
                else -1
            )
            rows = [
                r for r in rows if any(c["id"] == cat for c in r["categories"])
            ]
        status = req.query.get("status", "any")
        # WP_Query's "any" leaves out the trash (exclude_from_search).
        rows = [
            r
            for r in rows
            if (
                r["status"] != "trash"
                if status == "any"
                else r["status"] == status
            )
        ]
        return self._listing(
            req,
            rows,
            "date",
            {
                "date": "date_created_gmt",
                "id": "id",
                "title": "name",
                "slug": "slug",
                "modified": "date_modified_gmt",
                "include": "id",
                "price": "price",
            },
            dates=True,
            render=self._product_json,
        )

    @route("POST", f"{WC}/products", writes=True)
    async def products_create(self, req: Request) -> Response:
        self._require(req, "create")
        data = req.json()
        validate(data, PRODUCT_SCHEMA)
        row = self.emu.shop.create_product(data)
        return self._created(
            req, f"/products/{row['id']}", self._product_json(row)
        )

    @route("GET", f"{WC}/taxes/classes")
    async def tax_classes_list(self, req: Request) -> Response:
        """
        The shop's tax classes (``WC_Tax::get_tax_classes``), the
        standard one first as slug ``standard``; not paged.
        """
        self._require(req, "read")
        return Response(
            200,
            [{"slug": "standard", "name": "Standard"}]
            + [
                {"slug": slug, "name": slug.replace("-", " ").capitalize()}
                for slug in self.emu.shop.tax_classes
            ],
        )

    def _settings(self, group: str) -> list[Row]:
        """
        The options of settings *group* the emulator keeps, as
        ``WC_REST_Setting_Options_Controller`` answers them (``value``
        a text; checkboxes ``yes``/``no``).
        """
        shop = self.emu.shop

        def option(
            id_: str, label: str, kind: str, default: str, value: str
        ) -> Row:
            return {
                "id": id_,
                "label": label,
                "description": "",
                "type": kind,
                "default": default,
                "value": value,
                "group_id": group,
            }

        if group == "general":
            return [
                option(
                    "woocommerce_calc_taxes",
                    "Enable taxes",
                    "checkbox",
                    "no",
                    "yes" if shop.calc_taxes else "no",
                ),
                option(
                    "woocommerce_currency",
                    "Currency",
                    "select",
                    "USD",
                    shop.currency,
                ),
                option(
                    "woocommerce_price_num_decimals",
                    "Number of decimals",
                    "number",
                    "2",
                    str(shop.price_decimals),
                ),
            ]
        if group == "tax":
            return [
                option(
                    "woocommerce_prices_include_tax",
                    "Prices entered with tax",
                    "radio",
                    "no",
                    "yes" if shop.prices_include_tax else "no",
                )
            ]
        raise WpError(
            404, "rest_setting_setting_group_invalid", "Invalid setting group."
        )

    @route("GET", rf"{WC}/settings/(?P<group>[\w-]+)")
    async def settings_group(self, req: Request) -> Response:
        """
        ``GET settings/<group>``: the group's options.
        """
        self._require(req, "read")
        return Response(200, self._settings(req.params["group"]))

    @route("GET", rf"{WC}/settings/(?P<group>[\w-]+)/(?P<id>[\w-]+)")
    async def settings_option(self, req: Request) -> Response:
        """
        ``GET settings/<group>/<id>``: one option, 404
        ``rest_setting_setting_invalid`` for one the group lacks.
        """
        self._require(req, "read")
        for row in self._settings(req.params["group"]):
            if row["id"] == req.params["id"]:
                return Response(200, row)
        raise WpError(404, "rest_setting_setting_invalid", "Invalid setting.")

    @route("GET", rf"{WC}/products/(?P<id>\d+)")
    async def products_get(self, req: Request) -> Response:
        self._require(req, "read")
        return Response(
            200,
            self._product_json(
                self.emu.shop.get_product(int(req.params["id"]))
            ),
        )

    @route(EDIT, rf"{WC}/products/(?P<id>\d+)", writes=True)
    async def products_update(self, req: Request) -> Response:
        self._require(req, "edit")
        data = req.json()
        validate(data, PRODUCT_SCHEMA)
        row = self.emu.shop.update_product(int(req.params["id"]), data)
        return Response(200, self._product_json(row))

    @route("DELETE", rf"{WC}/products/(?P<id>\d+)", writes=True)
    async def products_delete(self, req: Request) -> Response:
        self._require(req, "delete")
        row = self.emu.shop.delete_product(int(req.params["id"]))
        return Response(200, self._product_json(row))

    @route(EDIT, f"{WC}/products/batch", writes=True)
    async def products_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        shop = self.emu.shop
        return self._batch(
            req,
            create=lambda d: self._product_json(shop.create_product(d)),
            update=lambda i, d: self._product_json(shop.update_product(i, d)),
            delete=lambda i: self._product_json(shop.delete_product(i)),
        )

    # -- variations -------------------------------------------------------

    def _parent(self, req: Request) -> Row:
        parent = self.emu.shop.products.get(int(req.params["pid"]))
        if parent is None or parent["type"] == "variation":
            raise WpError(
                404, "woocommerce_rest_product_invalid_id", "Invalid ID."
            )
        return parent

    @route("GET", rf"{WC}/products/(?P<pid>\d+)/variations")
    async def variations_list(self, req: Request) -> Response:
        self._require(req, "read")
        parent = self._parent(req)
        rows = [self.emu.shop.products[i] for i in parent["variations"]]
        rows = self._order(
            req,
            rows,
            "date",
            {
                "date": "date_created_gmt",
                "id": "id",
                "menu_order": "id",
                "include": "id",
            },
        )
        return self._page(req, [self._product_json(r) for r in rows])

    @route("POST", rf"{WC}/products/(?P<pid>\d+)/variations", writes=True)
    async def variations_create(self, req: Request) -> Response:
        self._require(req, "create")
        parent = self._parent(req)
        data = req.json()
        validate(data, VARIATION_SCHEMA)
        row = self.emu.shop.create_product(data, parent=parent)
        return self._created(
            req,
            f"/products/{parent['id']}/variations/{row['id']}",
            self._product_json(row),
        )

    @route("GET", rf"{WC}/products/(?P<pid>\d+)/variations/(?P<id>\d+)")
    async def variations_get(self, req: Request) -> Response:
        self._require(req, "read")
        parent = self._parent(req)
        return Response(
            200,
            self._product_json(
                self.emu.shop.get_product(int(req.params["id"]), parent=parent)
            ),
        )

    @route(
        EDIT,
        rf"{WC}/products/(?P<pid>\d+)/variations/(?P<id>\d+)",
        writes=True,
    )
    async def variations_update(self, req: Request) -> Response:
        self._require(req, "edit")
        parent = self._parent(req)
        data = req.json()
        validate(data, VARIATION_SCHEMA)
        row = self.emu.shop.update_product(
            int(req.params["id"]), data, parent=parent
        )
        return Response(200, self._product_json(row))

    @route(
        "DELETE",
        rf"{WC}/products/(?P<pid>\d+)/variations/(?P<id>\d+)",
        writes=True,
    )
    async def variations_delete(self, req: Request) -> Response:
        self._require(req, "delete")
        parent = self._parent(req)
        return Response(
            200,
            self._product_json(
                self.emu.shop.delete_product(
                    int(req.params["id"]), parent=parent
                )
            ),
        )

    @route(EDIT, rf"{WC}/products/(?P<pid>\d+)/variations/batch", writes=True)
    async def variations_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        parent = self._parent(req)
        shop = self.emu.shop
        return self._batch(
            req,
            create=lambda d: self._product_json(
                shop.create_product(d, parent=parent)
            ),
            update=lambda i, d: self._product_json(
                shop.update_product(i, d, parent=parent)
            ),
            delete=lambda i: self._product_json(
                shop.delete_product(i, parent=parent)
            ),
        )

    # -- categories -------------------------------------------------------

    @route("GET", f"{WC}/products/categories")
    async def categories_list(self, req: Request) -> Response:
        self._require(req, "read")
        rows = list(self.emu.shop.categories.values())
        if req.query.get("parent") not in (None, ""):
            parent = (
                int(req.query["parent"])
                if req.query["parent"].isdigit()
                else -1
            )
            rows = [r for r in rows if r["parent"] == parent]
        if req.query.get("slug"):
            rows = [r for r in rows if r["slug"] == req.query["slug"]]
        if req.query.get("search"):
            needle = req.query["search"].lower()
            rows = [r for r in rows if needle in r["name"].lower()]
        return self._listing(
            req,
            rows,
            "name",
            {
                "name": "name",
                "id": "id",
                "slug": "slug",
                "include": "id",
                "count": "count",
            },
        )

    @route("POST", f"{WC}/products/categories", writes=True)
    async def categories_create(self, req: Request) -> Response:
        self._require(req, "create")
        data = req.json()
        validate(data, CATEGORY_SCHEMA)
        row = self.emu.shop.create_category(data)
        return self._created(
            req, f"/products/categories/{row['id']}", dict(row)
        )

    @route("GET", rf"{WC}/products/categories/(?P<id>\d+)")
    async def categories_get(self, req: Request) -> Response:
        self._require(req, "read")
        return self._found(
            req,
            self.emu.shop.categories,
            "woocommerce_rest_term_invalid",
            "Resource does not exist.",
        )

    @route(EDIT, rf"{WC}/products/categories/(?P<id>\d+)", writes=True)
    async def categories_update(self, req: Request) -> Response:
        self._require(req, "edit")
        data = req.json()
        validate(data, CATEGORY_SCHEMA)
        return Response(
            200,
            dict(
                self.emu.shop.update_category(
                    int(req.params["id"]), data or {"_": 1}
                )
            ),
        )

    @route("DELETE", rf"{WC}/products/categories/(?P<id>\d+)", writes=True)
    async def categories_delete(self, req: Request) -> Response:
        self._require(req, "delete")
        force = as_bool(req.arg("force") or False)
        return Response(
            200,
            dict(
                self.emu.shop.delete_category(
                    int(req.params["id"]), force=force
                )
            ),
        )

    @route(EDIT, f"{WC}/products/categories/batch", writes=True)
    async def categories_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        shop = self.emu.shop
        return self._batch(
            req,
            create=lambda d: dict(shop.create_category(d)),
            update=lambda i, d: dict(shop.update_category(i, d or {"_": 1})),
            delete=lambda i: dict(shop.delete_category(i, force=True)),
        )
