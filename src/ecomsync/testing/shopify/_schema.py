# ruff: noqa: E501 - the SDL reads as Shopify documents it, one type per line
"""
The GraphQL Admin API subset the emulator serves, as SDL (names, arguments
and payload shapes as in Shopify's reference for 2026-01).
"""

from __future__ import annotations

from functools import cache

from graphql import GraphQLSchema, build_schema


SDL = """
directive @idempotent(key: String!) on FIELD

scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar JSON

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum FileContentType { IMAGE FILE VIDEO EXTERNAL_VIDEO MODEL_3D }
enum FileCreateInputDuplicateResolutionMode { APPEND_UUID RAISE_ERROR REPLACE }
enum FileStatus { UPLOADED PROCESSING READY FAILED }
enum StagedUploadTargetGenerateUploadResource {
  IMAGE FILE VIDEO MODEL_3D BULK_MUTATION_VARIABLES COLLECTION_IMAGE
  PRODUCT_IMAGE SHOP_IMAGE URL_REDIRECT_IMPORT RETURN_LABEL DISPUTE_FILE_UPLOAD
}
enum StagedUploadHttpMethodType { POST PUT }
enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum OrderSortKeys { CREATED_AT UPDATED_AT ID ORDER_NUMBER PROCESSED_AT }
enum LocationSortKeys { ID NAME RELEVANCE }
enum ProductSortKeys { ID TITLE UPDATED_AT CREATED_AT }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum FulfillmentOrderStatus {
  OPEN IN_PROGRESS CLOSED CANCELLED INCOMPLETE ON_HOLD SCHEDULED
}

type UserError { field: [String!] message: String! code: String }

type Collection {
  id: ID!
  title: String!
  handle: String!
  descriptionHtml: String!
  updatedAt: DateTime!
}
type CollectionConnection { nodes: [Collection!]! edges: [CollectionEdge!]! pageInfo: PageInfo! }
type CollectionEdge { node: Collection! cursor: String! }

type SelectedOption { name: String! value: String! }
type InventoryLevelQuantity { name: String! quantity: Int! }
type InventoryLevel { id: ID! location: Location! quantities(names: [String!]!): [InventoryLevelQuantity!]! }
type InventoryLevelConnection { nodes: [InventoryLevel!]! edges: [InventoryLevelEdge!]! pageInfo: PageInfo! }
type InventoryLevelEdge { node: InventoryLevel! cursor: String! }
type InventoryItem {
  id: ID!
  sku: String
  tracked: Boolean!
  inventoryLevels(first: Int, after: String): InventoryLevelConnection!
}
type ProductVariant {
  id: ID!
  sku: String
  title: String!
  price: Money!
  compareAtPrice: Money
  barcode: String
  taxable: Boolean!
  selectedOptions: [SelectedOption!]!
  inventoryItem: InventoryItem!
  product: Product!
}
type ProductVariantConnection { nodes: [ProductVariant!]! edges: [ProductVariantEdge!]! pageInfo: PageInfo! }
type ProductVariantEdge { node: ProductVariant! cursor: String! }
type ProductOptionValue { name: String! }
type ProductOption { id: ID! name: String! position: Int! optionValues: [ProductOptionValue!]! }
type Metafield { namespace: String! key: String! type: String! value: String! }
type MetafieldConnection { nodes: [Metafield!]! edges: [MetafieldEdge!]! pageInfo: PageInfo! }
type MetafieldEdge { node: Metafield! cursor: String! }

interface File { id: ID! alt: String fileStatus: FileStatus! createdAt: DateTime! }
type MediaImage implements File { id: ID! alt: String fileStatus: FileStatus! createdAt: DateTime! originalSource: String mimeType: String }
type GenericFile implements File { id: ID! alt: String fileStatus: FileStatus! createdAt: DateTime! url: URL originalSource: String mimeType: String }
type FileConnection { nodes: [File!]! edges: [FileEdge!]! pageInfo: PageInfo! }
type FileEdge { node: File! cursor: String! }

type Product {
  id: ID!
  title: String!
  handle: String!
  descriptionHtml: String!
  status: ProductStatus!
  vendor: String
  productType: String
  tags: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  options: [ProductOption!]!
  variants(first: Int, after: String): ProductVariantConnection!
  collections(first: Int, after: String): CollectionConnection!
  metafields(first: Int, after: String): MetafieldConnection!
  metafield(namespace: String!, key: String!): Metafield
  media(first: Int, after: String): FileConnection!
}
type ProductConnection { nodes: [Product!]! edges: [ProductEdge!]! pageInfo: PageInfo! }
type ProductEdge { node: Product! cursor: String! }

type Location { id: ID! name: String! isActive: Boolean! }
type Shop { currencyCode: String! }
type LocationConnection { nodes: [Location!]! edges: [LocationEdge!]! pageInfo: PageInfo! }
type LocationEdge { node: Location! cursor: String! }

type MoneyV2 { amount: Decimal! currencyCode: String! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type MailingAddress {
  firstName: String lastName: String company: String address1: String address2: String
  zip: String city: String countryCodeV2: String phone: String
}
type Customer { id: ID! email: String firstName: String lastName: String updatedAt: DateTime! }
type CustomerConnection { nodes: [Customer!]! edges: [CustomerEdge!]! pageInfo: PageInfo! }
type CustomerEdge { node: Customer! cursor: String! }
type TaxLine { priceSet: MoneyBag! rate: Float title: String! }
type LineItem {
  id: ID! sku: String name: String! quantity: Int! currentQuantity: Int!
  originalUnitPriceSet: MoneyBag!
  originalTotalSet: MoneyBag!
  discountedTotalSet: MoneyBag!
  taxLines: [TaxLine!]!
  variant: ProductVariant
}
type LineItemConnection { nodes: [LineItem!]! edges: [LineItemEdge!]! pageInfo: PageInfo! }
type LineItemEdge { node: LineItem! cursor: String! }
type FulfillmentOrderLineItem { id: ID! sku: String remainingQuantity: Int! totalQuantity: Int! }
type FulfillmentOrderLineItemConnection { nodes: [FulfillmentOrderLineItem!]! edges: [FulfillmentOrderLineItemEdge!]! pageInfo: PageInfo! }
type FulfillmentOrderLineItemEdge { node: FulfillmentOrderLineItem! cursor: String! }
type FulfillmentOrder {
  id: ID!
  status: FulfillmentOrderStatus!
  lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
}
type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]! edges: [FulfillmentOrderEdge!]! pageInfo: PageInfo! }
type FulfillmentOrderEdge { node: FulfillmentOrder! cursor: String! }
type FulfillmentTrackingInfo { company: String number: String url: URL }
type Fulfillment { id: ID! status: String! trackingInfo: [FulfillmentTrackingInfo!]! createdAt: DateTime! }
type Order {
  id: ID!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  email: String
  currencyCode: String!
  presentmentCurrencyCode: String!
  displayFinancialStatus: String
  displayFulfillmentStatus: String!
  taxesIncluded: Boolean!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  totalDiscountsSet: MoneyBag
  totalTaxSet: MoneyBag
  currentTotalPriceSet: MoneyBag!
  currentSubtotalPriceSet: MoneyBag!
  currentShippingPriceSet: MoneyBag!
  currentTotalDiscountsSet: MoneyBag!
  currentTotalTaxSet: MoneyBag!
  totalRefundedShippingSet: MoneyBag!
  customer: Customer
  billingAddress: MailingAddress
  shippingAddress: MailingAddress
  lineItems(first: Int, after: String): LineItemConnection!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
}
type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }
type OrderEdge { node: Order! cursor: String! }

type BulkOperation {
  id: ID!
  status: BulkOperationStatus!
  type: BulkOperationType!
  errorCode: BulkOperationErrorCode
  createdAt: DateTime!
  completedAt: DateTime
  objectCount: String!
  rootObjectCount: String!
  fileSize: String
  url: URL
  partialDataUrl: URL
  query: String!
}

type QueryRoot {
  shop: Shop!
  product(id: ID!): Product
  productByIdentifier(identifier: ProductIdentifierInput!): Product
  products(first: Int, after: String, query: String, sortKey: ProductSortKeys, reverse: Boolean): ProductConnection!
  productVariant(id: ID!): ProductVariant
  productVariants(first: Int, after: String, query: String): ProductVariantConnection!
  collection(id: ID!): Collection
  collections(first: Int, after: String, query: String): CollectionConnection!
  location(id: ID): Location
  locations(first: Int, after: String, sortKey: LocationSortKeys, reverse: Boolean): LocationConnection!
  inventoryItem(id: ID!): InventoryItem
  order(id: ID!): Order
  orders(first: Int, after: String, query: String, sortKey: OrderSortKeys, reverse: Boolean): OrderConnection!
  customers(first: Int, after: String, query: String): CustomerConnection!
  files(first: Int, after: String, query: String): FileConnection!
  node(id: ID!): File
  nodes(ids: [ID!]!): [File]!
  job(id: ID!): Job
  bulkOperation(id: ID!): BulkOperation
  currentBulkOperation(type: BulkOperationType): BulkOperation
}

input ProductIdentifierInput { id: ID handle: String customId: UniqueMetafieldValueInput }
input UniqueMetafieldValueInput { namespace: String key: String! value: String! }
input ProductSetIdentifiers { id: ID handle: String customId: UniqueMetafieldValueInput }
input OptionValueSetInput { name: String id: ID }
input OptionSetInput { name: String id: ID position: Int values: [OptionValueSetInput!] }
input VariantOptionValueInput { optionName: String name: String id: ID optionId: ID }
input InventoryItemInput { sku: String tracked: Boolean cost: Decimal }
input InventoryQuantityInput { locationId: ID! name: String! quantity: Int! }
input MetafieldInput { namespace: String key: String type: String value: String! }
input FileSetInput { id: ID originalSource: String contentType: FileContentType alt: String filename: String }
input ProductVariantSetInput {
  id: ID
  sku: String
  price: Money
  compareAtPrice: Money
  barcode: String
  optionValues: [VariantOptionValueInput!]!
  inventoryItem: InventoryItemInput
  inventoryQuantities: [InventoryQuantityInput!]
  file: FileSetInput
  metafields: [MetafieldInput!]
  taxable: Boolean
}
input ProductSetInput {
  id: ID
  title: String
  handle: String
  descriptionHtml: String
  status: ProductStatus
  vendor: String
  productType: String
  tags: [String!]
  productOptions: [OptionSetInput!]
  variants: [ProductVariantSetInput!]
  collections: [ID!]
  metafields: [MetafieldInput!]
  files: [FileSetInput!]
}
type ProductSetPayload { product: Product userErrors: [UserError!]! }

input CollectionInput { id: ID title: String handle: String descriptionHtml: String metafields: [MetafieldInput!] }
type CollectionPayload { collection: Collection userErrors: [UserError!]! }
type CollectionDeletePayload { deletedCollectionId: ID userErrors: [UserError!]! }
input MetafieldIdentifierInput { ownerId: ID! namespace: String! key: String! }
type MetafieldIdentifier { ownerId: ID! namespace: String! key: String! }
type MetafieldsDeletePayload { deletedMetafields: [MetafieldIdentifier] userErrors: [UserError!]! }
type ProductDeletePayload { deletedProductId: ID userErrors: [UserError!]! }
input ProductDeleteInput { id: ID! }

input StagedUploadInput {
  resource: StagedUploadTargetGenerateUploadResource!
  filename: String!
  mimeType: String!
  httpMethod: StagedUploadHttpMethodType
  fileSize: String
}
type StagedUploadParameter { name: String! value: String! }
type StagedMediaUploadTarget { url: URL resourceUrl: URL parameters: [StagedUploadParameter!]! }
type StagedUploadsCreatePayload { stagedTargets: [StagedMediaUploadTarget!] userErrors: [UserError!]! }

input FileCreateInput { originalSource: String! contentType: FileContentType alt: String filename: String duplicateResolutionMode: FileCreateInputDuplicateResolutionMode }
type FileCreatePayload { files: [File!] userErrors: [UserError!]! }
type FileDeletePayload { deletedFileIds: [ID!] userErrors: [UserError!]! }

input InventoryChangeInput { inventoryItemId: ID! locationId: ID! quantity: Int! changeFromQuantity: Int }
input InventorySetQuantityInput { inventoryItemId: ID! locationId: ID! quantity: Int! changeFromQuantity: Int compareQuantity: Int }
input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  ignoreCompareQuantity: Boolean
  quantities: [InventorySetQuantityInput!]!
}
type InventoryAdjustmentGroup { createdAt: DateTime! reason: String! referenceDocumentUri: String changes: [InventoryChange!]! }
type InventoryChange { name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location }
type InventorySetQuantitiesPayload { inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [UserError!]! }
type InventoryActivatePayload { inventoryLevel: InventoryLevel userErrors: [UserError!]! }
input InventoryBulkToggleActivationInput { locationId: ID! activate: Boolean }
type InventoryBulkToggleActivationPayload { inventoryItem: InventoryItem inventoryLevels: [InventoryLevel!] userErrors: [UserError!]! }

input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }
input FulfillmentOrderLineItemsInput { fulfillmentOrderId: ID! fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!] }
input FulfillmentTrackingInput { company: String number: String numbers: [String!] url: URL urls: [URL!] }
input FulfillmentInput {
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
  trackingInfo: FulfillmentTrackingInput
  notifyCustomer: Boolean
}
type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }
type FulfillmentTrackingInfoUpdatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }

type BulkOperationRunMutationPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }
type BulkOperationCancelPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }
type Job { id: ID! done: Boolean! }
type OrderCancelPayload { job: Job orderCancelUserErrors: [UserError!]! userErrors: [UserError!]! }

type Mutation {
  productSet(input: ProductSetInput!, identifier: ProductSetIdentifiers, synchronous: Boolean = true): ProductSetPayload
  productDelete(input: ProductDeleteInput!): ProductDeletePayload
  collectionCreate(input: CollectionInput!): CollectionPayload
  collectionUpdate(input: CollectionInput!): CollectionPayload
  collectionDelete(input: ProductDeleteInput!): CollectionDeletePayload
  metafieldsDelete(metafields: [MetafieldIdentifierInput!]!): MetafieldsDeletePayload
  stagedUploadsCreate(input: [StagedUploadInput!]!): StagedUploadsCreatePayload
  fileCreate(files: [FileCreateInput!]!): FileCreatePayload
  fileDelete(fileIds: [ID!]!): FileDeletePayload
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  inventoryActivate(inventoryItemId: ID!, locationId: ID!, available: Int, onHand: Int): InventoryActivatePayload
  inventoryBulkToggleActivation(inventoryItemId: ID!, inventoryItemUpdates: [InventoryBulkToggleActivationInput!]!): InventoryBulkToggleActivationPayload
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
  fulfillmentTrackingInfoUpdate(fulfillmentId: ID!, trackingInfoInput: FulfillmentTrackingInput!, notifyCustomer: Boolean): FulfillmentTrackingInfoUpdatePayload
  bulkOperationRunMutation(mutation: String!, stagedUploadPath: String!, clientIdentifier: String): BulkOperationRunMutationPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
  orderCancel(orderId: ID!, reason: OrderCancelReason!, refund: Boolean, restock: Boolean!, notifyCustomer: Boolean, staffNote: String): OrderCancelPayload
}

schema { query: QueryRoot mutation: Mutation }
"""


@cache
def schema() -> GraphQLSchema:
    """
    The emulator's schema (built once).
    """
    return build_schema(SDL)
