/**
 * Scans an unpacked root filesystem (a directory) with the same analyzers as images: files are
 * found by walking the tree without following symlinks, read under the same caps.
 */
import { constants, createReadStream } from 'node:fs';
import { access, lstat, open, opendir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Analyzer } from './analyzers/analyzer.ts';
import { ANALYZERS } from './analyzers/index.ts';
import { noteCode, type FileResult, type LayerCodeStats } from './layer.ts';
import { mergeCode, mergeLayers } from './merge.ts';
import {
  DEFAULT_LIMITS,
  ScanError,
  type Inventory,
  type ScanLimits,
  type ScanOutcome,
} from './types.ts';
import { failureOutcome } from './image.ts';

export interface RootfsScanOptions {
  limits?: Partial<ScanLimits>;
  analyzers?: readonly Analyzer[];
  signal?: AbortSignal;
  /**
   * Walk only these paths (relative to the directory, files or directories) instead of the whole
   * tree; missing ones are skipped. A host agent reads just its package databases this way.
   */
  paths?: readonly string[];
}

async function readable(file: string, path: string, warnings: string[]): Promise<boolean> {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch (err) {
    warnings.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

// eslint-disable-next-line max-lines-per-function, complexity -- one directory walk with its size caps and symlink checks in one place
export async function scanRootfs(
  dir: string,
  options: RootfsScanOptions = {},
): Promise<ScanOutcome> {
  const limits: ScanLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const signal = AbortSignal.any([
    AbortSignal.timeout(limits.timeoutMs),
    ...(options.signal ? [options.signal] : []),
  ]);
  const analyzers = options.analyzers ?? ANALYZERS;
  const started = performance.now();
  const files: FileResult[] = [];
  const warnings: string[] = [];
  const codeStats: { code?: LayerCodeStats } = {};
  let entries = 0;
  let bytes = 0;
  try {
    const top = await lstat(dir);
    if (!top.isDirectory()) throw new ScanError('INTERNAL_ERROR', `${dir} is not a directory`);
    const stack: string[] = [];
    const topFiles: string[] = [];
    for (const p of options.paths ?? ['']) {
      const st = p === '' ? top : await lstat(join(dir, p)).catch(() => undefined);
      if (st?.isDirectory()) stack.push(p);
      else if (st?.isFile()) topFiles.push(p);
    }
    // A live root (`/`) has kernel filesystems mounted: never walk into them.
    const virtual = new Set<string>();
    for (const name of ['proc', 'sys', 'dev', 'run']) {
      const st = await lstat(join(dir, name)).catch(() => undefined);
      if (st !== undefined && st.isDirectory() && st.dev !== top.dev) virtual.add(name);
    }
    const visit = async (path: string): Promise<void> => {
      const st = await lstat(join(dir, path)).catch(() => undefined);
      if (st === undefined) return;
      const facts = { path, size: st.size, mode: st.mode };
      const buffering = analyzers.filter((a) => a.analyze !== undefined && a.matches(facts));
      const streaming = analyzers.filter((a) => a.stream !== undefined && a.matches(facts));
      if (buffering.length === 0 && streaming.length === 0) return;
      const add = (
        analyzer: string,
        r: Awaited<ReturnType<NonNullable<Analyzer['analyze']>>> | undefined,
      ): void => {
        if (r === undefined) return;
        if (r.warnings !== undefined) warnings.push(...r.warnings);
        const file: FileResult = { path, analyzer };
        if (r.packages !== undefined && r.packages.length > 0) file.packages = r.packages;
        if (r.osRelease !== undefined) file.osRelease = r.osRelease;
        if (r.code !== undefined) noteCode(codeStats, file, r.code);
        if (file.packages !== undefined || file.osRelease !== undefined || file.code !== undefined)
          files.push(file);
      };
      if (buffering.length > 0) {
        const cap = Math.min(...buffering.map((a) => a.maxBytes?.(limits) ?? limits.maxFileBytes));
        if (st.size > cap) {
          warnings.push(`${path}: ${st.size} bytes is over the ${cap}-byte cap; skipped`);
        } else {
          // An unreadable file (permissions, a file gone meanwhile) is a warning, not the end.
          const data = await readFile(join(dir, path)).catch((err: unknown) => {
            warnings.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
            return undefined;
          });
          if (data === undefined) return;
          bytes += data.length;
          for (const a of buffering) add(a.name, await a.analyze!(data, facts, limits));
        }
      }
      if (streaming.length > 0 && !(await readable(join(dir, path), path, warnings))) return;
      for (const a of streaming) {
        if (a.readAt !== undefined) {
          // Only the parts the analyzer asks for are read (headers, then one region).
          const handle = await open(join(dir, path), 'r');
          try {
            const file = {
              size: st.size,
              read: async (offset: number, length: number): Promise<Buffer> => {
                const buf = Buffer.alloc(Math.max(0, Math.min(length, st.size - offset)));
                const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
                bytes += bytesRead;
                return buf.subarray(0, bytesRead);
              },
            };
            add(a.name, await a.readAt(facts, file));
          } finally {
            await handle.close();
          }
          continue;
        }
        const sa = a.stream!(facts);
        const stream = createReadStream(join(dir, path), { highWaterMark: 1 << 20 });
        for await (const chunk of stream) {
          bytes += (chunk as Buffer).length;
          if (!sa.write(chunk as Buffer)) {
            stream.destroy();
            break;
          }
        }
        add(a.name, sa.end());
      }
    };
    for (const path of topFiles) await visit(path);
    while (stack.length > 0) {
      signal.throwIfAborted();
      const rel = stack.pop()!;
      const handle = await opendir(join(dir, rel)).catch((err: unknown) => {
        warnings.push(`${rel || '.'}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      });
      if (handle === undefined) continue;
      for await (const ent of handle) {
        entries++;
        if (entries > limits.maxEntries) {
          throw new ScanError(
            'IMAGE_SIZE_EXCEEDED',
            `${dir} has more than ${limits.maxEntries} files (limit on entries)`,
          );
        }
        const path = rel === '' ? ent.name : `${rel}/${ent.name}`;
        if (ent.isDirectory()) {
          if (!virtual.has(path)) stack.push(path);
          continue;
        }
        if (ent.isFile()) await visit(path);
      }
    }
    const merged = mergeLayers([{ analysis: { files, removed: [], opaqueDirs: [] } }]);
    if ((merged.os === undefined || !merged.os.supported) && merged.packages.length === 0) {
      throw new ScanError('UNSUPPORTED_OS', `${dir}: no supported OS and no packages found`);
    }
    const inventory: Inventory = {
      kind: 'rootfs',
      target: dir,
      packages: merged.packages,
      runtimes: [],
      layers: [],
      warnings,
      stats: {
        durationMs: Math.round(performance.now() - started),
        bytesDownloaded: 0,
        uncompressedBytes: bytes,
        entries,
      },
    };
    if (merged.os !== undefined) inventory.os = merged.os;
    const code = mergeCode([{ analysis: { files, ...codeStats } }]);
    if (code !== undefined) inventory.code = code;
    return { status: 'inventory', inventory };
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError')
      return failureOutcome(err, limits.timeoutMs);
    if (err instanceof ScanError) return failureOutcome(err, limits.timeoutMs);
    return {
      status: 'failed',
      reason: 'INTERNAL_ERROR',
      message: `${dir}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
