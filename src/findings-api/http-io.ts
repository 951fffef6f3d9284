// Small HTTP helpers of the findings API: JSON answers, Status answers, bounded request bodies,
// and writes that wait for the socket to drain (lists and watches stream, never buffer).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { ApiError, type Status, apiError, badRequest } from './status.ts';

export function writeJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function writeStatus(res: ServerResponse, status: Status): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const headers: Record<string, string> = {};
  const retry = status.details?.retryAfterSeconds;
  if (retry !== undefined) headers['Retry-After'] = String(retry);
  writeJson(res, status.code, status, headers);
}

/** Writes a chunk; resolves once the socket can take more. False when the client is gone. */
export async function writeChunk(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (!res.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  return !res.destroyed;
}

/** The request body, refused with 413 past `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes)
    throw apiError('RequestEntityTooLarge', 'Request entity too large: limit is ' + maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes)
      throw apiError('RequestEntityTooLarge', 'Request entity too large: limit is ' + maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** JSON (or, for apply patches, YAML) body; empty → undefined. */
export function parseBody(buf: Buffer, yaml: boolean): unknown {
  const text = buf.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
