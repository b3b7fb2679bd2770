/**
 * Whether the page-cache hints are applied by this process's engine, and why
 * not: one answer for the start-up log line and /healthz (`hints: {active, reason}`).
 */
import { addon as loadedAddon, hints as loadedStatus, type HintsStatus, type NativeAddon } from './addon';
import type { HintSettings } from './hint-policy';

/**
 * hintStatus: the addon's own status when it is not loaded; then HINTS=off; then,
 * for the stream engine (which needs the async batch call), an addon built before
 * fadviseAsync existed.
 */
export function hintStatus(
  settings: Pick<HintSettings, 'enabled'>,
  engine: 'stream' | 'worker',
  loaded: { readonly addon: NativeAddon | undefined; readonly hints: HintsStatus } = { addon: loadedAddon, hints: loadedStatus },
): HintsStatus {
  if (!loaded.hints.active || !loaded.addon) return loaded.hints;
  if (!settings.enabled) return { active: false, reason: 'disabled by HINTS=off' };
  if (engine === 'stream' && typeof loaded.addon.fadviseAsync !== 'function') {
    return { active: false, reason: 'native addon lacks fadviseAsync (an old build: run `node native/build.js`)' };
  }
  return loaded.hints;
}
