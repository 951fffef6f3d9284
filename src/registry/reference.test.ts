import { describe, expect, it } from 'vitest';
import { formatReference, parseReference } from './reference.ts';

const digest = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['nginx:1.27', 'docker.io', 'library/nginx', '1.27', undefined],
    ['bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', undefined],
    ['docker.io/nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['index.docker.io/library/nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/team/app:v2', 'localhost:5000', 'team/app', 'v2', undefined],
    ['127.0.0.1:5000/app@' + digest, '127.0.0.1:5000', 'app', undefined, digest],
    ['127.0.0.1:5000/app:v1@' + digest, '127.0.0.1:5000', 'app', 'v1', digest],
    ['[::1]:5000/a/b/c', '[::1]:5000', 'a/b/c', 'latest', undefined],
    ['registry.example/a.b_c--d/e', 'registry.example', 'a.b_c--d/e', 'latest', undefined],
  ])('reads %s as registry %s, repository %s, tag %s', (input, registry, repository, tag, dig) => {
    const ref = parseReference(input);
    expect(ref.registry).toBe(registry);
    expect(ref.repository).toBe(repository);
    expect(ref.tag).toBe(tag);
    expect(ref.digest).toBe(dig);
  });

  it.each([
    ['', /empty/],
    ['Nginx', /lowercase/],
    ['nginx:', /bad tag/],
    ['nginx@sha256:abc', /bad digest/],
    [`nginx@sha256:${'g'.repeat(64)}`, /sha256/],
    ['host:5000/', /repository/],
    ['a//b', /repository/],
    ['x'.repeat(2000), /too long/],
  ])('rejects %j with a message naming the problem', (input, message) => {
    expect(() => parseReference(input)).toThrow(message);
  });

  it('formats a parsed reference back to its canonical form', () => {
    expect(formatReference(parseReference('nginx'))).toBe('docker.io/library/nginx:latest');
    expect(formatReference(parseReference(`127.0.0.1:1/x:t@${digest}`))).toBe(
      `127.0.0.1:1/x:t@${digest}`,
    );
  });
});
