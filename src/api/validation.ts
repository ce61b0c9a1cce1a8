/**
 * Turns what the JSON Schema validator found into one bad_request that names the part of the request at fault
 * and, where there is a choice, what would have been accepted: the known parameters for an unknown one, the
 * allowed values for an enumeration. Needs the validators built with `verbose` (for the schema beside each
 * error).
 */
import type { ErrorObject } from 'ajv';
import { FidoError } from '../errors.js';

export function validationError(errors: readonly ErrorObject[], part: string): FidoError {
  const first = errors[0];
  if (!first) return new FidoError('bad_request', `${part} is not valid`);
  const at = `${part}${first.instancePath}`;
  if (first.keyword === 'additionalProperties') {
    const name = String((first.params as { additionalProperty?: unknown }).additionalProperty);
    const known = Object.keys((first.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const what = part === 'querystring' ? 'parameter' : 'property';
    return new FidoError('bad_request', `${at}: unknown ${what} "${name.slice(0, 64)}"; ${known.length ? `accepted: ${known.join(', ')}` : `none is accepted`}`, {
      allowed: known,
    });
  }
  const allowed = allowedValues(errors, first.instancePath);
  if (allowed) return new FidoError('bad_request', `${at} must be one of: ${allowed.join(', ')}`, { allowed });
  return new FidoError('bad_request', `${at} ${first.message ?? 'is not valid'}`);
}

/** The values an enumeration (an enum, or a union of constants as TypeBox writes literals) allows at `path`. */
function allowedValues(errors: readonly ErrorObject[], path: string): string[] | undefined {
  const here = errors.filter((e) => e.instancePath === path);
  const en = here.find((e) => e.keyword === 'enum');
  if (en) return ((en.params as { allowedValues?: unknown[] }).allowedValues ?? []).map(String);
  const consts = here.filter((e) => e.keyword === 'const').map((e) => String((e.params as { allowedValue?: unknown }).allowedValue));
  return consts.length > 0 && here.some((e) => e.keyword === 'anyOf') ? consts : undefined;
}
