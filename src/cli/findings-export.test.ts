import { describe, expect, it } from 'vitest';
import { parseExportArgs } from './findings-export.ts';
import { InputError } from './errors.ts';

describe('findings export flags', () => {
  it('default to every namespace, CSV, all columns, standard output', () => {
    expect(parseExportArgs([])).toEqual({
      namespace: undefined,
      labelSelector: undefined,
      format: 'csv',
      columns: 'all',
      output: undefined,
      pageSize: 500,
      kubeconfig: undefined,
      help: false,
    });
  });

  it('turn --run into the run label, ANDed with -l', () => {
    const o = parseExportArgs([
      '-n',
      'shop',
      '--run',
      'weekly-1',
      '-l',
      'kubeinspector.io/severity=HIGH',
    ]);
    expect(o.namespace).toBe('shop');
    expect(o.labelSelector).toBe('kubeinspector.io/run=weekly-1,kubeinspector.io/severity=HIGH');
  });

  it('read format and columns case-insensitively', () => {
    expect(
      parseExportArgs(['--format', 'JSON', '--columns', 'Visible', '-o', 'f.json']),
    ).toMatchObject({
      format: 'json',
      columns: 'visible',
      output: 'f.json',
    });
  });

  it.each([
    [['--format', 'xlsx'], /--format must be one of csv, json, got "xlsx"/],
    [['--columns', 'some'], /--columns must be one of all, visible, got "some"/],
    [['-n', 'a', '-A'], /-n\/--namespace and -A\/--all-namespaces cannot be used together/],
    [['--run', 'Not A Name'], /--run "Not A Name" is not a valid AssessmentRun name/],
    [['--output='], /-o\/--output must not be empty/],
    [['--chunk-size', '0'], /--chunk-size must be an integer from 1 to 10000, got "0"/],
    [['extra'], /unexpected argument "extra"/],
    [['--namespaces', 'a'], /Unknown option '--namespaces'/],
  ])('refuse %j, naming the flag', (args, message) => {
    expect(() => parseExportArgs(args)).toThrow(InputError);
    expect(() => parseExportArgs(args)).toThrow(message);
  });
});
