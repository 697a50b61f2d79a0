/**
 * The database schema version the suite expects (`max(version)` of `schema_migrations`, also
 * reported by `GET /api/health`). The reference app's migrations must end at this version
 * (app/test/api-contract.test.ts checks it); raise it together with a new migration.
 */
export const SCHEMA_VERSION = 6;
