// How the app says when something happened.
import type { Telemetry } from './live';

export function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

/** When the device was last heard from: its newest value, or when it went offline. */
export function lastSeen(t: Telemetry | undefined, offlineAt: number | undefined): number | undefined {
  const newest = Math.max(0, ...Object.values(t?.values ?? {}).map((v) => v.at));
  const seen = Math.max(newest, offlineAt ?? 0);
  return seen > 0 ? seen : undefined;
}
