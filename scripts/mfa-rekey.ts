// After a rotation of MFA_ENCRYPTION_KEY (the new key first, the old ones after it): seals every
// TOTP secret again under the new key, so that the old keys can be removed from the setting.
// Secrets are also sealed again one by one at their next use; this does all of them at once.
// Usage: MFA_ENCRYPTION_KEY=new,old npm run mfa:rekey   (with the service's DATABASE_URL or DATA_DIR)
import { buildApp } from '../src/app.js'
import { loadConfig, loadEnvFile } from '../plugins/app/config/index.js'

loadEnvFile()
const app = await buildApp(loadConfig(), {})
try {
  const count = await app.mfa.rekey()
  console.log(`sealed again under the first MFA_ENCRYPTION_KEY: ${count} TOTP secret${count === 1 ? '' : 's'}; the other keys can now be removed`)
} finally {
  await app.close()
}
