// Lint: the Fastify ecosystem's own style (neostandard, as Fastify's repositories use), with its
// TypeScript rules. `npm run lint`; .ci/run runs it.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'data/**', 'plugins/external/prisma/generated/**', 'bench/results/**', 'coverage/**', '.tap/**'] }),
  {
    // The account pages' scripts run in the browser (plain ES modules, no build step).
    files: ['src/routes/account/pages/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['window', 'document', 'location', 'history', 'navigator', 'atob', 'BroadcastChannel', 'FormData', 'Headers', 'performance', 'PublicKeyCredential', 'Blob', 'URL'].map((name) => [name, 'readonly']))
    }
  },
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (mail after the answer, a close).
      'no-void': ['error', { allowAsStatement: true }],
      // The HTTP contract's field names are snake_case (DRF's); handlers destructure them as named.
      camelcase: ['error', { properties: 'never', allow: ['^first_name$', '^last_name$', '^old_password$', '^new_password[12]$', '^except_current$'] }]
    }
  }
]
