/**
 * The one door from the suite's own tests into the reference app. The seeding, cleanup and
 * test-database tests need a real, migrated PostgreSQL and the bundled stack in-process; they get
 * them here and nowhere else (eslint.config.mjs allows this file, and only this one, to import app/).
 * The runner itself never comes through here: it spawns app/stack.ts (lib/stack-process.ts).
 */
export { Db } from '../../app/db/db';
export { startEmbeddedPostgres, type EmbeddedDb } from '../../app/db/embedded';
export { migrate } from '../../app/db/migrate';
export { startStack } from '../../app/stack';
