"""
The slice of Shopware's data model the emulator knows: which entities
exist, which fields they require and how they hang together
(platform-apis.md §1.4-1.8); the order state machines are in
_state_machines.py.

Rows are schemaless dicts; only what the contract needs (required fields,
foreign keys, associations for reading and nested writing, cascades) is
declared here.
"""

from __future__ import annotations

import functools
import hashlib
import re

import attrs

from ..._unicode_ci import unicode_ci


ID_RE = re.compile(r"^[0-9a-f]{32}$")

DEFAULT_CURRENCY = "b7d2554b0ce847cd82f3ac9bd1c0dfca"
SYSTEM_LANGUAGE = "2fbb5fe2e29a4d70aa5854ce7ce3e20b"
LIVE_VERSION = "0fa91ce3e96a4bc2be4bd9ce752c3425"
MAX_LIMIT = 500

# Symfony constraint codes Shopware passes through as error codes.
NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
INVALID_TYPE = "ba785a8c-82cb-4283-967c-3cf342181b40"


def seed_id(name: str) -> str:
    """
    Shopware's ``Uuid::fromStringToHex``: md5 as a 32-hex id.
    """
    return hashlib.md5(name.encode()).hexdigest()  # noqa: S324 - an id


@attrs.frozen
class ToOne:
    """
    *name* loads the *target* row whose id is in our field *fk*; with
    *reverse*, the target row points at us through its field *fk*.
    """

    name: str
    fk: str
    target: str
    reverse: bool = False


@attrs.frozen
class ToMany:
    """
    One-to-many (*mapping* is None): rows of *target* whose *fk* is our
    id.  Many-to-many: rows of *mapping* whose *fk* is our id, pointing
    at *target* through *ref_fk*.
    """

    name: str
    target: str
    fk: str
    mapping: str | None = None
    ref_fk: str | None = None
    #: Deleting us deletes them; False: not (Shopware restricts it, the
    #: emulator leaves them be: see "Foreign keys" in docs/testing.md).
    cascade: bool = True


@attrs.frozen
class EntityDef:
    name: str
    required: tuple[str, ...] = ()
    to_one: tuple[ToOne, ...] = ()
    to_many: tuple[ToMany, ...] = ()
    # Mapping entities have a composite primary key of two foreign keys.
    mapping: tuple[str, str] | None = None
    # Fields with a value -> ids index, for foreign-key children, unique
    # checks and fast equality filters.
    indexed: tuple[str, ...] = ()
    # Deleting by criteria is a mapping-entity feature (Shopware 6.5.2 to
    # 6.6.7; later releases allow it on every entity).
    criteria_delete: bool = False
    # Foreign keys checked for existence (field, target entity).
    fks: tuple[tuple[str, str], ...] = ()
    # Indexed fields whose index compares like MySQL's utf8mb4_unicode_ci
    # (a unique key on them collides on `collate`).
    collated: tuple[str, ...] = ()
    # Fields (and associations) the Admin API does not expose: a
    # criteria naming one is refused (`_protection`).  Every field is
    # ApiAware for the Admin API unless its definition removes the flag
    # (``removeFlag(ApiAware::class)``: a password, a blob) or declares it
    # for the Store API only: Field::__construct adds
    # ``ApiAware(AdminApiSource)`` (shopware/shopware@cfc087db
    # Field.php, CustomerDefinition.php, MediaDefinition.php).
    unaware: tuple[str, ...] = ()

    def association(self, name: str) -> ToOne | ToMany | None:
        for a in self.to_one:
            if a.name == name:
                return a
        for m in self.to_many:
            if m.name == name:
                return m
        return None


def _sms(fk: str = "stateId") -> ToOne:
    return ToOne("stateMachineState", fk, "state_machine_state")


def _mapping(name: str, a: str, ta: str, b: str, tb: str) -> EntityDef:
    return EntityDef(
        name,
        required=(a, b),
        mapping=(a, b),
        indexed=(a, b),
        criteria_delete=True,
        fks=((a, ta), (b, tb)),
        to_one=(
            ToOne(a.removesuffix("Id"), a, ta),
            ToOne(b.removesuffix("Id"), b, tb),
        ),
    )


_DEFS = [
    EntityDef(
        "product",
        # `name` is translated: TRANSLATED checks it on the translation.
        required=("productNumber", "stock", "taxId", "price"),
        indexed=("productNumber", "parentId"),
        collated=("productNumber",),
        fks=(
            ("taxId", "tax"),
            ("parentId", "product"),
            ("manufacturerId", "product_manufacturer"),
            ("coverId", "product_media"),
        ),
        to_one=(
            ToOne("tax", "taxId", "tax"),
            ToOne("manufacturer", "manufacturerId", "product_manufacturer"),
            ToOne("parent", "parentId", "product"),
            ToOne("cover", "coverId", "product_media"),
        ),
        to_many=(
            ToMany("media", "product_media", "productId"),
            ToMany("visibilities", "product_visibility", "productId"),
            ToMany("prices", "product_price", "productId"),
            ToMany(
                "configuratorSettings",
                "product_configurator_setting",
                "productId",
            ),
            ToMany("children", "product", "parentId"),
            ToMany(
                "categories",
                "category",
                "productId",
                "product_category",
                "categoryId",
            ),
            ToMany(
                "options",
                "property_group_option",
                "productId",
                "product_option",
                "optionId",
            ),
            ToMany(
                "properties",
                "property_group_option",
                "productId",
                "product_property",
                "optionId",
            ),
            ToMany("tags", "tag", "productId", "product_tag", "tagId"),
        ),
    ),
    EntityDef(
        "product_media",
        required=("productId", "mediaId"),
        indexed=("productId", "mediaId"),
        fks=(("productId", "product"), ("mediaId", "media")),
        to_one=(
            ToOne("product", "productId", "product"),
            ToOne("media", "mediaId", "media"),
        ),
    ),
    EntityDef(
        "product_visibility",
        required=("productId", "salesChannelId", "visibility"),
        indexed=("productId",),
        fks=(("productId", "product"), ("salesChannelId", "sales_channel")),
        to_one=(ToOne("salesChannel", "salesChannelId", "sales_channel"),),
    ),
    EntityDef(
        "product_price",
        required=("productId", "ruleId", "quantityStart", "price"),
        indexed=("productId",),
        fks=(("productId", "product"),),
    ),
    EntityDef(
        "product_configurator_setting",
        required=("productId", "optionId"),
        indexed=("productId",),
        fks=(("productId", "product"), ("optionId", "property_group_option")),
        to_one=(ToOne("option", "optionId", "property_group_option"),),
    ),
    _mapping(
        "product_category", "productId", "product", "categoryId", "category"
    ),
    _mapping(
        "product_option",
        "productId",
        "product",
        "optionId",
        "property_group_option",
    ),
    _mapping(
        "product_property",
        "productId",
        "product",
        "optionId",
        "property_group_option",
    ),
    _mapping("product_tag", "productId", "product", "tagId", "tag"),
    EntityDef(
        "category",
        indexed=("parentId",),
        fks=(("parentId", "category"), ("mediaId", "media")),
        to_one=(
            ToOne("parent", "parentId", "category"),
            ToOne("media", "mediaId", "media"),
        ),
        to_many=(
            ToMany("children", "category", "parentId"),
            ToMany(
                "products",
                "product",
                "categoryId",
                "product_category",
                "productId",
            ),
        ),
    ),
    EntityDef(
        "media",
        unaware=("mediaTypeRaw", "thumbnailsRo"),
        indexed=("fileName",),
        collated=("fileName",),
        to_many=(ToMany("productMedia", "product_media", "mediaId"),),
    ),
    EntityDef("media_folder", required=("name",)),
    EntityDef("product_manufacturer"),
    EntityDef("tag", required=("name",)),
    EntityDef(
        "property_group",
        to_many=(ToMany("options", "property_group_option", "groupId"),),
    ),
    EntityDef(
        "property_group_option",
        required=("groupId",),
        indexed=("groupId",),
        fks=(("groupId", "property_group"),),
        to_one=(ToOne("group", "groupId", "property_group"),),
    ),
    EntityDef(
        "tax",
        required=("taxRate", "name"),
        # TaxDefinition: OneToManyAssociationField('products', ...,
        # 'tax_id'), RestrictDelete; unindexed, so reading it scans the
        # products.
        to_many=(ToMany("products", "product", "taxId", cascade=False),),
    ),
    EntityDef("currency", required=("isoCode", "factor")),
    EntityDef("language", required=("name",)),
    EntityDef(
        "sales_channel",
        fks=(("navigationCategoryId", "category"),),
        to_one=(
            ToOne("navigationCategory", "navigationCategoryId", "category"),
            ToOne("currency", "currencyId", "currency"),
        ),
    ),
    EntityDef("customer_group"),
    EntityDef("country"),
    EntityDef("salutation", required=("salutationKey",)),
    EntityDef("payment_method"),
    EntityDef("shipping_method"),
    EntityDef(
        "state_machine",
        required=("technicalName",),
        to_many=(ToMany("states", "state_machine_state", "stateMachineId"),),
    ),
    EntityDef(
        "state_machine_state",
        required=("technicalName", "stateMachineId"),
        indexed=("stateMachineId",),
        to_one=(ToOne("stateMachine", "stateMachineId", "state_machine"),),
    ),
    EntityDef(
        "customer",
        unaware=(
            "password",
            "legacyPassword",
            "legacyEncoder",
            "newsletterSalesChannelIds",
            "activeBillingAddress",
            "activeShippingAddress",
        ),
        # platform-apis.md §1.8 lists these as required.
        required=(
            "groupId",
            "salesChannelId",
            "languageId",
            "defaultBillingAddressId",
            "defaultShippingAddressId",
            "customerNumber",
            "firstName",
            "lastName",
            "email",
        ),
        indexed=("email", "customerNumber"),
        collated=("email", "customerNumber"),
        to_one=(
            ToOne("group", "groupId", "customer_group"),
            ToOne("salesChannel", "salesChannelId", "sales_channel"),
            ToOne("salutation", "salutationId", "salutation"),
            ToOne(
                "defaultBillingAddress",
                "defaultBillingAddressId",
                "customer_address",
            ),
            ToOne(
                "defaultShippingAddress",
                "defaultShippingAddressId",
                "customer_address",
            ),
        ),
        to_many=(ToMany("addresses", "customer_address", "customerId"),),
    ),
    EntityDef(
        "customer_address",
        required=(
            "customerId",
            "countryId",
            "firstName",
            "lastName",
            "street",
            "city",
        ),
        indexed=("customerId",),
        to_one=(
            ToOne("country", "countryId", "country"),
            ToOne("salutation", "salutationId", "salutation"),
        ),
    ),
    EntityDef(
        "order",
        required=(
            "orderNumber",
            "currencyId",
            "salesChannelId",
            "stateId",
            "orderDateTime",
        ),
        indexed=("orderNumber",),
        collated=("orderNumber",),
        to_one=(
            _sms(),
            ToOne("currency", "currencyId", "currency"),
            ToOne("salesChannel", "salesChannelId", "sales_channel"),
            ToOne("language", "languageId", "language"),
            ToOne("billingAddress", "billingAddressId", "order_address"),
            ToOne("orderCustomer", "orderId", "order_customer", reverse=True),
        ),
        to_many=(
            ToMany("addresses", "order_address", "orderId"),
            ToMany("deliveries", "order_delivery", "orderId"),
            ToMany("lineItems", "order_line_item", "orderId"),
            ToMany("transactions", "order_transaction", "orderId"),
        ),
    ),
    EntityDef(
        "order_customer",
        required=("orderId", "email", "firstName", "lastName"),
        indexed=("orderId", "customerId"),
        to_one=(
            ToOne("customer", "customerId", "customer"),
            ToOne("salutation", "salutationId", "salutation"),
            ToOne("order", "orderId", "order"),
        ),
    ),
    EntityDef(
        "order_address",
        required=(
            "orderId",
            "countryId",
            "firstName",
            "lastName",
            "street",
            "city",
        ),
        indexed=("orderId",),
        to_one=(
            ToOne("country", "countryId", "country"),
            ToOne("salutation", "salutationId", "salutation"),
        ),
    ),
    EntityDef(
        "order_line_item",
        required=("orderId", "identifier", "quantity", "label"),
        indexed=("orderId",),
        to_one=(
            ToOne("product", "productId", "product"),
            ToOne("order", "orderId", "order"),
        ),
    ),
    EntityDef(
        "order_delivery",
        required=("orderId", "stateId", "shippingOrderAddressId"),
        indexed=("orderId",),
        to_one=(
            _sms(),
            ToOne("order", "orderId", "order"),
            ToOne(
                "shippingOrderAddress",
                "shippingOrderAddressId",
                "order_address",
            ),
            ToOne("shippingMethod", "shippingMethodId", "shipping_method"),
        ),
    ),
    EntityDef(
        "order_transaction",
        required=("orderId", "stateId", "paymentMethodId"),
        indexed=("orderId",),
        to_one=(
            _sms(),
            ToOne("order", "orderId", "order"),
            ToOne("paymentMethod", "paymentMethodId", "payment_method"),
        ),
    ),
]

ENTITIES: dict[str, EntityDef] = {d.name: d for d in _DEFS}


# -- translated fields and column limits ------------------------------------


@attrs.frozen
class Translated:
    """
    A translated field: stored in ``<entity>_translation`` (the emulator
    keeps the system language's value on the row itself), validated there
    by `StringFieldSerializer` (Type, Length(max), NotBlank when
    *required*).  *max_length* ``None`` is a LONGTEXT/MEDIUMTEXT column.
    """

    max_length: int | None = 255
    required: bool = False


_NAME = Translated(required=True)
_TEXT = Translated(max_length=None)
_VARCHAR = Translated()

# The translation definitions (e.g. ProductTranslationDefinition,
# CategoryTranslationDefinition: `name` is StringField + Required) and
# their tables (Migration1536233120Product: `product_translation.name`
# VARCHAR(255), `description` MEDIUMTEXT).  The product's `name` is
# Inherited: a variant (parentId set) need not have one.
TRANSLATED: dict[str, dict[str, Translated]] = {
    "product": {
        "name": _NAME,
        "description": _TEXT,
        "keywords": _TEXT,
        "metaTitle": _VARCHAR,
        "metaDescription": _VARCHAR,
        "packUnit": _VARCHAR,
        "packUnitPlural": _VARCHAR,
        "additionalText": _VARCHAR,
    },
    "category": {
        "name": _NAME,
        "description": _TEXT,
        "keywords": _TEXT,
        "metaTitle": _VARCHAR,
        "metaDescription": _VARCHAR,
        "externalLink": _TEXT,
    },
    "product_manufacturer": {"name": _NAME, "description": _TEXT},
    "property_group": {"name": _NAME, "description": _TEXT},
    "property_group_option": {"name": _NAME},
    "currency": {"name": _NAME, "shortName": _NAME},
    "country": {"name": _NAME},
    "sales_channel": {"name": _NAME},
    "customer_group": {"name": _NAME},
    "payment_method": {"name": _NAME, "description": _TEXT},
    "shipping_method": {"name": _NAME, "description": _TEXT},
    "media": {"title": _VARCHAR, "alt": _TEXT},
}

# Plain (untranslated) string columns and their lengths: StringField's
# default max length is 255, NumberRangeField's 64 (`product_number`
# VARCHAR(64) in Migration1536233120Product).
MAX_LENGTH: dict[str, dict[str, int]] = {
    "product": {
        "productNumber": 64,
        "ean": 255,
        "manufacturerNumber": 255,
    },
    "tax": {"name": 255},
    "tag": {"name": 255},
    "media_folder": {"name": 255},
}

# Symfony constraint codes (Length::TOO_LONG_ERROR).
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"


@functools.lru_cache(maxsize=65536)
def _collate(value: str) -> str:
    return unicode_ci(value)


def collate(value: object) -> object:
    """
    A string as MySQL's ``utf8mb4_unicode_ci`` compares it (UCA 4.0.0
    weights: ``Müller`` = ``Muller``, ``ß`` = ``ss``, a no-break space
    = a space, a zero-width space = nothing; PAD SPACE: trailing spaces
    ignored; `ecomsync._unicode_ci`).  Other values are returned
    unchanged.
    """
    if not isinstance(value, str):
        return value
    return _collate(value)


# Fields ending in "Id" that are free text, not foreign keys.
NOT_UUID_FIELDS = frozenset({"vatId", "referencedId", "externalId"})

DATE_FIELDS = frozenset(
    {"createdAt", "updatedAt", "orderDateTime", "uploadedAt", "birthday"}
)
