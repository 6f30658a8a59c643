// Lint and layout in one ESLint pass: `npm run lint` checks, `npm run format` applies the layout fixes.
// Why these rules, and why ESLint Stylistic rather than prettier: docs/decisions.md, "Lint and format".
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import stylistic from '@stylistic/eslint-plugin';
import globals from 'globals';

/**
 * The house layout as it already is (2 spaces, single quotes, semicolons, trailing commas on multi-line
 * lists). Whitespace and punctuation only: no line-length or wrapping rule, because the code packs short
 * fields on long lines on purpose and a reflow would cost hundreds of lines (docs/decisions.md).
 */
const layout = {
  '@stylistic/indent': ['error', 2, { SwitchCase: 1, flatTernaryExpressions: true, offsetTernaryExpressions: true }],
  '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
  '@stylistic/semi': ['error', 'always'],
  '@stylistic/comma-dangle': ['error', 'always-multiline'],
  '@stylistic/operator-linebreak': ['error', 'before', { overrides: { '=': 'after' } }],
  '@stylistic/brace-style': ['error', '1tbs', { allowSingleLine: true }],
  '@stylistic/arrow-parens': ['error', 'always'],
  '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
  '@stylistic/spaced-comment': ['error', 'always', { markers: ['/'] }],
  '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxBOF: 0, maxEOF: 0 }],
  '@stylistic/padded-blocks': ['error', 'never'],
  '@stylistic/dot-location': ['error', 'property'],
  '@stylistic/quote-props': ['error', 'as-needed'],
  '@stylistic/generator-star-spacing': ['error', 'after'],
  '@stylistic/yield-star-spacing': ['error', 'after'],
  ...Object.fromEntries([
    'arrow-spacing', 'block-spacing', 'comma-spacing', 'comma-style', 'computed-property-spacing', 'eol-last',
    'function-call-spacing', 'key-spacing', 'keyword-spacing', 'member-delimiter-style', 'new-parens', 'no-extra-semi',
    'no-floating-decimal', 'no-mixed-spaces-and-tabs', 'no-multi-spaces', 'no-tabs', 'no-trailing-spaces',
    'no-whitespace-before-property', 'rest-spread-spacing', 'semi-spacing', 'space-before-blocks', 'space-in-parens',
    'space-infix-ops', 'space-unary-ops', 'switch-colon-spacing', 'template-curly-spacing', 'template-tag-spacing',
    'type-annotation-spacing', 'type-generic-spacing', 'type-named-tuple-spacing',
  ].map((rule) => [`@stylistic/${rule}`, 'error'])),
};

/** Unused names are errors; a leading underscore marks one kept on purpose (a positional parameter). */
const unusedVars = ['error', {
  argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true,
}];

export default tseslint.config(
  { ignores: ['node_modules/', 'test-artifacts/', 'dist/', '**/*.d.ts'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },

  js.configs.recommended,
  { plugins: { '@stylistic': stylistic }, rules: {
    ...layout,
    'no-unused-vars': unusedVars,
    // A timer handle declared before the closures that clear it, then set once: `let` is the honest form.
    'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
  } },

  // TypeScript, type-aware: each file against its nearest tsconfig (loadtest/k6 has its own, for k6's runtime).
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // The promise rules are the point of type-aware linting here: a promise nobody awaits loses its error.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': unusedVars,
      // Off: an async function without await is how an interface's async method is met, and it turns a
      // synchronous throw into a rejection, which callers rely on.
      '@typescript-eslint/require-await': 'off',
    },
  },

  // Tests and load-test tooling read loosely typed payloads (`await res.json()`, socket frames) and then
  // assert on them: the `any` family would be noise there; production code keeps it.
  {
    files: ['**/*.test.ts', 'tests/**', 'loadtest/**', '**/*-test-support.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // String(data) of a ws message or k6 body: a Buffer or a string in these tools, never a plain object.
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },

  // The browser pages: plain scripts, no types; the proof-of-work runs in a Worker.
  { files: ['gateway/pages/*.js'], languageOptions: { globals: globals.browser } },
  { files: ['gateway/pages/pow-worker.js'], languageOptions: { globals: globals.worker } },
  // Node scripts: the load tools' worker entries, the k6 shim's loader hooks, this file.
  { files: ['**/*.mjs', 'eslint.config.js'], languageOptions: { globals: globals.node } },
);
