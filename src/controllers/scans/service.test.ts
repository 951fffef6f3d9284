import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../runtime/clock.ts';
import type { DigestOutcome, ImageScanner } from '../../scanner/index.ts';
import type { ScanOutcome } from '../../scanner/types.ts';
import { ImageInventoryStore } from '../image-inventories.ts';
import { RETRY_FAILED_SCAN_MS } from './policy.ts';
import { ScanService, type ScanPurpose, type ScanRequest } from './service.ts';

/** A scanner whose scans end when the test says so; it records what it was asked. */
class HeldScanner implements ImageScanner {
  readonly asked: { reference: string; maxCompressedBytes: number | undefined }[] = [];
  private readonly ends: ((o: ScanOutcome) => void)[] = [];
  scan(
    reference: string,
    options?: { limits?: { maxCompressedBytes?: number } },
  ): Promise<ScanOutcome> {
    this.asked.push({ reference, maxCompressedBytes: options?.limits?.maxCompressedBytes });
    return new Promise((resolve) => this.ends.push(resolve));
  }
  /** Ends the oldest scan still running with a failure. */
  fail(message: string): void {
    this.ends.shift()?.({ status: 'failed', reason: 'ACCESS_DENIED', message });
  }
}

const DIGEST = `sha256:${'a'.repeat(64)}`;

function setup() {
  const scanner = new HeldScanner();
  const store = new ImageInventoryStore();
  const registry = new Registry();
  const service = new ScanService({
    scanner,
    store,
    concurrency: 1,
    clock: new ManualClock(new Date('2026-03-01T12:00:00Z')),
    log: pino({ level: 'silent' }),
    registry,
  });
  const request = (purpose: ScanPurpose, extra: Partial<ScanRequest> = {}) =>
    service.request({
      purpose,
      digest: DIGEST,
      reference: `registry.test/app@${DIGEST}`,
      credentials: () => Promise.resolve({ credentials: {}, problems: [] }),
      credentialSources: purpose === 'coverage' ? 'ns/pull' : '',
      ...extra,
    });
  const scans = async () =>
    (await registry.getSingleMetric('kubeinspector_image_scans_total')?.get())?.values ?? [];
  return { scanner, store, service, request, scans };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('scan service', () => {
  it('scans a digest once when coverage and a run ask for it, and tells the run when it ends', async () => {
    const { scanner, store, service, request, scans } = setup();
    let told = 0;
    request('coverage', { maxImageBytes: 1000 });
    request('run', { onDone: () => told++ });
    await settle();
    expect(scanner.asked).toHaveLength(1);
    expect(service.has(DIGEST, 'run')).toBe(true);
    scanner.fail('denied');
    await settle();
    expect(told).toBe(1);
    expect(store.get(DIGEST)?.outcome.status).toBe('failed');
    expect(service.resultFor(DIGEST)?.outcome.status).toBe('failed');
    expect(service.credentialSourcesOf(DIGEST)).toBe('ns/pull');
    expect(await scans()).toEqual([
      expect.objectContaining({ labels: { result: 'ACCESS_DENIED' }, value: 1 }),
    ]);
  });

  it('keeps the result of a scan only runs asked for out of the covered results', async () => {
    const { scanner, store, service, request } = setup();
    const changed: string[] = [];
    service.onChange((d) => changed.push(d));
    request('run');
    await settle();
    expect(service.has(DIGEST)).toBe(true);
    expect(service.has(DIGEST, 'coverage')).toBe(false);
    scanner.fail('denied');
    await settle();
    expect(store.get(DIGEST)).toBeUndefined();
    expect(changed).toEqual([]);
    expect(service.resultFor(DIGEST)?.outcome).toEqual({
      status: 'failed',
      reason: 'ACCESS_DENIED',
      message: 'denied',
    });
  });

  it('gives coverage the result of a run scan it joined, under its own pull secrets', async () => {
    const { scanner, store, service, request } = setup();
    request('run');
    await settle();
    request('coverage');
    expect(service.has(DIGEST, 'coverage')).toBe(true);
    scanner.fail('denied');
    await settle();
    expect(scanner.asked).toHaveLength(1);
    expect(store.get(DIGEST)?.outcome.status).toBe('failed');
    expect(service.credentialSourcesOf(DIGEST)).toBe('ns/pull');
  });

  it('lets a coverage request take the place of a run request that has not started', async () => {
    const { scanner, request } = setup();
    const other = `sha256:${'b'.repeat(64)}`;
    request('coverage', { digest: other, reference: `registry.test/other@${other}` });
    request('run');
    request('coverage', { maxImageBytes: 1000 });
    await settle();
    scanner.fail('denied');
    await settle();
    expect(scanner.asked.map((a) => a.maxCompressedBytes)).toEqual([undefined, 1000]);
  });

  it('gives a run no covered failure: the run asks for its own scan', async () => {
    const { scanner, service, request } = setup();
    request('coverage');
    await settle();
    scanner.fail('denied');
    await settle();
    expect(service.get(DIGEST)?.outcome.status).toBe('failed');
    expect(service.resultFor(DIGEST)).toBeUndefined();
    request('run');
    await settle();
    expect(scanner.asked).toHaveLength(2);
  });

  it('forgets a covered result and what its scan used', async () => {
    const { scanner, service, request } = setup();
    request('coverage');
    await settle();
    scanner.fail('denied');
    await settle();
    service.forget(DIGEST);
    expect(service.get(DIGEST)).toBeUndefined();
    expect(service.credentialSourcesOf(DIGEST)).toBeUndefined();
  });
});

describe('pull checks of images no pod could pull', () => {
  /** A scanner whose digest lookups answer from `answers` and are counted. */
  function pullSetup() {
    const asked: { reference: string; secrets: number }[] = [];
    const answers: DigestOutcome[] = [];
    const scanner: ImageScanner = {
      scan: () => Promise.reject(new Error('not asked to scan')),
      resolveDigest: (reference, options) => {
        asked.push({ reference, secrets: options?.credentials?.pullSecrets?.length ?? 0 });
        return Promise.resolve(
          answers.shift() ?? {
            status: 'failed',
            reason: 'ACCESS_DENIED',
            message: `${reference}: access denied (HTTP 401)`,
          },
        );
      },
    };
    const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
    const service = new ScanService({
      scanner,
      store: new ImageInventoryStore(),
      concurrency: 1,
      clock,
      log: pino({ level: 'silent' }),
      registry: new Registry(),
    });
    const check = (sources: string, onDone?: () => void) =>
      service.checkPull({
        reference: 'registry.test/private/app:1',
        credentialSources: sources,
        credentials: () =>
          Promise.resolve({
            credentials: { pullSecrets: sources === '' ? [] : [{ '.dockerconfigjson': 'e30=' }] },
            problems: [],
          }),
        ...(onDone !== undefined ? { onDone } : {}),
      });
    return { asked, answers, clock, check, service };
  }

  it('asks the registry once per reference and secrets, tells who asked, and holds the answer', async () => {
    const { asked, check } = pullSetup();
    let told = 0;
    expect(check('', () => told++)).toBeUndefined();
    expect(check('', () => told++)).toBeUndefined();
    await settle();
    expect(asked).toEqual([{ reference: 'registry.test/private/app:1', secrets: 0 }]);
    expect(told).toBe(2);
    expect(check('')?.outcome).toEqual({
      status: 'failed',
      reason: 'ACCESS_DENIED',
      message: 'registry.test/private/app:1: access denied (HTTP 401)',
    });
    expect(asked).toHaveLength(1);
  });

  it('checks again with new pull secrets at once, and with the same ones after the retry delay', async () => {
    const { asked, answers, clock, check } = pullSetup();
    check('');
    await settle();
    answers.push({ status: 'resolved', digest: DIGEST });
    check('apps/regcred');
    await settle();
    expect(asked.map((a) => a.secrets)).toEqual([0, 1]);
    expect(check('apps/regcred')?.outcome).toEqual({ status: 'resolved', digest: DIGEST });

    clock.advance(RETRY_FAILED_SCAN_MS - 1);
    expect(check('')?.outcome.status).toBe('failed');
    expect(asked).toHaveLength(2);
    clock.advance(1);
    answers.push({ status: 'resolved', digest: DIGEST });
    // The old answer is given while the new check runs.
    expect(check('')?.outcome.status).toBe('failed');
    await settle();
    expect(asked).toHaveLength(3);
    expect(check('')?.outcome.status).toBe('resolved');
  });

  it('holds an answer for the configured retry delay, then checks again', async () => {
    const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
    let asked = 0;
    const service = new ScanService({
      scanner: {
        scan: () => Promise.reject(new Error('not asked to scan')),
        resolveDigest: () => {
          asked++;
          return Promise.resolve({ status: 'failed', reason: 'INTERNAL_ERROR', message: 'down' });
        },
      },
      store: new ImageInventoryStore(),
      concurrency: 1,
      clock,
      log: pino({ level: 'silent' }),
      registry: new Registry(),
      retryFailedAfterMs: 15_000,
    });
    expect(service.retryFailedAfterMs).toBe(15_000);
    const check = () =>
      service.checkPull({
        reference: 'registry.test/app:1',
        credentialSources: '',
        credentials: () => Promise.resolve({ credentials: {}, problems: [] }),
      });
    check();
    await settle();
    clock.advance(14_999);
    check();
    await settle();
    expect(asked).toBe(1);
    clock.advance(1);
    check();
    await settle();
    expect(asked).toBe(2);
  });

  it('a failure to read the pull secrets is an INTERNAL_ERROR answer, the registry not asked', async () => {
    const { asked, service } = pullSetup();
    const check = () =>
      service.checkPull({
        reference: 'registry.test/app:1',
        credentialSources: 'apps/regcred',
        credentials: () => Promise.reject(new Error('secrets "regcred" is forbidden')),
      });
    check();
    await settle();
    expect(asked).toEqual([]);
    expect(check()?.outcome).toEqual({
      status: 'failed',
      reason: 'INTERNAL_ERROR',
      message: 'secrets "regcred" is forbidden',
    });
  });

  it('a scanner that cannot resolve digests leaves the image unchecked', async () => {
    const { service } = setup();
    const check = () =>
      service.checkPull({
        reference: 'registry.test/app:1',
        credentialSources: '',
        credentials: () => Promise.resolve({ credentials: {}, problems: [] }),
      });
    expect(check()).toBeUndefined();
    await settle();
    expect(check()).toBeUndefined();
  });
});
