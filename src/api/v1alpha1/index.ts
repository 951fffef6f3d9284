// kubeinspector.io/v1alpha1: schemas, inferred types and kind table.
export * from './common.ts';
export * from './cron.ts';
export * from './scan-configuration.ts';
export * from './covered-resource.ts';
export * from './node-inventory.ts';
export * from './assessment-target.ts';
export * from './assessment-template.ts';
export * from './assessment-run.ts';
export * from './finding.ts';
export * from './suppression-rule.ts';
export * from './kinds.ts';
