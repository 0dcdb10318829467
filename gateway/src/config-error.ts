/**
 * A setting that cannot be used, named by its environment variable. Kept apart from config.ts so
 * the parts that parse their own settings (anchor/, witness/, webhooks/) can throw it without
 * importing the whole configuration, which imports them.
 */
export class ConfigError extends Error {
  readonly code = 'BAD_CONFIG';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}
