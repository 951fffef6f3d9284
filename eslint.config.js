// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const kubernetesCode = {
  group: ['@kubernetes/client-node', '**/kube/**', '**/runtime/**', '**/controllers/**'],
  message:
    'vulndb, registry and scanner work with no cluster: they must not import Kubernetes code.',
};
const entryPoints = {
  group: ['**/cli/**'],
  message: 'Nothing imports the CLI entry points.',
};
const controllers = {
  group: ['**/controllers/**'],
  message: 'Only the CLI entry points import controllers.',
};
const clusterLayers = {
  group: ['@kubernetes/client-node', '**/kube/**', '**/runtime/**'],
  message:
    'The pure rules decide from facts, configuration and a clock: they must not import kube or runtime.',
};

// Size and shape limits for product code. A function that must stay longer or more branched
// carries an eslint-disable-next-line comment with its reason beside it.
const shapeLimits = {
  complexity: ['error', 25],
  'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
  'max-params': ['error', 5],
};

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'coverage/', '.tools/', 'crds/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: {
          allowDefaultProject: ['eslint.config.js'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: shapeLimits,
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/controllers/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [entryPoints, controllers] }] },
  },
  {
    files: [
      'src/coverage/**/*.ts',
      'src/findings/**/*.ts',
      'src/assessments/**/*.ts',
      'src/findings-store/selectors.ts',
    ],
    rules: {
      'no-restricted-imports': ['error', { patterns: [clusterLayers, controllers, entryPoints] }],
    },
  },
  {
    files: ['src/controllers/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [entryPoints] }] },
  },
  {
    // The metrics-page test sets up every controller, as the controller command does, to list
    // what the process registers.
    files: ['src/metrics/metrics-doc.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [entryPoints] }] },
  },
  {
    files: ['src/vulndb/**/*.ts', 'src/registry/**/*.ts', 'src/scanner/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [kubernetesCode, entryPoints] }] },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  prettier,
);
