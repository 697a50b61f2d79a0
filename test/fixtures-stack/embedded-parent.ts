/**
 * A throw-away owner of an embedded PostgreSQL for test/unit/stack-lifetime.test.ts: starts it
 * (as unit tests and benchmarks do), prints `DATA_DIR=<dir>` and `POSTMASTER_PID=<pid>`, then
 * idles until the test SIGKILLs it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../app/db/embedded';

startEmbeddedPostgres(() => undefined).then(
  (db) => {
    const pid = readFileSync(path.join(db.dataDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0];
    process.stdout.write(`DATA_DIR=${db.dataDir}\nPOSTMASTER_PID=${pid}\n`);
    setInterval(() => undefined, 60_000);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
