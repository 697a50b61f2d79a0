// ESLint flat config: typescript-eslint's type-checked rules for all TypeScript,
// plain recommended rules (browser globals) for the chat UI's JavaScript.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import playwright from 'eslint-plugin-playwright';

// The boundary: the suite measures anyone's MemoryChat, so it reaches the app only through
// contract/ (and, to start the bundled stack, spawns app/stack.ts by a path string, not an import);
// app/ knows nothing of the suite. Imports are relative, so what `../` means depends on how deep
// a file sits: one rule per folder depth. No file of the suite is exempt: its own database-level
// unit tests spawn the stack too (test/support/stack.ts).
const SUITE_MESSAGE = 'The suite must not import app/: use contract/ or the target adapter (clients/target/).';
const APP_MESSAGE = 'app/ must not import the suite (or anything outside app/ but contract/).';
const LIB_MESSAGE = 'lib/ is given the checks and limits by its callers: it must not import perf.thresholds.ts.';
function boundaryRules(maxDepth = 5) {
  const configs = [];
  for (let depth = 1; depth <= maxDepth; depth++) {
    const dir = Array(depth - 1)
      .fill('*')
      .join('/');
    const here = dir ? `${dir}/` : '';
    const up = '(\\.\\./)'.repeat(depth - 1);
    configs.push({
      files: [`${here}*.ts`, `${here}*.mjs`],
      ignores: ['app/**'],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [{ regex: `^${depth === 1 ? '(\\./)?' : up}app(/|$)`, message: SUITE_MESSAGE }],
          },
        ],
      },
    });
    if (depth === 1) continue;
    // A file in app/ at this depth leaves app/ with depth-1 `../`; only contract/ lies out there.
    const appUp = '(\\.\\./)'.repeat(depth - 1);
    configs.push({
      files: [
        `app/${Array(depth - 2)
          .fill('*')
          .concat('*.ts')
          .join('/')}`,
        `app/${Array(depth - 2)
          .fill('*')
          .concat('*.js')
          .join('/')}`,
      ],
      rules: {
        'no-restricted-imports': [
          'error',
          { patterns: [{ regex: `^${appUp}(?!contract(/|$))`, message: APP_MESSAGE }] },
        ],
      },
    });
  }
  // Dependencies one way: lib/ (statistics, the checkpoint's evaluation, reports) is given the
  // checks and their limits by its callers and never imports perf.thresholds.ts. A later config
  // replaces the rule for these files, so it repeats the app boundary.
  for (const [files, up] of [
    ['lib/*.ts', '(\\.\\./)'],
    ['lib/*/*.ts', '(\\.\\./){2}'],
  ]) {
    configs.push({
      files: [files],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              { regex: `^${up}app(/|$)`, message: SUITE_MESSAGE },
              { regex: `^${up}perf\\.thresholds$`, message: LIB_MESSAGE },
            ],
          },
        ],
      },
    });
  }
  return configs;
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'reports/**',
      'test-results/**',
      'blob-report/**',
      'playwright-report/**',
      'load/dist/**',
    ],
  },
  js.configs.recommended,
  {
    // Prettier wraps code at 120 but neither comments nor string, template or regex literals: every
    // line stays within 120 characters, no exemptions. Split a long message into '…' + '…' pieces
    // at word boundaries (the string stays the same) or name a part of it.
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    rules: {
      'max-len': ['error', { code: 120 }],
    },
  },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      // Playwright fixtures destructure `{}` by convention.
      'no-empty-pattern': 'off',
    },
  },
  ...boundaryRules(),
  // Playwright's recommended rules for the specs (and their helpers, which call expect too).
  {
    ...playwright.configs['flat/recommended'],
    files: ['e2e/**/*.ts'],
    rules: {
      ...playwright.configs['flat/recommended'].rules,
      // A measuring test asserts through the recorder: every sample it records is judged by the
      // checks of perf.thresholds.ts, and the Checkpoint 7.4 entry fails with them.
      'playwright/expect-expect': [
        'warn',
        {
          assertFunctionNames: ['repeat', 'measure', 'measureServerTiming', 'record', 'comparePaired', 'expectPairs'],
        },
      ],
      // Measurement turns a missing value into a failed sample with its cause (record or
      // recordError), and stays within the test's time budget: such branches are the honest path,
      // not a test that might not assert.
      'playwright/no-conditional-in-test': 'off',
    },
  },
  // Specs read as checklists: a test body is its steps, each a call to a named helper; derived
  // figures and accumulators live in e2e/helpers/ or lib/.
  { files: ['e2e/**/*.spec.ts'], rules: { 'max-lines-per-function': ['error', { max: 60 }] } },
  {
    files: ['app/ui/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        localStorage: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        console: 'readonly',
        requestAnimationFrame: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        HTMLElement: 'readonly',
        location: 'readonly',
      },
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
