/** Image platforms: parsing `os/arch[/variant]` and matching an index entry to the one wanted. */

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Parses `os/arch[/variant]`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new Error(`invalid platform "${text}": expected os/arch[/variant]`);
  }
  const p: Platform = { os: parts[0]!, architecture: parts[1]! };
  if (parts[2] !== undefined) p.variant = parts[2];
  return p;
}

export function formatPlatform(p: Platform): string {
  return p.variant === undefined
    ? `${p.os}/${p.architecture}`
    : `${p.os}/${p.architecture}/${p.variant}`;
}

function defaultVariant(arch: string): string | undefined {
  if (arch === 'arm64') return 'v8';
  if (arch === 'arm') return 'v7';
  return undefined;
}

/** Whether `have` serves `want`; an absent variant is the architecture's default one. */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (have === undefined) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  const wantVariant = want.variant ?? defaultVariant(want.architecture);
  const haveVariant = have.variant ?? defaultVariant(have.architecture);
  return wantVariant === haveVariant;
}
