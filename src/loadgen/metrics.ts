/**
 * Request latency and throughput of a load run, overall and per time bucket, with hdr-histogram-js (percentiles come
 * from the histogram, never from hand-sorted samples). Latencies are recorded in microseconds, reported in ms.
 */
import * as hdr from 'hdr-histogram-js';
import type { OpKind } from '../checker/log-format';

/** A histogram sized for request latencies from 1 µs to 1 h, 3 significant digits. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Percentiles of one histogram, in milliseconds (0 when empty). */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** p50/p99/max of `h` in milliseconds. */
export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  return { count: h.totalCount, p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000, maxMs: h.maxValue / 1000 };
}

/** One time bucket of the run. */
export interface TimelinePoint {
  /** Seconds since the recorder's origin, at the bucket's start. */
  readonly t: number;
  readonly ok: number;
  readonly failed: number;
  readonly read: LatencySummary;
  readonly write: LatencySummary;
}

interface Bucket {
  ok: number;
  failed: number;
  read: hdr.Histogram;
  write: hdr.Histogram;
}

/** Collects completed requests; `origin` is the epoch-ms of t = 0. */
export class LoadMetrics {
  private readonly buckets = new Map<number, Bucket>();
  readonly read = latencyHistogram();
  readonly write = latencyHistogram();
  ok = 0;
  failed = 0;

  constructor(
    readonly origin: number,
    readonly bucketMs = 1000,
  ) {}

  /** Records one completed request. */
  record(kind: OpKind, ok: boolean, startMs: number, endMs: number): void {
    const us = Math.max(1, Math.round((endMs - startMs) * 1000));
    const idx = Math.max(0, Math.floor((endMs - this.origin) / this.bucketMs));
    let b = this.buckets.get(idx);
    if (!b) this.buckets.set(idx, (b = { ok: 0, failed: 0, read: latencyHistogram(), write: latencyHistogram() }));
    const field = ok ? 'ok' : 'failed';
    this[field]++;
    b[field]++;
    const hs = kind === 'read' ? [this.read, b.read] : [this.write, b.write];
    for (const h of hs) h.recordValue(us);
  }

  /** Read and write latency of requests that completed in [fromS, toS) seconds since the origin (bucket-aligned). */
  between(fromS: number, toS: number): { read: LatencySummary; write: LatencySummary; ok: number; failed: number } {
    const read = latencyHistogram();
    const write = latencyHistogram();
    let ok = 0;
    let failed = 0;
    for (const [i, b] of this.buckets) {
      const t = (i * this.bucketMs) / 1000;
      if (t < fromS || t >= toS) continue;
      read.add(b.read);
      write.add(b.write);
      ok += b.ok;
      failed += b.failed;
    }
    return { read: summarize(read), write: summarize(write), ok, failed };
  }

  /** One point per bucket that saw a request, in time order. */
  timeline(): TimelinePoint[] {
    return [...this.buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([i, b]) => ({ t: (i * this.bucketMs) / 1000, ok: b.ok, failed: b.failed, read: summarize(b.read), write: summarize(b.write) }));
  }
}
