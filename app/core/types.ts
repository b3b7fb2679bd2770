/**
 * The contract between the pure core and everything that does I/O.
 *
 * The core (planResponse) sees only request headers and a file's metadata and
 * returns a ResponsePlan. Engines (stream, worker, cluster workers) execute a
 * plan: they write `headers` with `status`, then the body pieces in order.
 * Nothing in app/core may import node:fs, node:net or node:http.
 */

/** What the planner needs to know about a regular file, taken from one fstat. */
export interface FileMeta {
  /** Size in bytes. Safe up to 2^53, far beyond any real file. */
  readonly size: number;
  /** Modification time in nanoseconds since the epoch (fstat's mtimeNs). */
  readonly mtimeNs: bigint;
}

/** The request facts the planner reads. Header values are raw strings as received. */
export interface PlanRequest {
  readonly method: 'GET' | 'HEAD';
  /**
   * Each conditional or range header, or undefined when absent. A header that
   * arrived on more than one line must be reported through `duplicated`.
   */
  readonly range?: string | undefined;
  readonly ifRange?: string | undefined;
  readonly ifMatch?: string | undefined;
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifUnmodifiedSince?: string | undefined;
  /** Lower-cased names of singleton headers that arrived more than once (e.g. 'range'). */
  readonly duplicated?: ReadonlySet<string> | undefined;
  /** The response Date; injected so the planner stays pure and testable. */
  readonly now: Date;
}

/** Per-request options the planner does not decide itself. */
export interface PlanOptions {
  /** Content-Type of the file (already with charset where due). */
  readonly contentType: string;
  /** Ranges allowed after coalescing before Range is ignored (decision 5). */
  readonly maxRanges: number;
  /**
   * Headers every file response carries, whatever the status (for example
   * Content-Disposition, Cache-Control, Vary, X-Content-Type-Options).
   * The planner copies them onto 200/206 and the relevant ones onto 304.
   */
  readonly baseHeaders?: Readonly<Record<string, string>> | undefined;
  /** Multipart boundary; injected for deterministic tests. */
  readonly boundary?: string | undefined;
}

/** An inclusive byte range of the file: bytes start..end, both included. */
export interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

/** One piece of a response body, in wire order. */
export type BodyPiece =
  | { readonly kind: 'file'; readonly start: number; readonly end: number }
  | { readonly kind: 'bytes'; readonly data: string };

export type PlanStatus = 200 | 206 | 304 | 412 | 416;

export interface ResponsePlan {
  readonly status: PlanStatus;
  /** Header names in their canonical case, values final. Always includes Content-Length where a body may exist. */
  readonly headers: Readonly<Record<string, string>>;
  /** Empty for HEAD, 304 and every response without content. */
  readonly body: readonly BodyPiece[];
  /** Total body length in bytes (equals Content-Length for GET). */
  readonly bodyLength: number;
  /** True when the request asked for a range and got one (a resume or a seek). */
  readonly partial: boolean;
}
