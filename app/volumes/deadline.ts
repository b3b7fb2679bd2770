/**
 * The time budget of a request before its status line. Every gate operation
 * started on behalf of a request (realpath, stat, open, the first read) must
 * end by then, not only each by its own deadline: otherwise a request whose
 * four operations each wait almost READ_TIMEOUT_MS would go silent four times
 * as long. The route lifts it (`until = Infinity`) when it writes the headers,
 * after which each body read has its own deadline.
 *
 * It is passed explicitly (engine methods' `budget` option, RunOptions.budget)
 * rather than carried by AsyncLocalStorage: on Node 20, AsyncLocalStorage turns
 * on promise hooks for the whole process, measured at about a fifth of the CPU
 * of a 4 KiB range request (docs/performance.md).
 */

export interface RequestBudget {
  /** Date.now() by which the operations must have settled. */
  until: number;
}

export function requestBudget(ms: number): RequestBudget {
  return { until: Date.now() + ms };
}

/** ms left of a request's budget (Infinity without one, or once lifted). */
export function budgetLeftMs(budget: RequestBudget | undefined): number {
  return budget === undefined || budget.until === Infinity ? Infinity : budget.until - Date.now();
}
