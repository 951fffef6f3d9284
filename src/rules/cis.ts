/**
 * The `cis` rules package's findings, from the results the node agent reports for the node
 * checks (src/agent/cis): one CIS_BENCHMARK finding per node and FAILED check, with the
 * benchmark, the control id, its level, its CIS weight (scored or not), what was found and the
 * remediation. A check that could not be read (ERROR) is reported as not evaluated; one that
 * does not apply to the node gives nothing.
 */
import type { Severity } from '../api/v1alpha1/common.ts';
import type { CisCheck } from '../agent/cis/checks.ts';
import type { CisResult } from '../agent/cis/evaluate.ts';
import {
  buildRuleFinding,
  sortFindings,
  type FindingProducer,
  type ProducedFindings,
} from './producer.ts';

export interface NodeCisFacts {
  node: string;
  results: readonly CisResult[];
}

export interface CisFacts {
  checks: readonly CisCheck[];
  nodes: readonly NodeCisFacts[];
}

/** Versions of the benchmarks the checks follow. */
export const CIS_VERSIONS: Record<CisCheck['benchmark'], string> = {
  'CIS Kubernetes Benchmark': '1.9.0',
  'CIS Distribution Independent Linux Benchmark': '2.0.0',
};

function severityOf(c: CisCheck): Severity {
  // Scored level-1 controls are the benchmark's baseline; the rest are advice.
  if (!c.scored) return 'LOW';
  return c.level === 'LEVEL_1' ? 'MEDIUM' : 'LOW';
}

export const cisBenchmark: FindingProducer<CisFacts> = {
  rulesPackage: 'cis',
  findingType: 'CIS_BENCHMARK',
  produce({ checks, nodes }): ProducedFindings {
    const byId = new Map(checks.map((c) => [c.id, c]));
    const notEvaluated: ProducedFindings['notEvaluated'] = [];
    const findings = nodes.flatMap((n) =>
      n.results.flatMap((r) => {
        const c = byId.get(r.id);
        if (c === undefined) {
          notEvaluated.push({ id: n.node, reason: `unknown CIS check ${r.id}` });
          return [];
        }
        if (r.status === 'ERROR') {
          notEvaluated.push({
            id: n.node,
            reason: `CIS ${c.id} could not be evaluated: ${r.found}`,
          });
          return [];
        }
        if (r.status !== 'FAILED') return [];
        const prefix = c.benchmark === 'CIS Kubernetes Benchmark' ? 'CIS-K8S' : 'CIS-LINUX';
        return [
          buildRuleFinding(
            cisBenchmark,
            { resourceType: 'NODE', id: n.node, kind: 'Node', name: n.node },
            {
              ruleId: `${prefix}-${c.id}`,
              identity: '',
              title: `${c.id} ${c.title} - node ${n.node}`,
              description: `${c.benchmark} ${CIS_VERSIONS[c.benchmark]}, control ${c.id} (${c.scored ? 'Automated, scored' : 'Manual, not scored'}): ${c.title}.`,
              severity: severityOf(c),
              recommendation: { text: c.remediation },
              details: {
                benchmark: c.benchmark,
                benchmarkVersion: CIS_VERSIONS[c.benchmark],
                level: c.level,
                scored: c.scored,
                found: r.found,
              },
            },
          ),
        ];
      }),
    );
    return { findings: sortFindings(findings), notEvaluated };
  },
};
