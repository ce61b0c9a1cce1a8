/**
 * The dedup fingerprint: what makes two alerts "the same thing happening again" (a scanner hitting the
 * same rule from the same address, an EDR re-reporting one file on one host). Repeats within the dedup
 * window raise a count instead of making new work.
 */
import { createHash } from 'node:crypto';
import type { AlertDraft } from '../model/alert.js';

export function alertFingerprint(source: string, detector: string, a: AlertDraft): string {
  const parts = [
    source,
    detector,
    a.rule?.id ?? a.title,
    a.src?.ip ?? '',
    a.dst?.ip ?? '',
    a.dst?.port ?? '',
    (a.host?.name ?? a.host?.id ?? '').toLowerCase(),
    (a.user?.name ?? '').toLowerCase(),
    a.file?.sha256 ?? a.file?.sha1 ?? a.file?.md5 ?? '',
    a.url ?? a.domain ?? '',
    a.action ?? '',
  ];
  return createHash('sha256').update(parts.join('\u0001')).digest('base64url').slice(0, 27);
}
