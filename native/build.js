#!/usr/bin/env node
// native/build.js: build the optional rangeserve_native addon, offline, and never fail.
//
// Run by the root package.json "install" script (and by `npm rebuild`). It builds
// native/build/Release/rangeserve_native.node with the node-gyp package, pointing
// node-gyp at the headers that ship with this Node (`--nodedir`) so that no header
// download is ever attempted and the deprecated npmrc `nodedir` key is not needed.
//
// Whatever goes wrong (opted out, not Linux, no compiler, no headers, compile
// error), it prints ONE line to stderr, writes the reason to
// native/build/skip-reason.txt, removes any stale binary, and exits 0: the server
// then runs without hints (app/native/addon.ts reports why). On success it prints
// one line to stdout and removes skip-reason.txt. The full node-gyp output is kept
// in native/build/build.log either way.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const NATIVE_DIR = __dirname;
const BUILD_DIR = path.join(NATIVE_DIR, 'build');
const BINARY = path.join(BUILD_DIR, 'Release', 'rangeserve_native.node');
const SKIP_FILE = path.join(BUILD_DIR, 'skip-reason.txt');
const LOG_FILE = path.join(BUILD_DIR, 'build.log');
const BUILD_TIMEOUT_MS = 10 * 60 * 1000;
const PREFIX = 'rangeserve: native addon';

/** skip records why the addon was not built, reports it on one line, and exits 0. */
function skip(reason, log) {
  const oneLine = String(reason).replace(/\s+/g, ' ').trim();
  try {
    // node-gyp's own `rebuild` starts with a clean, so after a failed compile no
    // binary is left; do the same for the early exits so the loader never picks
    // up a stale binary from an earlier install.
    fs.rmSync(BUILD_DIR, { recursive: true, force: true });
    fs.mkdirSync(BUILD_DIR, { recursive: true });
    fs.writeFileSync(SKIP_FILE, oneLine + '\n');
    if (log) fs.writeFileSync(LOG_FILE, log);
  } catch {
    // The one-line report below is what matters; a read-only tree must not fail install.
  }
  process.stderr.write(`${PREFIX} not built (hints disabled): ${oneLine}\n`);
  process.exit(0);
}

/** onPath returns true when `cmd` (a bare name or a path) is an executable file. */
function onPath(cmd) {
  if (cmd.includes('/')) return isExecutable(cmd);
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  return dirs.some((dir) => isExecutable(path.join(dir, cmd)));
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * findNodeDir returns a directory holding include/node/node_api.h for this Node,
 * without touching the network: the installation prefix of the running node
 * binary first (/usr for Debian's nodejs, the tarball root for official builds),
 * then an explicit npm_config_nodedir, then node-gyp's header cache.
 */
function findNodeDir() {
  const candidates = [path.dirname(path.dirname(process.execPath))];
  if (process.env.npm_config_nodedir) candidates.push(process.env.npm_config_nodedir);
  const home = process.env.HOME || '';
  const cacheRoot = process.env.XDG_CACHE_HOME || (home && path.join(home, '.cache'));
  if (cacheRoot) candidates.push(path.join(cacheRoot, 'node-gyp', process.versions.node));
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
}

/** lastErrorLine picks the most telling line of a failed node-gyp run for the one-line report. */
function lastErrorLine(output) {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const patterns = [
    /fatal error|: error:/i, // the compiler's own diagnosis
    /not found|No such file|command not found/i, // a missing tool
    /^gyp ERR! (stack )?Error:/, // node-gyp's summary ("`make` failed with exit code: 2")
    /^make: \*\*\*/,
  ];
  for (const pattern of patterns) {
    const hit = lines.find((l) => pattern.test(l));
    if (hit) return hit.replace(/^gyp ERR!\s*(stack\s*)?/, '');
  }
  return lines.slice(-1)[0] || 'no output';
}

function main() {
  const setting = (process.env.RANGESERVE_ADDON || '').toLowerCase();
  if (setting === 'off' || setting === '0' || setting === 'false') {
    skip('disabled by RANGESERVE_ADDON=off');
  }
  if (process.platform !== 'linux') {
    skip(`hints need Linux (platform is ${process.platform})`);
  }

  let nodeGyp;
  try {
    nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [NATIVE_DIR, path.dirname(NATIVE_DIR)] });
  } catch {
    skip('the node-gyp package is not installed');
  }
  try {
    require.resolve('node-addon-api', { paths: [NATIVE_DIR, path.dirname(NATIVE_DIR)] });
  } catch {
    skip('the node-addon-api package is not installed');
  }

  const cxx = process.env.CXX || 'g++';
  if (!onPath(cxx)) skip(`no C++ compiler (${cxx} not found on PATH; set CXX to use another)`);
  if (!onPath('make')) skip('make not found on PATH');
  const python = process.env.PYTHON || process.env.npm_config_python;
  if (python ? !onPath(python) : !onPath('python3') && !onPath('python')) {
    skip('python3 not found on PATH (node-gyp needs it; set PYTHON to use another)');
  }

  const nodeDir = findNodeDir();
  if (!nodeDir) {
    skip(
      `no Node headers for ${process.version} (looked for include/node/node_api.h next to ` +
        `${process.execPath} and in npm_config_nodedir); not downloading them`,
    );
  }

  const started = Date.now();
  const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=warn'], {
    cwd: NATIVE_DIR,
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
    // npm passes its own config to install scripts as npm_config_*; node-gyp reads
    // some of them (nodedir, devdir, python). The explicit --nodedir wins over them.
    // binding.gyp runs `node -p` to find node-addon-api, so this node must be on PATH.
    env: {
      ...process.env,
      PATH: [path.dirname(process.execPath), process.env.PATH || ''].filter(Boolean).join(path.delimiter),
      npm_config_loglevel: 'warn',
    },
  });
  const log = `${result.stdout || ''}${result.stderr || ''}`;

  if (result.error) skip(`node-gyp could not run: ${result.error.message}`, log);
  if (result.status !== 0) {
    skip(`node-gyp rebuild failed (exit ${result.status}): ${lastErrorLine(log)}; see native/build/build.log`, log);
  }
  if (!fs.existsSync(BINARY)) skip('node-gyp reported success but produced no rangeserve_native.node', log);

  try {
    fs.rmSync(SKIP_FILE, { force: true });
    fs.writeFileSync(LOG_FILE, log);
  } catch {
    // Not fatal: the binary is in place.
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${PREFIX} built in ${seconds}s: native/build/Release/rangeserve_native.node\n`);
}

try {
  main();
} catch (err) {
  // Last line of defence: an unexpected bug here must not fail `npm install` either.
  skip(`unexpected error in native/build.js: ${err && err.message ? err.message : String(err)}`);
}
