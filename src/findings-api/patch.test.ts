import { describe, expect, it } from 'vitest';
import { type Json, PatchError, applyJsonPatch, decodeJsonPatch, mergePatch } from './patch.ts';

describe('mergePatch (RFC 7386 appendix A)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ] as [Json, Json, Json][])('%j + %j = %j', (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('leaves its input unchanged', () => {
    const target = { spec: { attributes: { a: '1' } } };
    mergePatch(target, { spec: { attributes: { a: null } } });
    expect(target).toEqual({ spec: { attributes: { a: '1' } } });
  });
});

describe('applyJsonPatch (RFC 6902)', () => {
  const doc: Json = {
    spec: { attributes: { owner: 'alice' } },
    list: [1, 2, 3],
    'a/b': { '~c': 1 },
  };

  it.each([
    [
      'add a map key',
      [{ op: 'add', path: '/spec/attributes/team', value: 'x' }],
      ['spec', 'attributes'],
      { owner: 'alice', team: 'x' },
    ],
    [
      'add replaces an existing key',
      [{ op: 'add', path: '/spec/attributes/owner', value: 'bob' }],
      ['spec', 'attributes'],
      { owner: 'bob' },
    ],
    ['add inserts into a list', [{ op: 'add', path: '/list/1', value: 9 }], ['list'], [1, 9, 2, 3]],
    ['add appends with -', [{ op: 'add', path: '/list/-', value: 4 }], ['list'], [1, 2, 3, 4]],
    ['remove a list item', [{ op: 'remove', path: '/list/0' }], ['list'], [2, 3]],
    [
      'replace a value',
      [{ op: 'replace', path: '/spec/attributes/owner', value: 'carol' }],
      ['spec', 'attributes'],
      { owner: 'carol' },
    ],
    [
      'move a value',
      [{ op: 'move', from: '/spec/attributes/owner', path: '/spec/attributes/lead' }],
      ['spec', 'attributes'],
      { lead: 'alice' },
    ],
    ['copy a value', [{ op: 'copy', from: '/list/2', path: '/list/0' }], ['list'], [3, 1, 2, 3]],
    ['escaped tokens', [{ op: 'replace', path: '/a~1b/~0c', value: 2 }], ['a/b'], { '~c': 2 }],
    [
      'a passing test then a change',
      [
        { op: 'test', path: '/spec/attributes/owner', value: 'alice' },
        { op: 'remove', path: '/spec/attributes/owner' },
      ],
      ['spec', 'attributes'],
      {},
    ],
  ])('%s', (_name, ops, at, expected) => {
    const out = applyJsonPatch(doc, decodeJsonPatch(ops)) as Record<string, Json>;
    let cur: Json = out;
    for (const k of at) cur = (cur as Record<string, Json>)[k]!;
    expect(cur).toEqual(expected);
  });

  it.each([
    [
      'a failing test',
      [{ op: 'test', path: '/spec/attributes/owner', value: 'bob' }],
      /test failed/,
    ],
    ['remove of a missing key', [{ op: 'remove', path: '/spec/attributes/none' }], /nonexistent/],
    [
      'replace of a missing key',
      [{ op: 'replace', path: '/spec/attributes/none', value: 'x' }],
      /missing/,
    ],
    [
      'add under a missing parent',
      [{ op: 'add', path: '/status/severity', value: 'LOW' }],
      /missing path/,
    ],
    ['an index out of range', [{ op: 'add', path: '/list/7', value: 1 }], /out of range/],
    ['a pointer without a slash', [{ op: 'add', path: 'spec', value: 1 }], /invalid JSON pointer/],
  ])('fails the whole patch on %s', (_name, ops, message) => {
    const run = () => applyJsonPatch(doc, decodeJsonPatch(ops));
    expect(run).toThrow(PatchError);
    expect(run).toThrow(message);
  });

  it('changes nothing when a later operation fails', () => {
    const before = structuredClone(doc);
    expect(() =>
      applyJsonPatch(
        doc,
        decodeJsonPatch([
          { op: 'remove', path: '/list/0' },
          { op: 'test', path: '/list/0', value: 1 },
        ]),
      ),
    ).toThrow(PatchError);
    expect(doc).toEqual(before);
  });

  it.each([
    ['an object', { op: 'add' }],
    ['an unknown op', [{ op: 'merge', path: '/a' }]],
    ['add without value', [{ op: 'add', path: '/a' }]],
    ['move without from', [{ op: 'move', path: '/a' }]],
  ])('refuses to decode %s', (_name, body) => {
    try {
      decodeJsonPatch(body);
      expect.unreachable();
    } catch (err) {
      expect((err as PatchError).kind).toBe('decode');
    }
  });
});
