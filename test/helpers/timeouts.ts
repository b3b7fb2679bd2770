/**
 * Bounds for suites that start servers, clients or threads. Without one a
 * hang (a response that never ends, a server that never answers) stalls the
 * whole `node --test` run until CI kills it, naming nothing; with one the
 * suite fails by name after this long and its `after` hooks still stop what
 * it started. (Node 20's --test-timeout is no substitute: it counts from the
 * start of the run, not from each file's start, under --test-concurrency=1.)
 *
 * 120 s: the slowest such suite takes about 30 s on 2 shared cores.
 */
export const SUITE_TIMEOUT_MS = 120_000;
