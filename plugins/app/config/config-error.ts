/** A setting that is missing or wrong: the process stops with this message, which names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}
