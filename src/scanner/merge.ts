/**
 * Layers applied in order, as an overlay filesystem would: each layer's whiteouts and opaque
 * directories remove what lower layers put there, then its own files land on top. A package
 * is attributed to the lowest layer from which its database kept listing it unchanged.
 */
import { operatingSystem, OS_RELEASE_PATHS } from './analyzers/os-release.ts';
import type { FileResult, LayerAnalysis } from './layer.ts';
import { packageUrl } from './purl.ts';
import type { CodeScanResult, OperatingSystem, Package, RawPackage } from './types.ts';

export interface MergeInput {
  /** Layer digest; omitted for a root filesystem. */
  digest?: string;
  analysis: Pick<LayerAnalysis, 'files' | 'removed' | 'opaqueDirs'>;
}

const OS_TYPES: ReadonlySet<string> = new Set(['deb', 'apk', 'rpm']);

function key(p: RawPackage): string {
  return `${p.type}\0${p.namespace ?? ''}\0${p.name}\0${p.version}\0${p.arch ?? ''}`;
}

function under(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

export function mergeLayers(layers: readonly MergeInput[]): {
  os?: OperatingSystem;
  packages: Package[];
} {
  /** path → analyzer → file result, with the layer index. */
  const view = new Map<string, { layer: number; file: FileResult }[]>();
  /** path → per-layer package key sets of the unbroken run of versions of that file. */
  const history = new Map<string, { layer: number; keys: Set<string> }[]>();

  layers.forEach((layer, index) => {
    const added = new Set(layer.analysis.files.map((f) => f.path));
    const drop = (path: string): void => {
      view.delete(path);
      if (!added.has(path)) history.delete(path);
    };
    for (const dir of layer.analysis.opaqueDirs) {
      for (const path of [...view.keys()]) if (path !== dir && under(path, dir)) drop(path);
      for (const path of [...history.keys()])
        if (path !== dir && under(path, dir) && !added.has(path)) history.delete(path);
    }
    for (const removed of layer.analysis.removed) {
      for (const path of [...view.keys()]) if (under(path, removed)) drop(path);
      for (const path of [...history.keys()])
        if (under(path, removed) && !added.has(path)) history.delete(path);
    }
    for (const file of layer.analysis.files) {
      const list = view.get(file.path) ?? [];
      view.set(file.path, [...list.filter((e) => e.layer === index), { layer: index, file }]);
      if (file.packages !== undefined) {
        const h = history.get(file.path) ?? [];
        h.push({ layer: index, keys: new Set(file.packages.map(key)) });
        history.set(file.path, h);
      }
    }
  });

  let os: OperatingSystem | undefined;
  for (const path of OS_RELEASE_PATHS) {
    const rel = view.get(path)?.find((e) => e.file.osRelease !== undefined)?.file.osRelease;
    if (rel !== undefined) {
      os = operatingSystem(rel);
      if (os !== undefined) break;
    }
  }

  const packages: Package[] = [];
  // OS package databases first, then language packages, each by path.
  const rank = (path: string): number =>
    view.get(path)!.some((e) => e.file.packages?.some((p) => OS_TYPES.has(p.type))) ? 0 : 1;
  const paths = [...view.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const path of paths) {
    for (const { layer, file } of view.get(path)!) {
      for (const raw of file.packages ?? []) {
        const k = key(raw);
        const h = history.get(path) ?? [];
        let origin = layer;
        for (let i = h.length - 1; i >= 0; i--) {
          const entry = h[i]!;
          if (entry.layer > layer) continue;
          if (!entry.keys.has(k)) break;
          origin = entry.layer;
        }
        const pkg: Package = { ...raw, purl: packageUrl(raw, os), filePath: path };
        const digest = layers[origin]?.digest;
        if (digest !== undefined) pkg.layerDigest = digest;
        packages.push(pkg);
      }
    }
  }
  const result: { os?: OperatingSystem; packages: Package[] } = { packages };
  if (os !== undefined) result.os = os;
  return result;
}

/**
 * Code matches of all layers, not overlaid: a file deleted or replaced by a later layer is
 * still in the image for anyone who pulls it. The same match (rule, path, position and, for
 * secrets, fingerprint) in several layers is reported once, for the lowest layer.
 */
export function mergeCode(
  layers: readonly { digest?: string; analysis: Pick<LayerAnalysis, 'files' | 'code'> }[],
): CodeScanResult | undefined {
  if (!layers.some((l) => l.analysis.code !== undefined)) return undefined;
  const out: CodeScanResult = {
    findings: [],
    files: 0,
    bytes: 0,
    skippedBinary: 0,
    skippedSize: 0,
  };
  const seen = new Set<string>();
  for (const { digest, analysis } of layers) {
    if (analysis.code !== undefined) {
      out.files += analysis.code.files;
      out.bytes += analysis.code.bytes;
      out.skippedBinary += analysis.code.skippedBinary;
      out.skippedSize += analysis.code.skippedSize;
    }
    for (const file of analysis.files) {
      for (const m of file.code ?? []) {
        const k = `${m.ruleId}\0${file.path}\0${m.fingerprint ?? `${m.line}:${m.column}`}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.findings.push({
          ...m,
          path: file.path,
          ...(digest === undefined ? {} : { layerDigest: digest }),
        });
      }
    }
  }
  return out;
}
