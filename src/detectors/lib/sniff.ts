/**
 * Sniffing for products that send both JSON events and text lines (syslog CEF/LEEF, notifications): a JSON
 * object is judged by its fields, any other JSON value is not theirs, and text by its first 4 KiB.
 */
import type { RawRecord } from '../detector.js';
import { isObject, type JsonObject } from './values.js';

/** How much of a text record sniffing looks at. */
export const SNIFF_HEAD = 4096;

export function sniffJsonOrText(record: RawRecord, json: (o: JsonObject) => number, text: (head: string) => number): number {
  const j = record.json;
  if (isObject(j)) return json(j);
  if (j !== undefined) return 0;
  return text(record.text.slice(0, SNIFF_HEAD));
}
