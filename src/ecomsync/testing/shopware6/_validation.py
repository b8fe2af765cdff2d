"""
The write path's validation, as Shopware's DAL reports it: Symfony
constraint violations (not blank, type, length, uuid) with their
templates and parameters, and the product and price rules checked before
anything reaches the database.
"""

from __future__ import annotations

from typing import Any

from ._errors import ApiError, error
from ._schema import (
    DEFAULT_CURRENCY,
    INVALID_TYPE,
    MAX_LENGTH,
    NOT_BLANK,
    TOO_LONG,
    EntityDef,
)
from ._store import Row


def blank(v: Any) -> bool:
    if isinstance(v, str):
        # StringFieldSerializer trims before the NotBlank check.
        return not v.strip()
    return v is None or (not v and isinstance(v, (list, dict)))


def _symfony_value(v: Any) -> str:
    # ValidatorTrait/ConstraintValidator::formatValue.
    if v is None:
        return "null"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return "array" if isinstance(v, (list, dict)) else "object"


_TOO_LONG_TEMPLATE = (
    "This value is too long. It should have {{ limit }} character or "
    "less.|This value is too long. It should have {{ limit }} characters "
    "or less."
)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Validation:
    """
    Collects one request's violations in `errors`; `Writer` adds the
    writes.
    """

    errors: list[dict[str, Any]]

    def violation(
        self,
        pointer: str,
        detail: str,
        code: str = "FRAMEWORK__WRITE_CONSTRAINT_VIOLATION",
        parameters: dict[str, Any] | None = None,
        template: str | None = None,
    ) -> None:
        self.errors.append(
            error(
                400,
                code,
                detail,
                pointer=pointer,
                parameters=parameters,
                template=template or True,
            )
        )

    def not_blank(self, pointer: str, value: Any = None) -> None:
        self.violation(
            pointer,
            "This value should not be blank.",
            NOT_BLANK,
            {"{{ value }}": _symfony_value(value)},
        )

    def _not_string(self, pointer: str, value: Any) -> None:
        self.violation(
            pointer,
            "This value should be of type string.",
            INVALID_TYPE,
            {"{{ value }}": _symfony_value(value), "{{ type }}": "string"},
        )

    def _too_long(self, pointer: str, value: str, limit: int) -> None:
        # Symfony's Length constraint, as StringFieldSerializer adds it
        # with the field's max length.
        self.violation(
            pointer,
            f"This value is too long. It should have {limit} characters "
            "or less.",
            TOO_LONG,
            {
                "{{ value }}": _symfony_value(value),
                "{{ limit }}": limit,
                "{{ value_length }}": len(value),
            },
            _TOO_LONG_TEMPLATE,
        )

    def raise_if_failed(self) -> None:
        if self.errors:
            raise ApiError(400, self.errors)

    def _invalid_uuid(self, pointer: str, value: Any) -> None:
        self.violation(
            pointer,
            f'The string "{value}" is not a valid uuid.',
            "FRAMEWORK__INVALID_UUID",
            {"{{ input }}": str(value)},
        )

    def _validate(
        self, d: EntityDef, fields: Row, existing: Row | None, ptr: str
    ) -> None:
        merged = {**existing, **fields} if existing else fields
        for f, limit in MAX_LENGTH.get(d.name, {}).items():
            v = fields.get(f)
            if isinstance(v, str) and len(v) > limit:
                self._too_long(f"{ptr}/{f}", v, limit)
        required = d.required
        if d.name == "product":
            required = self._validate_product(fields, existing, merged, ptr)
        for f in required:
            if existing is None:
                if blank(merged.get(f)):
                    self.not_blank(f"{ptr}/{f}")
            elif f in fields and blank(fields[f]):
                self.not_blank(f"{ptr}/{f}", fields[f])

    def _validate_product(
        self, fields: Row, existing: Row | None, merged: Row, ptr: str
    ) -> tuple[str, ...]:
        # Variants inherit tax, price and name from their parent.
        required: tuple[str, ...] = ("productNumber", "stock")
        if merged.get("parentId") is None:
            required += ("taxId", "price")
        stock = fields.get("stock")
        if (
            "stock" in fields
            and stock is not None
            and (not isinstance(stock, int) or isinstance(stock, bool))
        ):
            self.violation(
                f"{ptr}/stock",
                "This value should be of type int.",
                INVALID_TYPE,
                {"{{ value }}": repr(stock), "{{ type }}": "int"},
            )
        pn = fields.get("productNumber")
        # Its uniqueness is the database's business: check_database.
        if pn is not None and not isinstance(pn, str):
            self._not_string(f"{ptr}/productNumber", pn)
        if "price" in fields and fields["price"] is not None:
            self._validate_price(fields["price"], f"{ptr}/price")
        return required

    def _validate_price(self, price: Any, ptr: str) -> None:
        if not isinstance(price, list):
            self.violation(
                ptr,
                "This value should be of type array.",
                INVALID_TYPE,
                {"{{ type }}": "array"},
            )
            return
        currencies = set()
        for i, p in enumerate(price):
            if not isinstance(p, dict):
                self.violation(
                    f"{ptr}/{i}",
                    f"Expected data at {ptr}/{i} to be an array.",
                    "FRAMEWORK__WRITE_MALFORMED_INPUT",
                )
                continue
            for f in ("currencyId", "gross", "net"):
                if blank(p.get(f)):
                    self.not_blank(f"{ptr}/{i}/{f}")
            for f in ("gross", "net"):
                if p.get(f) is not None and not _is_num(p[f]):
                    self.violation(
                        f"{ptr}/{i}/{f}",
                        "This value should be of type numeric.",
                        INVALID_TYPE,
                        {"{{ type }}": "numeric"},
                    )
            if "linked" in p and not isinstance(p["linked"], bool):
                self.violation(
                    f"{ptr}/{i}/linked",
                    "This value should be of type bool.",
                    INVALID_TYPE,
                    {"{{ type }}": "bool"},
                )
            currencies.add(p.get("currencyId"))
        if DEFAULT_CURRENCY not in currencies:
            self.violation(ptr, "No price for default currency defined")
