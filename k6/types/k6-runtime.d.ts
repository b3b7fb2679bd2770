/**
 * Globals the k6 runtime provides that @types/k6 does not declare, because it
 * expects a DOM/Node lib. We deliberately do NOT pull in lib.dom (it would let
 * browser-only APIs such as TextDecoder or fetch type-check, and k6 lacks them).
 */
declare global {
  interface K6Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
  }
  // eslint-disable-next-line no-var
  var console: K6Console;
}

export {};
