// Drives a Shopware 6 Admin API (the ecomsync emulator, or a real shop)
// with Shopware's own client, @shopware/api-client, and checks what it
// answers against Shopware 6.6's source.
//
//   SHOPWARE_URL=http://127.0.0.1:8000 SHOPWARE_CLIENT_ID=... \
//   SHOPWARE_CLIENT_SECRET=... SHOPWARE_TOKEN_TTL=600 node conformance.mjs
//
// Prints one JSON line per check: {"check": name, "ok": bool, "error": str}.
// Exit code 0 if every check passed.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";

import { ApiClientError, createAdminAPIClient } from "@shopware/api-client";

const BASE = `${process.env.SHOPWARE_URL}/api`;
const CREDENTIALS = {
  grant_type: "client_credentials",
  client_id: process.env.SHOPWARE_CLIENT_ID,
  client_secret: process.env.SHOPWARE_CLIENT_SECRET,
};
const TOKEN_TTL = Number(process.env.SHOPWARE_TOKEN_TTL || 600);

// Defaults::LANGUAGE_SYSTEM, Defaults::CURRENCY
const SYSTEM_LANGUAGE = "2fbb5fe2e29a4d70aa5854ce7ce3e20b";
const CURRENCY = "b7d2554b0ce847cd82f3ac9bd1c0dfca";
// Symfony constraint codes
const NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3";
const TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9";

// A run-unique prefix keeps product numbers apart on a shared shop.
const RUN = randomUUID().slice(0, 8);
const id = (name) => createHash("md5").update(`${RUN}.${name}`).digest("hex");
const number = (name) => `${RUN}-${name}`;

function client(credentials = CREDENTIALS) {
  return createAdminAPIClient({ baseURL: BASE, credentials });
}

const api = client();

async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof ApiClientError,
      `expected an ApiClientError, got ${error}`,
    );
    return error;
  }
  assert.fail("the request succeeded");
}

const pointers = (error) =>
  error.details.errors
    .filter((e) => e.source?.pointer)
    .map((e) => e.source.pointer)
    .sort();

let taxId;
async function tax() {
  if (!taxId) {
    const { data } = await api.invoke("searchTax post /search/tax", {
      body: { limit: 1 },
    });
    taxId = data.data[0].id;
  }
  return taxId;
}

async function product(name, extra = {}) {
  return {
    id: id(name),
    productNumber: number(name),
    name: `Article ${name}`,
    stock: 5,
    taxId: await tax(),
    price: [{ currencyId: CURRENCY, gross: 11.9, net: 10, linked: true }],
    ...extra,
  };
}

const sync = (body) =>
  api.invoke("sync post /_action/sync", {
    body,
    headers: { "sw-skip-trigger-flow": "1" },
  });

const upsert = (entity, payload) => ({ entity, action: "upsert", payload });

const search = (entity, body) =>
  api.invoke(`search post /search/${entity}`, { body });

const checks = {
  async token() {
    const fresh = client();
    const before = Date.now();
    const { status } = await fresh.invoke("infoVersion get /_info/version");
    assert.equal(status, 200);
    const session = fresh.getSessionData();
    assert.ok(session.accessToken.length > 0);
    assert.equal(session.refreshToken, "");
    const lifetime = session.expirationTime - before;
    assert.ok(
      Math.abs(lifetime - TOKEN_TTL * 1000) < 5000,
      `expires_in: token lives ${lifetime} ms, not ${TOKEN_TTL} s`,
    );
  },

  async token_renewal() {
    const renewing = client();
    await renewing.invoke("infoVersion get /_info/version");
    const first = renewing.getSessionData().accessToken;
    const changes = [];
    renewing.hook("onAuthChange", (data) => changes.push(data));
    // The session ran out: the client asks for a new token first.
    renewing.setSessionData({
      accessToken: first,
      refreshToken: "",
      expirationTime: Date.now() - 1,
    });
    const { status } = await renewing.invoke("infoVersion get /_info/version");
    assert.equal(status, 200);
    assert.equal(changes.length, 1);
    assert.notEqual(renewing.getSessionData().accessToken, first);
  },

  async token_refused() {
    const unknown = client();
    unknown.setSessionData({
      accessToken: "not-a-token",
      refreshToken: "",
      expirationTime: Date.now() + 60_000,
    });
    let error = await failure(
      unknown.invoke("infoVersion get /_info/version"),
    );
    assert.equal(error.status, 401);
    assert.equal(error.details.errors[0].code, "9");
    assert.equal(error.details.errors[0].status, "401");

    const wrong = client({ ...CREDENTIALS, client_secret: "wrong" });
    error = await failure(wrong.invoke("infoVersion get /_info/version"));
    assert.equal(error.status, 401);
    assert.equal(error.details.errors[0].code, "4");
    assert.equal(
      error.details.errors[0].title,
      "Client authentication failed",
    );
  },

  async crud() {
    const categoryId = id("crud");
    let r = await api.invoke("createCategory post /category", {
      body: { id: categoryId, name: "Werkzeug" },
    });
    assert.equal(r.status, 204);
    r = await api.invoke("getCategory get /category/{id}", {
      pathParams: { id: categoryId },
    });
    assert.equal(r.data.data.name, "Werkzeug");
    assert.equal(r.data.data.translated.name, "Werkzeug");
    r = await api.invoke("updateCategory patch /category/{id}", {
      pathParams: { id: categoryId },
      body: { name: "Werkzeuge" },
    });
    assert.equal(r.status, 204);
    r = await api.invoke("getCategory get /category/{id}", {
      pathParams: { id: categoryId },
    });
    assert.equal(r.data.data.name, "Werkzeuge");
    r = await api.invoke("deleteCategory delete /category/{id}", {
      pathParams: { id: categoryId },
    });
    assert.equal(r.status, 204);
    const error = await failure(
      api.invoke("getCategory get /category/{id}", {
        pathParams: { id: categoryId },
      }),
    );
    assert.equal(error.status, 404);
    assert.equal(error.details.errors[0].code, "FRAMEWORK__RESOURCE_NOT_FOUND");
  },

  async search_criteria() {
    const categoryId = id("search.category");
    await sync({
      c: upsert("category", [{ id: categoryId, name: "Suche" }]),
      p: upsert("product", [
        await product("s1", { stock: 1, categories: [{ id: categoryId }] }),
        await product("s2", { stock: 2, categories: [{ id: categoryId }] }),
        await product("s3", { stock: 3, active: false }),
      ]),
    });
    const prefix = {
      type: "prefix",
      field: "productNumber",
      value: `${RUN}-s`,
    };
    const numbers = async (criteria) => {
      const { data } = await search("product", criteria);
      return data.data.map((p) => p.productNumber);
    };
    assert.deepEqual(
      await numbers({
        filter: [prefix, { type: "range", field: "stock", parameters: { gte: 2 } }],
        sort: [{ field: "stock", order: "DESC" }],
      }),
      [number("s3"), number("s2")],
    );
    assert.deepEqual(
      await numbers({
        filter: [
          {
            type: "multi",
            operator: "or",
            queries: [
              { type: "equals", field: "productNumber", value: number("s1") },
              {
                type: "equalsAny",
                field: "productNumber",
                value: [number("s3")],
              },
            ],
          },
          { type: "not", queries: [{ type: "equals", field: "active", value: false }] },
        ],
      }),
      [number("s1")],
    );
    assert.deepEqual(
      await numbers({
        filter: [
          prefix,
          { type: "equals", field: "categories.id", value: categoryId },
        ],
        sort: [{ field: "productNumber", order: "ASC" }],
        limit: 1,
        page: 2,
      }),
      [number("s2")],
    );
    const { data } = await search("product", {
      filter: [{ type: "equals", field: "id", value: id("s1") }],
      associations: { categories: {} },
      includes: { product: ["id", "productNumber", "categories"], category: ["id", "name"] },
    });
    assert.deepEqual(
      data.data[0].categories.map((c) => c.name),
      ["Suche"],
    );
    assert.equal(data.data[0].stock, undefined);
  },

  async total_count_modes() {
    await sync({
      p: upsert("product", [
        await product("t1"),
        await product("t2"),
        await product("t3"),
      ]),
    });
    const filter = [{ type: "prefix", field: "productNumber", value: `${RUN}-t` }];
    const expected = [
      [0, 1],
      [1, 3],
      [2, 3],
      ["none", 1],
      ["exact", 3],
      ["next-pages", 3],
    ];
    for (const [mode, total] of expected) {
      const { data } = await search("product", {
        filter,
        limit: 1,
        "total-count-mode": mode,
      });
      assert.equal(data.total, total, `total-count-mode ${mode}`);
    }
  },

  async aggregations() {
    await sync({
      p: upsert("product", [
        await product("a1", { stock: 2 }),
        await product("a2", { stock: 4 }),
        await product("a3", { stock: 4, active: false }),
      ]),
    });
    const { data } = await search("product", {
      limit: 1,
      filter: [{ type: "prefix", field: "productNumber", value: `${RUN}-a` }],
      aggregations: [
        { name: "stock-sum", type: "sum", field: "stock" },
        { name: "stock-avg", type: "avg", field: "stock" },
        { name: "stock-min", type: "min", field: "stock" },
        { name: "stock-max", type: "max", field: "stock" },
        { name: "stock-count", type: "count", field: "stock" },
        { name: "stock-stats", type: "stats", field: "stock" },
        { name: "by-stock", type: "terms", field: "stock", sort: { field: "_count", order: "DESC" } },
      ],
    });
    const a = data.aggregations;
    assert.equal(a["stock-sum"].sum, 10);
    assert.equal(a["stock-sum"].apiAlias, "stock-sum_aggregation");
    assert.ok(Math.abs(a["stock-avg"].avg - 10 / 3) < 1e-9);
    assert.equal(Number(a["stock-min"].min), 2);
    assert.equal(Number(a["stock-max"].max), 4);
    assert.equal(a["stock-count"].count, 2);
    assert.equal(a["stock-stats"].sum, 10);
    assert.deepEqual(
      a["by-stock"].buckets.map((b) => [b.key, b.count]),
      [["4", 2], ["2", 1]],
    );
  },

  async sync_valid() {
    const { status, data } = await sync({
      products: upsert("product", [await product("v1"), await product("v2")]),
    });
    assert.equal(status, 200);
    assert.deepEqual(
      [...data.data.product].sort(),
      [id("v1"), id("v2")].sort(),
    );
  },

  async sync_invalid_rows() {
    const error = await failure(
      sync({
        products: upsert("product", [
          await product("i1"),
          { id: id("i2") },
          await product("i3", { name: "x".repeat(256) }),
        ]),
        categories: upsert("category", [{ id: id("i.category") }]),
      }),
    );
    assert.equal(error.status, 400);
    const translated = `translations/${SYSTEM_LANGUAGE}/name`;
    assert.deepEqual(pointers(error), [
      `/categories/0/${translated}`,
      "/products/1/price",
      "/products/1/productNumber",
      "/products/1/stock",
      "/products/1/taxId",
      `/products/1/${translated}`,
      `/products/2/${translated}`,
    ]);
    for (const e of error.details.errors) {
      assert.equal(e.status, "400");
      assert.equal(e.title, undefined);
    }
    const tooLong = error.details.errors.find(
      (e) => e.source.pointer === `/products/2/${translated}`,
    );
    assert.equal(tooLong.code, TOO_LONG);
    assert.equal(
      tooLong.detail,
      "This value is too long. It should have 255 characters or less.",
    );
    const blank = error.details.errors.find(
      (e) => e.source.pointer === "/products/1/taxId",
    );
    assert.equal(blank.code, NOT_BLANK);
    assert.equal(blank.detail, "This value should not be blank.");
    // One transaction: nothing was written.
    const { data } = await search("product", {
      filter: [{ type: "equals", field: "id", value: id("i1") }],
    });
    assert.equal(data.total, 0);
  },

  async sync_database_errors() {
    await sync({ p: upsert("product", [await product("d1")]) });
    const twin = await product("d-twin", {
      productNumber: number("d1").toLowerCase() + " ",
    });
    let error = await failure(sync({ p: upsert("product", [twin]) }));
    assert.equal(error.status, 400);
    assert.equal(error.details.errors.length, 1);
    assert.equal(error.details.errors[0].code, "CONTENT__DUPLICATE_PRODUCT_NUMBER");
    assert.equal(error.details.errors[0].source, undefined);

    error = await failure(
      sync({ p: upsert("product", [await product("d2", { taxId: id("no-tax") })]) }),
    );
    assert.equal(error.status, 500);
    assert.equal(error.details.errors[0].code, "1452");
    assert.equal(error.details.errors[0].source, undefined);
  },

  async media_upload() {
    const mediaId = id("media");
    let r = await api.invoke("createMedia post /media", {
      body: { id: mediaId },
    });
    assert.equal(r.status, 204);
    // A PNG sent as image/jpeg: Shopware trusts the bytes.
    const png = new Uint8Array([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
    ]);
    r = await api.invoke(
      "upload post /_action/media/{mediaId}/upload",
      {
        pathParams: { mediaId },
        query: { extension: "png", fileName: `${RUN}-hammer` },
        body: png,
        headers: { "Content-Type": "image/jpeg" },
      },
    );
    assert.equal(r.status, 204);
    r = await api.invoke("getMedia get /media/{id}", {
      pathParams: { id: mediaId },
    });
    const media = r.data.data;
    assert.equal(media.hasFile, true);
    assert.equal(media.mimeType, "image/png");
    assert.equal(media.fileExtension, "png");
    assert.equal(media.fileSize, png.length);

    const other = id("media.other");
    await api.invoke("createMedia post /media", { body: { id: other } });
    let error = await failure(
      api.invoke("upload post /_action/media/{mediaId}/upload", {
        pathParams: { mediaId: other },
        query: { extension: "png", fileName: `${RUN}-hammer` },
        body: png,
        headers: { "Content-Type": "image/png" },
      }),
    );
    assert.equal(error.details.errors[0].code, "CONTENT__MEDIA_DUPLICATED_FILE_NAME");
    error = await failure(
      api.invoke("upload post /_action/media/{mediaId}/upload", {
        pathParams: { mediaId: other },
        query: { extension: "zip", fileName: `${RUN}-archive` },
        body: png,
        headers: { "Content-Type": "application/zip" },
      }),
    );
    assert.equal(error.details.errors[0].code, "CONTENT__MEDIA_FILE_TYPE_NOT_SUPPORTED");
    for (const extension of ["doc", "xls", "xlsx"]) {
      const office = id(`media.${extension}`);
      await api.invoke("createMedia post /media", { body: { id: office } });
      r = await api.invoke("upload post /_action/media/{mediaId}/upload", {
        pathParams: { mediaId: office },
        query: { extension, fileName: `${RUN}-sheet-${extension}` },
        body: new Uint8Array([0x41, 0x42]),
        headers: { "Content-Type": "application/octet-stream" },
      });
      assert.equal(r.status, 204, extension);
    }
  },

  async order_state_machine() {
    const states = {};
    const { data } = await search("state-machine-state", {
      associations: { stateMachine: {} },
      limit: 100,
    });
    for (const s of data.data) {
      states[`${s.stateMachine.technicalName}.${s.technicalName}`] = s.id;
    }
    const { data: channels } = await search("sales-channel", { limit: 1 });
    const { data: methods } = await search("payment-method", { limit: 1 });
    const orderId = id("order");
    const deliveryId = id("order.delivery");
    const addressId = id("order.address");
    await sync({
      o: upsert("order", [
        {
          id: orderId,
          orderNumber: `${RUN}-10001`,
          currencyId: CURRENCY,
          salesChannelId: channels.data[0].id,
          stateId: states["order.state.open"],
          orderDateTime: new Date().toISOString(),
          billingAddressId: addressId,
          addresses: [
            {
              id: addressId,
              countryId: channels.data[0].countryId,
              firstName: "Erika",
              lastName: "Mustermann",
              street: "Musterstraße 1",
              city: "Musterstadt",
            },
          ],
          deliveries: [
            {
              id: deliveryId,
              stateId: states["order_delivery.state.open"],
              shippingOrderAddressId: addressId,
            },
          ],
          transactions: [
            {
              id: id("order.transaction"),
              stateId: states["order_transaction.state.open"],
              paymentMethodId: methods.data[0].id,
            },
          ],
        },
      ]),
    });
    let r = await api.invoke(
      "getAvailableTransitions get /_action/state-machine/{entityName}/{entityId}/state",
      { pathParams: { entityName: "order", entityId: orderId } },
    );
    assert.deepEqual(
      r.data.transitions.map((t) => t.actionName).sort(),
      ["cancel", "process"],
    );
    r = await api.invoke(
      "orderStateTransition post /_action/order/{orderId}/state/{transition}",
      {
        pathParams: { orderId, transition: "process" },
        body: { sendMail: false },
      },
    );
    assert.equal(r.status, 200);
    assert.equal(r.data.technicalName, "in_progress");

    r = await api.invoke("updateOrderDelivery patch /order-delivery/{id}", {
      pathParams: { id: deliveryId },
      body: { trackingCodes: ["00340434161094042557"] },
    });
    assert.equal(r.status, 204);
    const ship = () =>
      api.invoke(
        "orderDeliveryStateTransition post /_action/order_delivery/{orderDeliveryId}/state/{transition}",
        {
          pathParams: { orderDeliveryId: deliveryId, transition: "ship" },
          body: { sendMail: false },
        },
      );
    r = await ship();
    assert.equal(r.data.technicalName, "shipped");
    const error = await failure(ship());
    assert.equal(error.status, 400);
    const e = error.details.errors[0];
    assert.equal(e.code, "SYSTEM__ILLEGAL_STATE_TRANSITION");
    assert.deepEqual(Object.keys(e.meta.parameters).sort(), [
      "currentState",
      "possibleTransitions",
      "possibleTransitionsString",
      "transition",
    ]);
    assert.equal(e.meta.parameters.transition, "ship");
    assert.equal(e.meta.parameters.currentState, states["order_delivery.state.shipped"]);
    assert.equal(
      e.meta.parameters.possibleTransitionsString,
      e.meta.parameters.possibleTransitions.join(", "),
    );
    r = await api.invoke("getOrderDelivery get /order-delivery/{id}", {
      pathParams: { id: deliveryId },
    });
    assert.deepEqual(r.data.data.trackingCodes, ["00340434161094042557"]);
  },
};

const only = process.argv.slice(2);
let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  if (only.length && !only.includes(name)) continue;
  try {
    await check();
    console.log(JSON.stringify({ check: name, ok: true }));
  } catch (error) {
    failed += 1;
    const details = error instanceof ApiClientError ? JSON.stringify(error.details) : "";
    console.log(
      JSON.stringify({
        check: name,
        ok: false,
        error: `${error.stack || error}\n${details}`,
      }),
    );
  }
}
process.exit(failed ? 1 : 0);
