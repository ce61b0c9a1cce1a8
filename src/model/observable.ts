export const OBSERVABLE_TYPES = ['ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'user', 'host', 'email', 'mac'] as const;
export type ObservableType = (typeof OBSERVABLE_TYPES)[number];

/** Whether a value (a stored column, a detector's field, a CLI prefix) names one of the observable types. */
export function isObservableType(type: unknown): type is ObservableType {
  return (OBSERVABLE_TYPES as readonly unknown[]).includes(type);
}

/** Where the indicator sits in the alert: src, dst, host, user, file, process, url, email, … */
export type ObservableRole = string;

export interface Observable {
  type: ObservableType;
  /** Normalised: canonical IPs, lower-case domains and hashes, refanged URLs. */
  value: string;
  role: ObservableRole;
}

export function observableKey(o: Pick<Observable, 'type' | 'value'>): string {
  return `${o.type}:${o.value}`;
}
