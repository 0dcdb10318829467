import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { KeyRing } from './key-ring.ts';

declare module 'fastify' {
  interface FastifyInstance {
    keys: KeyRing;
    /** Reloads the receipt key file now (before publishing the key set). */
    refreshKeys: () => Promise<void>;
  }
}

export interface KeysPluginOptions {
  keyRing?: KeyRing;
}

/** How often every process checks the receipt key file for a rotation made elsewhere. */
const KEY_REFRESH_MS = 1000;

/**
 * `app.keys`: the receipt and checkpoint keys, reloaded when another process rotates them. The
 * routes that publish and rotate them are in routes/keys/.
 */
async function keysPlugin(app: FastifyInstance, opts: KeysPluginOptions): Promise<void> {
  const ring =
    opts.keyRing ??
    (await KeyRing.load(app.config.keysDir, {
      logOrigin: app.config.logOrigin,
      suite: app.config.cryptoSuite,
      signingThread: app.config.receiptSigningThread,
    }));
  app.decorate('keys', ring);
  // Other processes may rotate the receipt key (the CLI on the files, a sibling API worker through
  // the admin route): pick up their change within a second, and before publishing the key set.
  const refresh = () =>
    ring.refresh().then(
      (changed) => changed && app.log.info({ kid: ring.receiptSigner.kid }, 'receipt keys reloaded'),
      (err: Error) => app.log.warn({ reason: err.message }, 'receipt key file not reloaded'),
    );
  app.decorate('refreshKeys', async () => {
    await refresh();
  });
  const watcher = setInterval(refresh, KEY_REFRESH_MS);
  watcher.unref();
  app.addHook('onClose', async () => clearInterval(watcher));
}

export default fp(keysPlugin, { name: 'keys', dependencies: ['config'], fastify: '5.x' });
