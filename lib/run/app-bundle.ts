/**
 * The bundled app, prebuilt: app/stack.ts and the model simulator's CLI, each bundled by esbuild
 * into one CommonJS file, so that a stack starts with plain `node` on two files instead of
 * compiling some sixty TypeScript modules through tsx's loader in the app and again in the
 * simulator. On the 2-core machine a stack was ready in a median of 1.32 s against 1.75 s.
 *
 * - Where: `<checkout>/node_modules/.cache/memorychat/app-bundle/<key>/` (gone with `npm ci`).
 * - Key: every TypeScript file a bundle can hold (app/ but its tests, and contract/, the only code
 *   outside app/ that app/ may import), tsconfig.json, esbuild's and Node's versions and the
 *   checkout's path. An edit builds a new bundle at the next start (0.1–0.2 s), keyed anew.
 * - Packages stay outside the bundle (required from node_modules at run time), and `__dirname` in
 *   each app file becomes that file's own folder: what the app reads at run time (the UI, the
 *   migrations, the simulator's files) comes from the source tree, as under tsx.
 * - Safe or not at all: when esbuild reports an input the key did not hash (a JSON file, say), or
 *   anything fails, the caller gets the reason and runs the app through tsx as before.
 *
 * Compare mode bundles the base's checkout the same way, with its own key (its own path).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';

/** The two entry files of a bundle; run each with plain node (and `--enable-source-maps`). */
export interface AppBundle {
  stack: string;
  modelSimulator: string;
}

/** Bumped when what this module writes changes in a way the inputs do not show. */
const BUNDLE_FORMAT = 1;
const ENTRIES = { stack: path.join('app', 'stack.ts'), 'model-sim': path.join('app', 'model-sim', 'cli.ts') };
/** The folders a bundle's code comes from, and the folder of the app's tests (never bundled). */
const SOURCE_DIRS = ['app', 'contract'];
const TESTS_DIR = path.join('app', 'test');
/** Bundles no stack has started from for this long are removed when a new one is built. */
const STALE_MS = 24 * 3600 * 1000;
const STAGING_STALE_MS = 3600 * 1000;

export function appBundleCacheDir(cwd: string): string {
  return path.join(cwd, 'node_modules', '.cache', 'memorychat', 'app-bundle');
}

/** The TypeScript files a bundle of this checkout can contain, relative to it, sorted. */
function sourceFiles(cwd: string): string[] {
  const files: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(cwd, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory() && child !== TESTS_DIR) walk(child);
      else if (entry.isFile() && entry.name.endsWith('.ts')) files.push(child);
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(path.join(cwd, dir))) walk(dir);
  return files.sort();
}

function esbuildVersion(): string {
  return (JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')) as { version: string }).version;
}

function bundleKey(cwd: string, files: string[]): string {
  const hash = createHash('sha256').update(`${BUNDLE_FORMAT}\0${esbuildVersion()}\0${process.versions.node}\0${cwd}\0`);
  for (const file of [...files, 'tsconfig.json']) {
    const full = path.join(cwd, file);
    hash
      .update(`${file}\0`)
      .update(existsSync(full) ? readFileSync(full) : '(none)')
      .update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function bundleIn(dir: string): AppBundle | undefined {
  const bundle = { stack: path.join(dir, 'stack.cjs'), modelSimulator: path.join(dir, 'model-sim.cjs') };
  return existsSync(bundle.stack) && existsSync(bundle.modelSimulator) ? bundle : undefined;
}

/**
 * This checkout's app bundle, built now when its sources have none yet. Throws with the reason
 * when it cannot be built or used; the caller then runs app/stack.ts through tsx.
 */
export async function prepareAppBundle(cwd: string, log: (line: string) => void = () => undefined): Promise<AppBundle> {
  const root = path.resolve(cwd);
  const files = sourceFiles(root);
  for (const entry of Object.values(ENTRIES))
    if (!files.includes(entry)) throw new Error(`${entry} not found in ${root}`);
  const cacheDir = appBundleCacheDir(root);
  const dir = path.join(cacheDir, bundleKey(root, files));
  const cached = bundleIn(dir);
  if (cached) {
    touch(dir);
    return cached;
  }

  const t0 = performance.now();
  mkdirSync(cacheDir, { recursive: true });
  const staging = path.join(cacheDir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await build(root, files, staging);
    try {
      renameSync(staging, dir);
    } catch (err) {
      // Another stack of this checkout built the same sources first: theirs is as good.
      if (!bundleIn(dir)) throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  log(`app bundle built in ${Math.round(performance.now() - t0)} ms: ${path.relative(root, dir)}`);
  removeStale(cacheDir, path.basename(dir));
  const built = bundleIn(dir);
  if (!built) throw new Error(`the app bundle in ${dir} is incomplete`);
  return built;
}

async function build(root: string, files: string[], outdir: string): Promise<void> {
  // Loaded only to build: a start that finds its bundle never pays for esbuild's module.
  const esbuild = await import('esbuild');
  const sources = new Set(files.map((f) => path.join(root, f)));
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    outdir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    packages: 'external',
    // Names as in the source (an error's class name, a function's name), not esbuild's renames.
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'own-dirname',
        setup(b) {
          // Each file's __dirname is its own folder in the source tree, not the bundle's.
          b.onLoad({ filter: /\.ts$/ }, (args) => ({
            contents: readFileSync(args.path, 'utf8').replace(
              /\b__dirname\b/g,
              JSON.stringify(path.dirname(args.path)),
            ),
            loader: 'ts',
          }));
        },
      },
    ],
  });
  const unhashed = Object.keys(result.metafile.inputs)
    .map((input) => path.resolve(root, input))
    .filter((input) => !sources.has(input));
  if (unhashed.length > 0)
    throw new Error(`the bundle would hold files its key does not cover: ${unhashed.slice(0, 3).join(', ')}`);
}

/** Marks a bundle as used now (removeStale goes by the folder's time). */
function touch(dir: string): void {
  try {
    const now = new Date();
    utimesSync(dir, now, now);
  } catch {
    // Not ours to change (a read-only cache): it is only kept a day less.
  }
}

/**
 * Bundles of other sources that no stack has started from for a day, and staging folders an hour
 * old (a build takes a fraction of a second: its process was killed).
 */
function removeStale(cacheDir: string, keep: string): void {
  for (const name of readdirSync(cacheDir)) {
    if (name === keep) continue;
    const dir = path.join(cacheDir, name);
    const maxAgeMs = name.startsWith('.staging-') ? STAGING_STALE_MS : STALE_MS;
    try {
      if (Date.now() - statSync(dir).mtimeMs > maxAgeMs) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Removed by another start meanwhile.
    }
  }
}
