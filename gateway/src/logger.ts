import type { LoggerOptions } from 'pino';
import type { Config } from './config.ts';

/**
 * Paths pino censors in every log line: credentials in request headers, and any field that could
 * hold a token, an API key or private key material, at the top level or one level down.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  ...[
    'token',
    'apiKey',
    'api_key',
    'key',
    'privateKey',
    'private_key',
    'password',
    'secret',
    'seed',
    'jwk',
    'd',
  ].flatMap((k) => [k, `*.${k}`]),
];

export function loggerOptions(config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // The pid tells apart the processes of one gateway (API_WORKERS, GATEWAY_ROLE) in one stream.
    base: { service: 'lianzheng-gateway', pid: process.pid },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}
