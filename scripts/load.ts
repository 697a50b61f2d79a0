/**
 * `npm run load`: how many people can chat at once (load/orchestrate.ts; README "Load").
 * Configuration (.env included) is read by lib/config.ts and load/config.ts.
 */
import { runLoad } from '../load/orchestrate';

runLoad().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
