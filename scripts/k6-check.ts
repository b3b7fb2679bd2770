/**
 * CI check for the k6 scenarios (k6 itself is not needed):
 *  1. `tsc -p k6/tsconfig.json` — types against @types/k6, no Node types;
 *  2. every k6/*.ts scenario bundled with esbuild (k6 modules external), which
 *     catches syntax and import errors the way k6's own esbuild pass would,
 *     plus the rules k6 imposes that esbuild alone would not: relative imports
 *     need an explicit extension, only k6 modules may be imported (no npm
 *     packages, no Node built-ins, no remote jslib), and the scenario must
 *     export `options`, `handleSummary` and every function named as `exec`.
 *
 * Prints one line per scenario; exits 1 on any failure.
 *   node dist/scripts/k6-check.js
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// esbuild's JS API, loaded at run time (it is a devDependency).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const esbuild = require('esbuild') as typeof import('esbuild');

const ROOT = path.resolve(__dirname, '..', '..');
const K6_DIR = path.join(ROOT, 'k6');

/** Scenario entry points: k6/*.ts (not .d.ts), sorted. */
export function scenarioFiles(dir: string = K6_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => path.join(dir, f));
}

function runTsc(): { ok: boolean; output: string } {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(K6_DIR, 'tsconfig.json'), '--pretty', 'false'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return { ok: r.status === 0, output: r.error ? String(r.error) : output };
}

const k6Rules: import('esbuild').Plugin = {
  name: 'k6-import-rules',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const p = args.path;
      if (p === 'k6' || p.startsWith('k6/')) return { path: p, external: true };
      if (p.startsWith('./') || p.startsWith('../')) {
        if (!/\.(ts|js)$/.test(p)) {
          return { errors: [{ text: `import "${p}" needs an explicit .ts extension (k6 does not guess extensions)` }] };
        }
        return undefined; // let esbuild resolve the file itself
      }
      if (/^https?:/.test(p)) {
        return { errors: [{ text: `remote import "${p}" is not allowed (offline, and not type-checked)` }] };
      }
      return { errors: [{ text: `import "${p}" is not a k6 module: k6 scripts cannot use npm packages or Node built-ins` }] };
    });
  },
};

interface BundleResult {
  ok: boolean;
  message: string;
}

async function bundle(file: string): Promise<BundleResult> {
  try {
    const result = await esbuild.build({
      entryPoints: [file],
      bundle: true,
      external: ['k6', 'k6/*'],
      format: 'esm',
      platform: 'neutral',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [k6Rules],
    });
    const out = Object.values(result.metafile.outputs)[0];
    const exports = out?.exports ?? [];
    const missing: string[] = [];
    for (const name of ['options', 'handleSummary']) if (!exports.includes(name)) missing.push(name);
    // Every `exec: 'name'` in the scenario must be an exported function.
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/\bexec:\s*['"]([A-Za-z_$][\w$]*)['"]/g)) {
      if (!exports.includes(m[1]!)) missing.push(m[1]!);
    }
    // Without exec, scenarios run the default export.
    if (!/\bexec:/.test(source) && !exports.includes('default')) missing.push('default');
    if (missing.length > 0) return { ok: false, message: `missing exports: ${missing.join(', ')}` };
    const bytes = result.outputFiles?.[0]?.contents.length ?? 0;
    return { ok: true, message: `${(bytes / 1024).toFixed(1)} KiB, exports ${exports.slice().sort().join(', ')}` };
  } catch (err: unknown) {
    const failure = err as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> };
    if (Array.isArray(failure.errors) && failure.errors.length > 0) {
      return {
        ok: false,
        message: failure.errors
          .map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
          .join('; '),
      };
    }
    return { ok: false, message: String(err) };
  }
}

export async function main(): Promise<number> {
  let failures = 0;
  const tsc = runTsc();
  if (tsc.ok) {
    console.log('ok    tsc -p k6/tsconfig.json');
  } else {
    failures++;
    console.log('FAIL  tsc -p k6/tsconfig.json');
    for (const line of tsc.output.split('\n')) if (line.trim() !== '') console.log(`      ${line}`);
  }
  const files = scenarioFiles();
  if (files.length === 0) {
    console.log('FAIL  no scenarios in k6/');
    return 1;
  }
  for (const file of files) {
    const r = await bundle(file);
    const rel = path.relative(ROOT, file);
    console.log(`${r.ok ? 'ok  ' : 'FAIL'}  ${rel}  ${r.message}`);
    if (!r.ok) failures++;
  }
  return failures === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
