'use strict';
/*
 * Minimal Vendure 3.7 configuration for the ecomsync Vendure adapter tests
 * (started by scripts/vendure/vendure.sh).
 * Plain CommonJS: no TypeScript build step needed.
 *
 * Environment variables (all optional):
 *   VENDURE_HOST          default 127.0.0.1
 *   VENDURE_PORT          default 3917
 *   VENDURE_DATA_DIR      default <this dir>/data   (SQLite file + uploaded assets)
 *   VENDURE_SUPERADMIN    default superadmin        (identifier, only used when the DB is created)
 *   VENDURE_SUPERADMIN_PW default superadmin
 *   VENDURE_SEARCH        default 1 (vendure.sh sets 0) (0 = leave out DefaultSearchPlugin -> faster writes, no `search` query)
 *   VENDURE_LOG           default info (error|warn|info|verbose|debug)
 *   VENDURE_JOB_POLL_MS   default 10   (job queue poll interval; Vendure's default is 200)
 *   VENDURE_JOB_CONCURRENCY default 1  (must stay 1 on SQLite)
 *   VENDURE_BODY_LIMIT    default 20mb (JSON request body limit; express default is 100kb)
 */
const path = require('path');
const fs = require('fs');
const {
    DefaultLogger,
    LogLevel,
    DefaultSearchPlugin,
    dummyPaymentHandler,
} = require('@vendure/core');
const { AssetServerPlugin } = require('@vendure/asset-server-plugin');
const express = require('express');
// Not re-exported from the package index; it is Vendure's default job queue strategy.
const { InMemoryJobQueueStrategy } = require('@vendure/core/dist/job-queue/in-memory-job-queue-strategy');

const host = process.env.VENDURE_HOST || '127.0.0.1';
const port = Number(process.env.VENDURE_PORT || 3917);
const dataDir = path.resolve(process.env.VENDURE_DATA_DIR || path.join(__dirname, 'data'));
const dbFile = path.join(dataDir, 'vendure.sqlite');
const assetDir = path.join(dataDir, 'assets');
fs.mkdirSync(assetDir, { recursive: true });

// Initial data is populated by index.js whenever the DB has no countries yet; a new SQLite
// file gets its schema from TypeORM synchronize.
const freshDb = !fs.existsSync(dbFile);
const logLevelName = (process.env.VENDURE_LOG || 'info').toLowerCase();
const logLevel = {
    error: LogLevel.Error,
    warn: LogLevel.Warn,
    info: LogLevel.Info,
    verbose: LogLevel.Verbose,
    debug: LogLevel.Debug,
}[logLevelName] ?? LogLevel.Info;

const plugins = [
    AssetServerPlugin.init({
        route: 'assets',
        assetUploadDir: assetDir,
        assetUrlPrefix: `http://${host}:${port}/assets/`,
    }),
];
if (process.env.VENDURE_SEARCH !== '0') {
    plugins.push(DefaultSearchPlugin.init({ bufferUpdates: false, indexStockStatus: true }));
}

function makeJobQueueStrategy() {
    const strategy = new InMemoryJobQueueStrategy({
        concurrency: Number(process.env.VENDURE_JOB_CONCURRENCY || 1),   // keep 1 on SQLite
        pollInterval: Number(process.env.VENDURE_JOB_POLL_MS || 10),
    });
    strategy.evictJobsAfterMs = 60 * 1000;
    return strategy;
}

/** @type {import('@vendure/core').VendureConfig} */
const config = {
    apiOptions: {
        hostname: host,
        port,
        adminApiPath: 'admin-api',
        shopApiPath: 'shop-api',
        // max `take` of Admin API list queries (this is Vendure's default; the Shop API's is 100)
        adminListQueryLimit: 1000,
        // express.json's default limit is 100 kB: updateProductVariants with ~3000 items failed with
        // HTTP 500 "request entity too large". Replace the global JSON parser (documented pattern).
        middleware: [{
            handler: express.json({ limit: process.env.VENDURE_BODY_LIMIT || '20mb' }),
            route: '/',
            beforeListen: true,
        }],
    },
    authOptions: {
        // 'bearer' -> login returns the session token in the `vendure-auth-token` response header;
        // 'cookie' kept too so browsers work; 'api-key' enables the `vendure-api-key` header (createApiKey).
        tokenMethod: ['bearer', 'cookie', 'api-key'],
        superadminCredentials: {
            identifier: process.env.VENDURE_SUPERADMIN || 'superadmin',
            password: process.env.VENDURE_SUPERADMIN_PW || 'superadmin',
        },
        cookieOptions: { secret: 'ecomsync-test-cookie-secret' },
        requireVerification: false,
    },
    dbConnectionOptions: {
        type: 'better-sqlite3',
        database: dbFile,
        // A fresh DB file gets its schema from TypeORM's synchronize; an existing one is left alone
        // (set VENDURE_SYNCHRONIZE=1 to force a schema sync, e.g. after a Vendure upgrade).
        synchronize: freshDb || process.env.VENDURE_SYNCHRONIZE === '1',
        migrations: [],
        logging: false,
        enableWAL: true,
    },
    paymentOptions: {
        paymentMethodHandlers: [dummyPaymentHandler],
    },
    // Jobs (search indexing, collection-filter application) run inside the server process
    // (index.js starts the queue): no worker process, no job table on SQLite.
    // Vendure's default InMemoryJobQueueStrategy polls every 200 ms and takes ONE job per poll
    // (concurrency 1) => at most 5 jobs/s per queue; bulk imports trigger ~4 search-index jobs per
    // article, so the backlog grew to hours and RSS to >1.5 GB. Poll faster and evict finished jobs
    // after 1 min (default: kept 2 h). Concurrency stays 1: TypeORM's SQLite drivers share one
    // connection and cannot run concurrent transactions.
    jobQueueOptions: { jobQueueStrategy: makeJobQueueStrategy() },
    logger: new DefaultLogger({ level: logLevel }),
    plugins,
};

module.exports = { config, dbFile, dataDir, freshDb, host, port };
