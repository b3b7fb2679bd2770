/** Zero-copy counters on the process's registry (/metrics). */
import client from 'prom-client';
import { metricsRegistry } from '../metrics';

export const zeroCopyResponses = new client.Counter({
  name: 'rangeserve_zero_copy_responses_total',
  help: 'Responses whose body went through the zero-copy path (sendfile from a sender thread), by how they ended.',
  labelNames: ['ended'] as const,
  registers: [metricsRegistry],
});

export const zeroCopyBytes = new client.Counter({
  name: 'rangeserve_zero_copy_bytes_total',
  help: 'Body bytes the zero-copy path handed to sockets.',
  registers: [metricsRegistry],
});
