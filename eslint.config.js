// Lint rules, including the one-way dependency direction of DESIGN.md:
// cli -> monitor | keeper | supervisor -> monitor-api | fsm | postgres | config -> common
// (monitor-api, the one door to the monitor's SQL, may use fsm and common only).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import noImportCycle from './scripts/eslint-no-import-cycle.mjs';

const layer = (dir, forbidden) => ({
  files: [`src/${dir}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({
        group: [`**/${f}/*`, `**/${f}/**`],
        message: `src/${dir} must not import from src/${f} (see DESIGN.md dependency direction)`,
      })),
    }],
  },
});

// Monitor SQL (anything naming the pgautofailover schema) lives in
// src/monitor-api only; the migrations and the monitor's creation are the
// schema's owners.
const MONITOR_SQL = String.raw`/\bpgautofailover\./`;
const monitorSqlOnlyInApi = {
  files: ['src/**/*.ts'],
  ignores: [
    'src/monitor-api/**',
    'src/monitor/schema.ts',
    'src/monitor/create-monitor.ts',
  ],
  rules: {
    'no-restricted-syntax': ['error',
      { selector: `Literal[value=${MONITOR_SQL}]`, message: 'Monitor SQL belongs in src/monitor-api: add a typed call there' },
      { selector: `TemplateElement[value.raw=${MONITOR_SQL}]`, message: 'Monitor SQL belongs in src/monitor-api: add a typed call there' },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-check/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  layer('common', ['cli', 'monitor', 'monitor-api', 'keeper', 'supervisor', 'fsm', 'postgres', 'config']),
  layer('fsm', ['cli', 'monitor', 'monitor-api', 'keeper', 'supervisor', 'postgres', 'config']),
  layer('postgres', ['cli', 'monitor', 'monitor-api', 'keeper', 'supervisor', 'fsm']),
  layer('config', ['cli', 'monitor', 'monitor-api', 'keeper', 'supervisor', 'fsm', 'postgres']),
  layer('monitor-api', ['cli', 'monitor', 'keeper', 'supervisor', 'postgres', 'config']),
  layer('monitor', ['cli', 'keeper', 'supervisor']),
  {
    files: ['src/keeper/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/cli/*', '**/cli/**', '**/supervisor/*', '**/supervisor/**'], message: 'src/keeper must not import from src/cli or src/supervisor' },
          { group: ['**/monitor/*', '**/monitor/**'], message: 'src/keeper talks to the monitor only through src/monitor-api' },
        ],
      }],
    },
  },
  layer('supervisor', ['cli', 'keeper', 'monitor']),
  monitorSqlOnlyInApi,
  {
    files: ['src/fsm/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'pg', 'node:crypto'].map((name) => ({
          name, message: 'src/fsm is pure: no I/O, no clock, no randomness',
        })),
        patterns: [{ group: ['**/cli/**', '**/monitor/**', '**/monitor-api/**', '**/keeper/**', '**/supervisor/**', '**/postgres/**', '**/config/**'], message: 'src/fsm imports nothing that does I/O' }],
      }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'src/fsm takes time as a parameter' },
        { object: 'Math', property: 'random', message: 'src/fsm takes randomness as a parameter' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { local: noImportCycle },
    rules: { 'local/no-import-cycle': 'error' },
  },
  {
    // Command handlers return data and renderings return strings; only
    // src/cli/program.ts prints them and sets the exit code (src/cli/command.ts).
    files: ['src/cli/commands/**/*.ts', 'src/cli/render/**/*.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': ['error',
        { object: 'process', property: 'stdout', message: 'return data from the handler; src/cli/program.ts prints it' },
        { object: 'process', property: 'exitCode', message: 'return a status or throw an AutoctlError; src/cli/program.ts sets exit codes' },
        { object: 'process', property: 'exit', message: 'return a status or throw an AutoctlError; src/cli/program.ts sets exit codes' }],
    },
  },
);
