/**
 * Entry point: read the settings (one line and exit 2 when one is bad),
 * prepare the files folder, then run the chosen mode.
 */
// --- isolation: must stay the first import (sizes libuv's pool before its first use; docs/isolation.md) ---
import './volumes/threadpool';
// ---
import cluster from 'node:cluster';
import fs from 'node:fs';
import { runPrimary } from './cluster/primary';
import { runWorker } from './cluster/worker';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './log';
import { createSampleRoot } from './sample';
import { serve } from './serve';

function fail(message: string): never {
  process.stderr.write(`rangeserve: ${message}\n`);
  process.exit(2);
}

async function prepareRoot(config: Config): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(config.filesRoot);
  } catch {
    if (!config.filesRootIsDefault) fail(`invalid setting FILES_ROOT=${JSON.stringify(config.filesRoot)}: folder does not exist`);
    await createSampleRoot(config.filesRoot);
    return;
  }
  if (!st.isDirectory()) fail(`invalid setting FILES_ROOT=${JSON.stringify(config.filesRoot)}: not a folder`);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (config.mode === 'cluster' && !cluster.isPrimary) {
    // The primary has prepared the root already.
    await runWorker(config, createLogger(config.logLevel, { role: 'worker' }));
    return;
  }
  await prepareRoot(config);
  if (config.mode === 'cluster') {
    await runPrimary(config, createLogger(config.logLevel, { role: 'primary' }));
    return;
  }
  const log = createLogger(config.logLevel);
  const running = await serve(config, log);
  const shutdown = (signal: string): void => {
    log.info({ signal, inFlight: running.inFlight() }, 'stopping');
    void running.stop(config.shutdownGraceMs).then((cut) => {
      log.info({ cut }, 'stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err));
});
