import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseControllerArgs } from './controller.ts';
import { readPostgresUrl } from './findings-serving.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function urlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'findings-url-'));
  dirs.push(dir);
  const file = join(dir, 'url');
  writeFileSync(file, text);
  return file;
}

describe('the findings store backend', () => {
  it('is SQLite unless PostgreSQL is chosen with a URL file, by flag or environment', () => {
    expect(parseControllerArgs([], {}).findings.store).toBe('sqlite');
    const byFlag = parseControllerArgs(
      ['--findings-store=postgres', '--findings-postgres-url-file=/secret/url'],
      {},
    ).findings;
    expect(byFlag).toMatchObject({ store: 'postgres', postgresUrlFile: '/secret/url' });
    const byEnv = parseControllerArgs([], {
      FINDINGS_STORE: 'postgres',
      FINDINGS_POSTGRES_URL_FILE: '/secret/url',
    }).findings;
    expect(byEnv).toMatchObject({ store: 'postgres', postgresUrlFile: '/secret/url' });
    expect(() => parseControllerArgs(['--findings-store=postgres'], {})).toThrow(
      /--findings-store=postgres needs --findings-postgres-url-file/,
    );
    expect(() => parseControllerArgs(['--findings-store=mysql'], {})).toThrow(
      /--findings-store must be sqlite or postgres, got "mysql"/,
    );
  });

  it('reads the connection URL from its file and names what is wrong with it', () => {
    const url = 'postgres://findings:secret@db.example:5432/findings?sslmode=verify-full';
    expect(readPostgresUrl(urlFile(`${url}\n`))).toBe(url);
    expect(() => readPostgresUrl(urlFile('db.example:5432'))).toThrow(/scheme db.example:/);
    expect(() => readPostgresUrl(urlFile('not a url'))).toThrow(/not a URL/);
    expect(() => readPostgresUrl(urlFile('mysql://db/findings'))).toThrow(
      /scheme mysql: is not postgres: or postgresql:/,
    );
    expect(() => readPostgresUrl('/nonexistent/url')).toThrow(
      /--findings-postgres-url-file \/nonexistent\/url: ENOENT/,
    );
  });
});
