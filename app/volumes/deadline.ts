/**
 * The time budget of a request before its status line. Every gate operation
 * started on behalf of a request (realpath, stat, open, the first read) must
 * end by then, not only each by its own deadline: otherwise a request whose
 * four operations each wait almost READ_TIMEOUT_MS would go silent four times
 * as long. Carried with AsyncLocalStorage, so engines and the Engine port need
 * no extra argument; the route lifts it (`until = Infinity`) when it writes the
 * headers, after which each body read has its own deadline.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestBudget {
  /** Date.now() by which the operations must have settled. */
  until: number;
}

const store = new AsyncLocalStorage<RequestBudget>();

export function withRequestBudget<T>(ms: number, fn: (budget: RequestBudget) => T): T {
  const budget = { until: Date.now() + ms };
  return store.run(budget, () => fn(budget));
}

/** ms left of the current request's budget (Infinity outside a request or once lifted). */
export function budgetLeftMs(): number {
  const b = store.getStore();
  return b === undefined ? Infinity : b.until - Date.now();
}
